"""Reading what inference recorded, one object at a time: captured predictions by hour
partition (``capture/date=.../hour=.../``) and fed-back labels by day of arrival
(``feedback/date=.../``). Callers fold each chunk into what they keep, so memory is bounded
by what they keep, not by the window."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace
from datetime import date, datetime, timedelta

import pandas as pd

from mlrails.adapters import s3
from mlrails.labels import EvaluationWindow, LabelledWindow, join_feedback
from mlrails.wiring import Prefix


def window_prefixes(start: datetime, end: datetime) -> list[str]:
    """Capture partitions (date/hour) overlapping [start, end)."""
    prefixes, hour = [], start.replace(minute=0, second=0, microsecond=0)
    while hour < end:
        prefixes.append(f"{Prefix.CAPTURE.value}date={hour:%Y-%m-%d}/hour={hour:%H}/")
        hour += timedelta(hours=1)
    return prefixes


def _lines(body: bytes) -> pd.DataFrame:
    return pd.DataFrame.from_records([json.loads(line) for line in body.splitlines() if line.strip()])


def capture_chunks(bucket: str, start: datetime, end: datetime) -> Iterator[pd.DataFrame]:
    """The captured rows made in [start, end), an object at a time (empty objects skipped)."""
    for prefix in window_prefixes(start, end):
        for key in s3.list_keys(bucket, prefix):
            frame = _lines(s3.get_bytes(s3.uri(bucket, key)))
            if frame.empty:
                continue
            stamps = pd.to_datetime(frame["timestamp"], utc=True, format="ISO8601")
            yield frame[(stamps >= start) & (stamps < end)]


def feedback_chunks(bucket: str, first_day: date, last_day: date) -> Iterator[pd.DataFrame]:
    """The labels received on the days first_day..last_day (inclusive), an object at a time."""
    day = first_day
    while day <= last_day:
        for key in s3.list_keys(bucket, f"{Prefix.FEEDBACK.value}date={day:%Y-%m-%d}/"):
            frame = _lines(s3.get_bytes(s3.uri(bucket, key)))
            if not frame.empty:
                yield frame
        day += timedelta(days=1)


def labelled_window(bucket: str, *, now: datetime, window: timedelta, label_delay: timedelta, task: str,
                    columns: list[str] | None = None, model_version: str | None = None) -> LabelledWindow:
    """Settled captures joined with the labels received up to ``now`` (see
    :func:`mlrails.labels.join_feedback`). Only ``columns`` of each capture are kept (all when
    None), of the predictions ``model_version`` made (all when None), and only labels for a
    kept prediction: memory grows with the settled window's predictions, not with the
    traffic or the feedback."""
    frame = EvaluationWindow.settled_before(now, window=window, label_delay=label_delay)
    kept = []
    for chunk in capture_chunks(bucket, frame.start, frame.end):
        if model_version is not None:
            chunk = chunk[chunk["model_version"].astype(str) == model_version]
        kept.append(chunk if columns is None else chunk[[c for c in columns if c in chunk.columns]])
    captures = pd.concat(kept, ignore_index=True) if kept else pd.DataFrame()
    ids = set(captures["prediction_id"]) if not captures.empty else set()
    # A label for a prediction in the window arrives after the prediction: from its first day on.
    labels, elsewhere = [], 0
    for chunk in feedback_chunks(bucket, frame.start.date(), now.date()):
        ours = chunk["prediction_id"].isin(ids)
        labels.append(chunk[ours])
        elsewhere += int((~ours).sum())
    feedback = pd.concat(labels, ignore_index=True) if labels else pd.DataFrame()
    joined = join_feedback(captures, feedback, now=now, window=window, label_delay=label_delay, task=task)
    return replace(joined, unmatched_feedback=joined.unmatched_feedback + elsewhere)
