"""`mlrails simulate`: weeks of production in a minute, on the deployed wiring.

The local runtime runs the same functions, routes and schedules as AWS under a virtual
clock. The simulation plays the world around them, day after day: customers scored through
``POST /invocations``, their outcomes fed back through ``POST /feedback`` once the label
delay has passed, and the labelled rows exported to ``raw/`` each night (training data; with
``training.feedback_rows`` the kit learns from the fed-back outcomes instead). The
world changes twice: the population drifts gradually, then who churns changes suddenly
(invisible in the inputs: only the labels tell). Everything else — drift checks, performance
checks, retrain decisions, training runs, the gate — is the kit reacting, not the script.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TextIO

import pandas as pd

from mlrails.adapters import s3
from mlrails.config import ProjectConfig
from mlrails.local.router import Invocation
from mlrails.local.runtime import LocalRuntime
from mlrails.local.scenario import Day, Scenario
from mlrails.local.synthetic import churn_frame
from mlrails.models import PLACEHOLDER

EXAMPLE_MODEL = "mlrails.models:gradient_boosting"
START = datetime(2026, 1, 5, tzinfo=UTC)  # fixed: the same run prints the same timeline


@dataclass
class Pending:
    """A scored row waiting for its outcome to be known."""

    prediction_id: str
    label: Any
    due: datetime


class Recorder:
    """Collects the handler runs of the current day as they happen."""

    def __init__(self) -> None:
        self.invocations: list[Invocation] = []
        self.failures: list[Invocation] = []

    def __call__(self, invocation: Invocation) -> None:
        self.invocations.append(invocation)
        if invocation.error:
            self.failures.append(invocation)

    def take(self) -> list[Invocation]:
        taken, self.invocations = self.invocations, []
        return taken


def simulation_config(
    cfg: ProjectConfig, model: str | None, feedback_rows: bool = False
) -> tuple[ProjectConfig, str | None]:
    """The config to simulate and, when it differs from the file, why. The placeholder
    predicts one class whatever happens: it has no business metric to lose. ``feedback_rows``
    turns on ``training.feedback_rows``: the kit then learns from the labels fed back through
    the API instead of the nightly export (:func:`run_simulation` leaves the export out)."""
    notes = []
    entrypoint = model or (EXAMPLE_MODEL if cfg.model.entrypoint == PLACEHOLDER else None)
    if entrypoint is not None and entrypoint != cfg.model.entrypoint:
        notes.append(
            f"model {entrypoint} (the config names the placeholder, which has nothing to lose; --model chooses)"
            if model is None
            else f"model {entrypoint} (--model)"
        )
        cfg = cfg.model_copy(update={"model": cfg.model.model_copy(update={"entrypoint": entrypoint})})
    if feedback_rows and not cfg.training.feedback_rows:
        notes.append(
            "training.feedback_rows on: new training rows come from the labels fed back through the API, "
            "not from a nightly export (--training-data feedback)"
        )
        cfg = cfg.model_copy(update={"training": cfg.training.model_copy(update={"feedback_rows": True})})
    return cfg, "\n  ".join(notes) or None


def run_simulation(
    cfg: ProjectConfig, project_dir: Path, out: TextIO, scenario: Scenario, *, report_path: Path
) -> tuple[list[Day], list[Invocation]]:
    """Play the scenario; print a line per day; return the days and any failed handler run."""
    from mlrails.local.simulation_report import write_report  # only once there is something to show

    recorder, days, pending = Recorder(), [], []
    label_delay = timedelta(hours=cfg.monitoring.label_delay_hours)
    with LocalRuntime(
        cfg, project_dir, start=START, on_invocation=recorder, state_dir=project_dir / ".mlrails-simulation"
    ) as runtime:
        history = churn_frame(
            scenario.history_rows, START - timedelta(days=7), seed=scenario.seed, span=timedelta(days=7)
        )
        runtime.upload_raw("history/customers.csv", history.to_csv(index=False).encode())
        _record_initial(recorder.take(), out)
        step = timedelta(days=1) / scenario.requests_per_day
        for day in range(scenario.days):
            record = Day(day, runtime.now, scenario.drift(day), scenario.concept(day))
            scored: list[tuple[Any, int]] = []
            exported: list[pd.DataFrame] = []
            feed_back(runtime, pending)  # the CRM's nightly export of outcomes now known
            for i in range(scenario.requests_per_day):
                rows = churn_frame(
                    scenario.rows_per_request,
                    runtime.now,
                    seed=scenario.seed * 100_000 + day * 100 + i,
                    drift=record.drift,
                    concept=record.concept,
                )
                # Probabilities, as the retention team ranks customers by them (and the
                # performance check can then judge the ranking: roc_auc).
                status, answer = runtime.request(
                    "POST",
                    "/invocations",
                    json.dumps(
                        {
                            "dataframe_split": rows.drop(columns=["event_time", cfg.dataset.target]).to_dict(
                                orient="split", index=False
                            ),
                            "params": {"probabilities": True},
                        }
                    ).encode(),
                )
                if status == 200:
                    labels = rows[cfg.dataset.target].tolist()
                    scored += list(zip(answer["predictions"], labels))
                    pending += [
                        Pending(pid, label, runtime.now + label_delay)
                        for pid, label in zip(answer["prediction_ids"], labels)
                    ]
                    exported.append(rows)
                runtime.advance(step)  # the day's schedules fire on the way
            # The nightly export: yesterday's customers with their outcomes, as training data;
            # unless the kit learns from the outcomes fed back to it (they would count twice).
            if exported and not cfg.training.feedback_rows:
                runtime.upload_raw(f"daily/day-{day:02d}.csv", pd.concat(exported).to_csv(index=False).encode())
            record.served_accuracy = sum(p == y for p, y in scored) / len(scored) if scored else None
            status, version = runtime.request("GET", "/version")
            record.champion = version.get("model_version") if status == 200 else None
            read_day(record, recorder.take())
            days.append(record)
            print(day_line(record, scenario.days), file=out, flush=True)
        write_report(report_path, cfg, scenario, days)
    return days, recorder.failures


def feed_back(runtime: LocalRuntime, pending: list[Pending], *, strict: bool = True) -> int:
    """Post the outcomes that are known by now, in one batch, as a CRM export would: through
    the feedback API, with its own key (the runtime's default for the route). Returns how many
    items were refused (a 422 per item: the others are stored). ``strict``: any refusal is a
    failure (the synthetic world serves only ids it was given and labels that are classes);
    replayed data may hold a label the champion has no class for."""
    due = [p for p in pending if p.due <= runtime.now]
    if not due:
        return 0
    items = [{"prediction_id": p.prediction_id, "label": p.label} for p in due]
    status, answer = runtime.request("POST", "/feedback", json.dumps({"items": items}).encode())
    refused = len(answer.get("details", {}).get("refused", [])) if status == 422 else 0
    if status != 200 and (strict or status != 422):
        raise RuntimeError(f"feedback refused: {status} {answer}")
    pending[:] = [p for p in pending if p.due > runtime.now]
    return refused


def _record_initial(invocations: list[Invocation], out: TextIO) -> None:
    trained = [i for i in invocations if i.function == "train" and i.event.get("step") == "finish" and i.result]
    version = trained[-1].event["state"]["train"]["version"] if trained else None
    print(f"Day 0 starts with a week of history uploaded; the first model: v{version}\n", file=out, flush=True)


def read_day(record: Day, invocations: list[Invocation]) -> None:
    """Fill a day's record from its handler runs (the kit's own reports and events)."""
    finished: dict[str, dict] = {}
    reasons: dict[str, str] = defaultdict(str)
    for invocation in invocations:
        r = invocation.result or {}
        if invocation.error:
            record.events.append(f"{invocation.function} FAILED")
        elif invocation.function == "drift_check" and r.get("report_uri"):
            report = s3.get_json(r["report_uri"])
            record.drift_status = r["status"]
            if r["status"] != "insufficient_data":
                record.drifted_share = report["drifted_share"]
                record.drift_scores = {
                    n: f["score"] for n, f in report["features"].items() if f.get("score") is not None
                }
            if r.get("drift_detected"):
                record.events.append("DriftDetected")
        elif invocation.function == "performance_check":
            if r.get("status") not in (None, "no_model"):
                record.quality_status, record.quality = r["status"], r.get("value")
            if r.get("performance_degraded"):
                record.events.append("PerformanceDegraded")
            added = sum(e["added"] for e in r.get("feedback_rows", []))  # training.feedback_rows
            if added:
                record.events.append(f"{added} training rows from feedback")
        elif invocation.function == "retrain_trigger" and r.get("retrain"):
            record.events.append(f"retrain ({r['trigger']})")
        elif invocation.function == "train" and invocation.event.get("step") == "evaluate":
            reasons[invocation.event["state"]["train"]["version"]] = r.get("reason", "")
        elif invocation.function == "train" and invocation.event.get("step") == "finish":
            finished[invocation.event["state"]["train"]["version"]] = r
    for version, r in finished.items():
        verdict = "promoted" if r.get("promoted") else "rejected"
        record.events.append(f"v{version} {verdict}: {reasons[version]}")


def _short(event: str, length: int = 90) -> str:
    return event if len(event) <= length else event[: length - 3] + "..."


@dataclass(frozen=True)
class Outcome:
    """What the run showed, against what was injected."""

    first_drift_day: int | None  # the first day DriftDetected was emitted
    first_retrain_after_drift: int | None
    decisions: list[str]  # the gate's decisions after the drift started, in order
    accuracy_before_shift: float | None  # the week before who-churns changed
    worst_accuracy_after_shift: float | None
    accuracy_at_end: float | None  # the last week

    @property
    def recovered(self) -> bool:
        if None in (self.accuracy_before_shift, self.worst_accuracy_after_shift, self.accuracy_at_end):
            return False
        # Most of the way back from the worst to where it was before the shift.
        lost = self.accuracy_before_shift - self.worst_accuracy_after_shift
        return lost > 0 and self.accuracy_at_end >= self.accuracy_before_shift - lost / 3


def outcome(days: list[Day], scenario: Scenario) -> Outcome:
    """Read the run: when drift was caught, what the gate did, whether the business recovered."""
    drift_days = [d.day for d in days if "DriftDetected" in d.events]
    first_drift = drift_days[0] if drift_days else None
    after = [d for d in days if d.day >= scenario.drift_start]
    retrains = [d.day for d in after if any(e.startswith("retrain") for e in d.events)]

    def mean(values: list[float | None]) -> float | None:
        known = [v for v in values if v is not None]
        return sum(known) / len(known) if known else None

    before = mean([d.served_accuracy for d in days if scenario.shift_day - 7 <= d.day < scenario.shift_day])
    # Daily accuracy is noisy at 300 rows: judge by 3-day averages.
    shifted = [d.served_accuracy for d in days if d.day >= scenario.shift_day]
    rolling = [mean(shifted[i : i + 3]) for i in range(max(len(shifted) - 2, 0))]
    return Outcome(
        first_drift_day=first_drift,
        first_retrain_after_drift=next(
            (day for day in retrains if first_drift is not None and day >= first_drift), None
        ),
        decisions=[e for d in after for e in d.events if " promoted: " in e or " rejected: " in e],
        accuracy_before_shift=before,
        worst_accuracy_after_shift=min((r for r in rolling if r is not None), default=None),
        accuracy_at_end=mean([d.served_accuracy for d in days[-7:]]) if days[-1].day >= scenario.shift_day else None,
    )


def describe_outcome(result: Outcome, scenario: Scenario) -> list[str]:
    """The run in four lines, for people."""

    def fmt(value: float | None) -> str:
        return "-" if value is None else f"{value:.2f}"

    promoted = sum(" promoted: " in d for d in result.decisions)
    return [
        f"drift injected from day {scenario.drift_start}: "
        + (f"detected on day {result.first_drift_day}" if result.first_drift_day is not None else "never detected"),
        "first retrain after it: "
        + (f"day {result.first_retrain_after_drift}" if result.first_retrain_after_drift is not None else "none"),
        f"the gate after the drift started: {promoted} promoted, {len(result.decisions) - promoted} rejected",
        f"who churns changed on day {scenario.shift_day}: accuracy {fmt(result.accuracy_before_shift)} the week "
        f"before, {fmt(result.worst_accuracy_after_shift)} at worst (3-day mean), {fmt(result.accuracy_at_end)} "
        f"the last week — {'recovered' if result.recovered else 'not recovered'}",
    ]


def day_line(record: Day, total: int) -> str:
    """``[███░░░] day 23 Tue 27 Jan │ drift … │ quality … │ champion … │ events``"""
    width = 20
    done = round(width * (record.day + 1) / total)
    bar = "█" * done + "░" * (width - done)
    if record.drift_status is None:
        drift = "drift -"
    elif record.drifted_share is None:
        drift = "drift n/a (few rows)"
    else:
        drift = f"drift {record.drifted_share:4.0%}{' ▲' if record.drift_status == 'drift' else '  '}"
    quality = "quality -" if record.quality is None else f"quality {record.quality:.3f}"
    if record.quality_status == "degraded":
        quality += " ▼"
    served = "-" if record.served_accuracy is None else f"{record.served_accuracy:.2f}"
    events = "; ".join(_short(e) for e in record.events)
    return (
        f"[{bar}] day {record.day:2d} {record.date:%a %d %b} │ {drift:<12} │ {quality:<15} │ "
        f"served acc {served} │ champion v{record.champion or '-'}" + (f" │ {events}" if events else "")
    )
