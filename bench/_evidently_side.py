"""Evidently's side of bench/drift.py, run by that script in .bench/evidently-venv.

Loads the reference and the current window from Parquet, then measures (bench/_measure.py)
``Report([DataDriftPreset()], include_tests=True)`` on the given columns with Evidently's
defaults, from building its datasets to the snapshot's dictionary. Each column's verdict is
Evidently's own: the status of its "Value Drift for column …" test. Prints ONE JSON line.
"""

from __future__ import annotations

import argparse
import json

import pandas as pd
from _measure import measured
from evidently import DataDefinition, Dataset, Report
from evidently.presets import DataDriftPreset


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--reference", required=True)
    parser.add_argument("--current", required=True)
    parser.add_argument("--numeric", required=True, help="comma-separated column names")
    parser.add_argument("--categorical", required=True, help="comma-separated column names")
    args = parser.parse_args()
    numeric, categorical = args.numeric.split(","), args.categorical.split(",")
    reference = pd.read_parquet(args.reference, columns=numeric + categorical)
    current = pd.read_parquet(args.current, columns=numeric + categorical)
    definition = DataDefinition(numerical_columns=numeric, categorical_columns=categorical)

    def run() -> dict:
        snapshot = Report([DataDriftPreset()], include_tests=True).run(
            Dataset.from_pandas(current, data_definition=definition),
            Dataset.from_pandas(reference, data_definition=definition),
        )
        return snapshot.dict()

    snapshot, figures = measured(run)
    verdicts = {
        test["metric_config"]["params"]["column"]: test["status"] == "FAIL"
        for test in snapshot["tests"]
        if test["metric_config"]["params"]["type"].endswith("ValueDrift")
    }
    scores = {
        metric["config"]["column"]: round(metric["value"], 4)
        for metric in snapshot["metrics"]
        if metric["config"]["type"].endswith("ValueDrift")
    }
    print(
        json.dumps(
            {
                **figures,
                "drifted": sorted(c for c, drifted in verdicts.items() if drifted),
                "columns": len(verdicts),
                "scores": scores,
            }
        )
    )


if __name__ == "__main__":
    main()
