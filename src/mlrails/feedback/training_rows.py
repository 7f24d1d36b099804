"""Labelled traffic as training data: served predictions whose labels came back through
``POST /feedback`` become training rows, a day at a time, once the day has settled.

Opt-in (``training.feedback_rows``): where labelled files already land under ``raw/`` (a
CRM's nightly export), the same customers would count twice. The performance check runs it
on its schedule. A day is settled once the label of its last prediction is due
(``monitoring.label_delay_hours``); from then on, while the day is within the check's
``window_hours``, each run writes its labelled predictions to
``features/feedback/date=YYYY-MM-DD.parquet`` again if they changed (labels come in batches,
and often later than due), and publishes ``FeaturesReady`` with the rows it added, which the
retraining policy counts toward ``min_new_rows`` like any new file under ``features/``. The
train step reads the file with the rest of ``features/``. A label that comes after its day
has left the window is not added.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

import pandas as pd

from mlrails.adapters import s3, traffic
from mlrails.adapters.bus import publish
from mlrails.config import ProjectConfig
from mlrails.data import dataset
from mlrails.events import FeaturesReady
from mlrails.feedback.labels import LABEL, PREDICTION_ID, TIMESTAMP
from mlrails.settings import Settings
from mlrails.wiring import Prefix

_DAY = timedelta(days=1)


@dataclass(frozen=True)
class DayExport:
    day: date
    features_uri: str
    rows: int  # the day's labelled predictions, all written
    added: int  # of which new since the day was last written (what FeaturesReady counts)


def export_key(day: date) -> str:
    """Where a day's labelled traffic goes (one object per day: a retry overwrites it)."""
    return f"{Prefix.FEEDBACK_ROWS.value}date={day:%Y-%m-%d}.parquet"


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
    renamed = rows.rename(columns={TIMESTAMP: cfg.dataset.timestamp, LABEL: cfg.dataset.target})
    return dataset.validate_frame(
        renamed[[*cfg.dataset.feature_names, cfg.dataset.target, cfg.dataset.timestamp]], cfg.dataset
    )


def export_settled_days(cfg: ProjectConfig, settings: Settings, *, at: datetime) -> list[DayExport]:
    """(Re)write each settled day within ``monitoring.performance.window_hours`` whose labelled
    predictions changed since it was last written, and publish ``FeaturesReady`` for the rows
    added. Nothing when ``training.feedback_rows`` is off."""
    if not cfg.training.feedback_rows:
        return []
    bucket, label_delay = settings.data_bucket, timedelta(hours=cfg.monitoring.label_delay_hours)
    days = settled_days(at, label_delay, timedelta(hours=cfg.monitoring.performance.window_hours))
    if not days:
        return []
    # The settled days' predictions with every label received by now, read once: the window of
    # predictions is the span of days that ends (at - end of the last day) before now.
    start, end = datetime.combine(days[0], time(0), UTC), datetime.combine(days[-1], time(0), UTC) + _DAY
    labelled = traffic.labelled_window(
        bucket,
        now=at,
        window=end - start,
        label_delay=at - end,
        task=cfg.dataset.task,
        columns=[PREDICTION_ID, TIMESTAMP, *cfg.dataset.feature_names],
    ).rows
    made_on = labelled[TIMESTAMP].dt.date if not labelled.empty else pd.Series(dtype=object)
    exports = []
    for day in days:
        rows = training_rows(labelled[made_on == day], cfg)
        if rows.empty:  # nothing labelled (yet)
            continue
        target = s3.uri(bucket, export_key(day))
        digest = dataset.content_hash(rows)
        written = s3.metadata(target) or {}
        if written.get("content-sha256") == digest:  # no label came or changed since the last write
            continue
        s3.put_bytes(
            target,
            dataset.to_parquet(rows),
            "application/vnd.apache.parquet",
            Metadata={"rows": str(len(rows)), "content-sha256": digest},
        )
        added = len(rows) - int(written.get("rows", 0))
        if added > 0:  # a corrected label replaces a row: nothing new to count
            publish(
                FeaturesReady(
                    cfg.model.name,
                    settings.environment,
                    s3.uri(bucket, f"{Prefix.CAPTURE.value}date={day:%Y-%m-%d}/"),
                    target,
                    added,
                ),
                settings.bus_name,
                time=at,
            )
        exports.append(DayExport(day, target, len(rows), max(added, 0)))
    return exports
