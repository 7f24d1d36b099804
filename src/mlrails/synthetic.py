"""A synthetic churn dataset matching the example config, with injectable drift.

Numeric features (tenure, charges, support calls), categorical ones (plan, region), a binary
target that depends on them, and a timestamp. ``drift`` in [0, 1] moves the population
toward short-tenure, high-contact, basic-plan customers — the shift a drift check should see.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import numpy as np
import pandas as pd

PLANS = ("basic", "standard", "premium")
REGIONS = ("north", "south", "east", "west")


def churn_frame(rows: int, start: datetime, *, seed: int, drift: float = 0.0,
                span: timedelta = timedelta(days=1), with_target: bool = True) -> pd.DataFrame:
    """``rows`` customers observed uniformly in [start, start + span)."""
    if not 0.0 <= drift <= 1.0:
        raise ValueError("drift must be within [0, 1]")
    rng = np.random.default_rng(seed)
    plan_mix = np.array([0.3, 0.45, 0.25]) * (1 - drift) + np.array([0.8, 0.15, 0.05]) * drift
    plan = rng.choice(PLANS, size=rows, p=plan_mix)
    tenure = np.round(rng.gamma(2.0, 12.0 * (1 - 0.7 * drift), size=rows), 1)
    base_charge = np.select([plan == "basic", plan == "standard"], [30.0, 60.0], 95.0)
    charges = np.round(np.maximum(base_charge + rng.normal(0, 8 + 10 * drift, size=rows), 5.0), 2)
    calls = rng.poisson(1.0 + 2.5 * drift, size=rows)
    offsets = np.sort(rng.uniform(0, span.total_seconds(), size=rows))
    frame = pd.DataFrame({
        "event_time": [(start + timedelta(seconds=float(s))).isoformat() for s in offsets],
        "tenure_months": tenure,
        "monthly_charges": charges,
        "support_calls": calls,
        "plan": plan,
        "region": rng.choice(REGIONS, size=rows),
    })
    if with_target:
        logit = -1.0 - 0.06 * tenure + 0.02 * (charges - 60) + 0.6 * calls + np.where(plan == "basic", 0.5, 0.0)
        frame["churned"] = (rng.uniform(size=rows) < 1 / (1 + np.exp(-logit))).astype(int)
    return frame
