"""An environment's cost as text (the command's table) and as one JSON document."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlrails.cost.assembly import stage_stacks
from mlrails.cost.idle import IdleCost, idle_cost
from mlrails.cost.prices import PRICES, REGION, TAKEN
from mlrails.cost.usage import Estimate, million_predictions, training_run


@dataclass(frozen=True)
class CostReport:
    """One environment: its idle month, one training run, a million predictions."""

    environment: str
    idle: IdleCost
    training_run: Estimate | None
    million_predictions: Estimate | None

    def to_json(self) -> dict[str, Any]:
        return {
            "environment": self.environment,
            "prices": {"region": REGION, "taken": TAKEN.isoformat()},
            "idle_usd_month": round(self.idle.monthly_usd, 2),
            "idle_items": [
                {
                    "stack": item.stack,
                    "logical_id": item.logical_id,
                    "type": item.resource_type,
                    "quantity": round(item.quantity, 4),
                    "unit": PRICES[item.price].unit,
                    "unit_usd": item.unit_usd,
                    "usd_month": round(item.monthly_usd, 2),
                    "note": item.note,
                }
                for item in self.idle.items
            ],
            "free": {kind: {"count": count, "why": why} for kind, (count, why) in self.idle.free.items()},
            "not_priced": [{"stack": s, "logical_id": i, "type": t} for s, i, t in self.idle.not_priced],
            "training_run_usd": _rounded(self.training_run),
            "million_predictions_usd": _rounded(self.million_predictions),
            "assumptions": {
                "training_run": self.training_run.assumptions if self.training_run else {},
                "million_predictions": self.million_predictions.assumptions if self.million_predictions else {},
            },
        }

    def to_text(self) -> str:
        lines = [
            f"{self.environment}: idle ${self.idle.monthly_usd:,.2f}/month "
            f"({REGION} list prices of {TAKEN.isoformat()}, 730 h, no free tier, stored data left out)",
            "",
            f"  {'resource':<48} {'quantity':>12}  {'unit':<34} {'$/unit':>12} {'$/month':>9}",
        ]
        for item in sorted(self.idle.items, key=lambda item: -item.monthly_usd):
            unit = PRICES[item.price].unit.split(" (")[0]
            lines.append(
                f"  {item.stack + ' ' + item.logical_id:<48.48} {item.quantity:>12,.2f}  {unit:<34.34} "
                f"{_plain(item.unit_usd):>12} {item.monthly_usd:>9.2f}" + (f"  {item.note}" if item.note else "")
            )
        lines.append(f"  {'total':<48} {'':>12}  {'':<34} {'':>12} {self.idle.monthly_usd:>9.2f}")
        if self.idle.not_priced:
            lines.extend(["", "  not priced (billed, but not by this table):"])
            lines.extend(f"    {stack} {logical_id} ({kind})" for stack, logical_id, kind in self.idle.not_priced)
        lines.extend(["", "  free at rest:"])
        lines.extend(f"    {kind} ×{count}: {why}" for kind, (count, why) in self.idle.free.items())
        for title, estimate in (
            ("one training run", self.training_run),
            ("a million predictions", self.million_predictions),
        ):
            lines.append("")
            if estimate is None:
                lines.append(f"  {title}: not found in the templates")
                continue
            lines.append(f"  {title}: ${estimate.usd:,.4f}")
            lines.extend(
                f"    {charge.what:<56} ${charge.usd:>9.4f}" + (f"  {charge.note}" if charge.note else "")
                for charge in estimate.charges
            )
            if estimate.assumptions:
                lines.append("    assumed: " + "; ".join(f"{k} {v}" for k, v in estimate.assumptions.items()))
        return "\n".join(lines)


def _plain(usd: float) -> str:
    """A unit price without an exponent (0.0000015046, not 1.5046e-06)."""
    return f"{usd:.10f}".rstrip("0").rstrip(".")


def _rounded(estimate: Estimate | None) -> float | None:
    return round(estimate.usd, 4) if estimate else None


def environment_cost(
    cdk_out: Path,
    environment: str,
    *,
    sample_rate: float,
    step_seconds: dict[str, float] | None = None,
    request_ms: float | None = None,
) -> CostReport:
    """``environment``'s report from the templates in ``cdk_out``, its captures sampled at
    ``sample_rate`` (the config's ``capture.sample_rate``)."""
    stacks = stage_stacks(cdk_out, environment)
    options = {} if request_ms is None else {"request_ms": request_ms}
    return CostReport(
        environment,
        idle_cost(stacks),
        training_run(stacks, step_seconds),
        million_predictions(stacks, sample_rate=sample_rate, **options),
    )
