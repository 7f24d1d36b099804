"""A synthetic churn dataset matching the example config, with injectable drift.

Numeric features (tenure, charges, support calls), categorical ones (plan, region), a binary
target that depends on them, and a timestamp. ``drift`` in [0, 1] moves the population
toward short-tenure, high-contact, basic-plan customers — the shift a drift check should see.
``concept`` in [0, 1] changes who churns instead (a competitor's offer lures long-standing
premium customers in the south): the inputs look the same, only the labels tell — the shift
only a performance check can see, and only retraining on fresh labels repairs.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd

from mlrails.config import Dataset

PLANS = ("basic", "standard", "premium")
REGIONS = ("north", "south", "east", "west")


def churn_frame(
    rows: int,
    start: datetime,
    *,
    seed: int,
    drift: float = 0.0,
    concept: float = 0.0,
    span: timedelta = timedelta(days=1),
    with_target: bool = True,
) -> pd.DataFrame:
    """``rows`` customers observed uniformly in [start, start + span)."""
    if not (0.0 <= drift <= 1.0 and 0.0 <= concept <= 1.0):
        raise ValueError("drift and concept must be within [0, 1]")
    rng = np.random.default_rng(seed)
    plan_mix = np.array([0.3, 0.45, 0.25]) * (1 - drift) + np.array([0.8, 0.15, 0.05]) * drift
    plan = rng.choice(PLANS, size=rows, p=plan_mix)
    tenure = np.round(rng.gamma(2.0, 12.0 * (1 - 0.7 * drift), size=rows), 1)
    base_charge = np.select([plan == "basic", plan == "standard"], [30.0, 60.0], 95.0)
    charges = np.round(np.maximum(base_charge + rng.normal(0, 8 + 10 * drift, size=rows), 5.0), 2)
    calls = rng.poisson(1.0 + 2.5 * drift, size=rows)
    offsets = np.sort(rng.uniform(0, span.total_seconds(), size=rows))
    frame = pd.DataFrame(
        {
            "event_time": [(start + timedelta(seconds=float(s))).isoformat() for s in offsets],
            "tenure_months": tenure,
            "monthly_charges": charges,
            "support_calls": calls,
            "plan": plan,
            "region": rng.choice(REGIONS, size=rows),
        }
    )
    if with_target:
        logit = -1.0 - 0.06 * tenure + 0.02 * (charges - 60) + 0.6 * calls + np.where(plan == "basic", 0.5, 0.0)
        lured = (
            -1.5
            + 0.05 * tenure
            + np.where(plan == "premium", 1.5, 0.0)
            + np.where(frame["region"] == "south", 1.5, -0.5)
        )
        logit = (1 - concept) * logit + concept * lured
        frame["churned"] = (rng.uniform(size=rows) < 1 / (1 + np.exp(-logit))).astype(int)
    return frame


def missing_for_churn(dataset: Dataset) -> list[str]:
    """The columns ``dataset`` names that the synthetic churn world does not make (none: the
    demo and the synthetic simulation can play it)."""
    made = set(churn_frame(1, datetime(2026, 1, 1, tzinfo=UTC), seed=0).columns)
    return [c for c in (dataset.time_column, dataset.target, *dataset.feature_names) if c not in made]


def leaky_churn_frame(
    rows: int, start: datetime, *, seed: int, span: timedelta = timedelta(days=1), missing: float = 0.12
) -> pd.DataFrame:
    """:func:`churn_frame` as a careless export would give it: a leak and holes.

    ``support_calls`` is counted up to the export date, so it includes the calls churned
    customers made to cancel — known only after the outcome, and alone it gives the label
    away. ``monthly_charges`` and ``tenure_months`` lose a share of their values (``missing``
    and two thirds of it) though the schema says they are never empty."""
    frame = churn_frame(rows, start, seed=seed, span=span)
    rng = np.random.default_rng(seed + 1)
    frame["support_calls"] = frame["support_calls"] + frame["churned"] * (4 + rng.poisson(1.0, size=rows))
    frame["monthly_charges"] = frame["monthly_charges"].mask(rng.uniform(size=rows) < missing)
    frame["tenure_months"] = frame["tenure_months"].mask(rng.uniform(size=rows) < missing * 2 / 3)
    return frame


EXAMPLE_START = datetime(2026, 1, 5, tzinfo=UTC)


def example_frames() -> dict[str, pd.DataFrame]:
    """The example datasets shipped in ``examples/``: a week of churn history that passes
    `mlrails check` with the example config, and the same export with a leak and holes."""
    week = timedelta(days=7)
    return {
        "churn.csv": churn_frame(3000, EXAMPLE_START, seed=1, span=week),
        "churn-leaky.csv": leaky_churn_frame(3000, EXAMPLE_START, seed=1, span=week),
    }


if __name__ == "__main__":  # python -m mlrails.local.synthetic DIR: (re)write the example datasets
    import sys
    from pathlib import Path

    for name, frame in example_frames().items():
        frame.to_csv(Path(sys.argv[1] if len(sys.argv) > 1 else "examples") / name, index=False)
