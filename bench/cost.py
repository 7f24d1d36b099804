"""Cost: every environment of the example config, priced from the synthesized templates
(`make synth` first; `mlrails cost --env ENV` prints one with its line items).

Prints per environment the idle month and its largest line items, one training run and a
million predictions, then the stacks shared by every environment (the release pipeline), then
one JSON line. Usage: ``python bench/cost.py [--cdk-out DIR]``.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from mlrails.config import load_config
from mlrails.cost.assembly import shared_stacks
from mlrails.cost.idle import idle_cost
from mlrails.cost.prices import PRICES, TAKEN
from mlrails.cost.report import environment_cost

REPO = Path(__file__).resolve().parents[1]
TOP_ITEMS = 5


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--cdk-out", default=str(REPO / "cdk.out"))
    cdk_out = Path(parser.parse_args().cdk_out)
    cfg = load_config(REPO / "mlrails.yaml")
    figures: dict[str, dict[str, float | None]] = {
        "idle_usd_month": {},
        "training_run_usd": {},
        "million_predictions_usd": {},
    }
    for environment in cfg.environments:
        report = environment_cost(cdk_out, environment, sample_rate=cfg.capture.sample_rate)
        document = report.to_json()
        print(
            f"{environment}: idle ${document['idle_usd_month']:.2f}/month, one training run "
            f"${document['training_run_usd']}, a million predictions ${document['million_predictions_usd']}"
        )
        by_price: dict[str, tuple[int, float]] = {}
        for item in report.idle.items:
            count, usd = by_price.get(item.price, (0, 0.0))
            by_price[item.price] = (count + 1, usd + item.monthly_usd)
        for price, (count, usd) in sorted(by_price.items(), key=lambda entry: -entry[1][1])[:TOP_ITEMS]:
            print(f"  {usd:>7.2f}  {PRICES[price].service}, {PRICES[price].unit.split(' (')[0]} ({count} resources)")
        if document["not_priced"]:
            print(f"  not priced: {', '.join(entry['type'] for entry in document['not_priced'])}")
        figures["idle_usd_month"][environment] = document["idle_usd_month"]
        figures["training_run_usd"][environment] = document["training_run_usd"]
        figures["million_predictions_usd"][environment] = document["million_predictions_usd"]
    shared = idle_cost(shared_stacks(cdk_out))
    print(f"shared (the release pipeline's stacks): ${shared.monthly_usd:.2f}/month")
    print(
        json.dumps(
            {**figures, "shared_idle_usd_month": round(shared.monthly_usd, 2), "prices_taken": TAKEN.isoformat()}
        )
    )


if __name__ == "__main__":
    main()
