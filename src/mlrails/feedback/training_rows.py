"""Labelled traffic as training data: served predictions whose labels came back through
``POST /feedback`` become training rows, a day at a time, once the day has settled.

Opt-in (``training.feedback_rows``): where labelled files already land under ``raw/`` (a
CRM's nightly export), the same customers would count twice. The performance check runs it
on its schedule. A day is settled once the label of its last prediction is due
(``monitoring.label_delay_hours``); from then on, while the day is within the check's
``window_hours``, each run writes its labelled predictions to
``features/date=YYYY-MM-DD/feedback/labelled.parquet`` again if they changed (labels come in batches,
and often later than due), and publishes ``FeaturesReady`` with the rows it added, which the
retraining policy counts toward ``min_new_rows`` like any new file under ``features/``. The
train step reads the file with the rest of ``features/``. A label that comes after its day
has left the window is not added.

This module holds the rules; the performance check's service runs them
(:func:`mlrails.performance.check.export_settled_days`).
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pandas as pd

from mlrails.config import ProjectConfig
from mlrails.data import dataset
from mlrails.feedback.labels import LABEL, TIMESTAMP
from mlrails.wiring import FEATURES_FEEDBACK

_DAY = timedelta(days=1)


def export_key(day: date) -> str:
    """Where a day's labelled traffic goes (one object per day: a retry overwrites it)."""
    return f"{dataset.partition_prefix(day)}{FEATURES_FEEDBACK}labelled.parquet"


def settled_days(now: datetime, label_delay: timedelta, lookback: timedelta) -> list[date]:
    """The whole UTC days whose every label is due by ``now``, the newest ``lookback`` of them
    (a check that did not run for a while catches up on what is still in its window)."""
    settled_end = now - label_delay
    first, last = (settled_end - lookback).date(), settled_end.date() - _DAY
    return [first + timedelta(days=n) for n in range((last - first).days + 1)]


def training_rows(rows: pd.DataFrame, cfg: ProjectConfig) -> pd.DataFrame:
    """Labelled predictions (a :class:`mlrails.feedback.labels.LabelledWindow`'s rows) as training rows:
    the features typed as training types them, the label as the target, the prediction's time
    as the timestamp. Empty when none can be: predictions served under another schema lack a
    feature (or hold it empty)."""
    if rows.empty or any(name not in rows for name in cfg.dataset.feature_names):
        return pd.DataFrame()
    rows = rows.dropna(subset=[f.name for f in cfg.dataset.features if not f.nullable])
    if rows.empty:
        return pd.DataFrame()
    # The prediction's time stands for the row's time (the data's timestamp, or its arrival),
    # already parsed: validated as such whatever format the raw files use.
    renamed = rows.rename(columns={TIMESTAMP: cfg.dataset.time_column, LABEL: cfg.dataset.target})
    return dataset.validate_frame(
        renamed[[*cfg.dataset.feature_names, cfg.dataset.target, cfg.dataset.time_column]],
        cfg.dataset.model_copy(update={"timestamp": cfg.dataset.time_column, "timestamp_format": "iso8601"}),
    )
