"""Reading what inference recorded, a chunk at a time: captured predictions by hour
partition (``capture/date=.../hour=.../``) and fed-back labels by day of arrival
(``feedback/date=.../``). A chunk is as many whole objects as fit in :data:`CHUNK_BYTES`
(an object larger than that is a chunk of its own), parsed into one frame: one parse and one
frame per chunk, not per object (hundreds of small objects a day). Callers fold each chunk
into what they keep, so memory is bounded by what they keep and a chunk, not by the window."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import replace
from datetime import date, datetime, time, timedelta

import pandas as pd

from mlrails.adapters import s3
from mlrails.feedback.labels import EvaluationWindow, LabelledWindow, join_feedback
from mlrails.wiring import Prefix


def window_objects(bucket: str, start: datetime, end: datetime) -> Iterator[tuple[str, int]]:
    """The capture objects (key, size) in the hour partitions overlapping [start, end): one
    listing per day (a week's window is 8 listings, not 168), keeping the hours that overlap."""
    first_hour = start.replace(minute=0, second=0, microsecond=0)
    day = first_hour.date()
    while day <= end.date():
        prefix = f"{Prefix.CAPTURE.value}date={day:%Y-%m-%d}/"
        for key, size in s3.list_objects(bucket, prefix):
            hour = _hour_of(key, prefix)
            if hour is None or first_hour <= datetime.combine(day, time(hour), start.tzinfo) < end:
                yield key, size
        day += timedelta(days=1)


def window_keys(bucket: str, start: datetime, end: datetime) -> Iterator[str]:
    """The keys of :func:`window_objects`."""
    return (key for key, _ in window_objects(bucket, start, end))


def _hour_of(key: str, day_prefix: str) -> int | None:
    """The ``hour=HH`` partition of a key (None for a key outside the layout: kept, so its
    rows are filtered by their own timestamps rather than silently dropped)."""
    partition = key.removeprefix(day_prefix).split("/", 1)[0]
    value = partition.removeprefix("hour=")
    return int(value) if partition.startswith("hour=") and value.isdigit() and int(value) < 24 else None


# JSON lines parsed into one frame at a time (see the module's docstring).
CHUNK_BYTES = 16 * 2**20


def _frames(bucket: str, keys: Iterable[str]) -> Iterator[pd.DataFrame]:
    """The JSON-lines objects at ``keys``, a chunk of whole objects per frame (empty chunks skipped)."""
    lines: list[bytes] = []
    size = 0
    for key in keys:
        body = s3.get_bytes(s3.uri(bucket, key))
        lines += [line for line in body.splitlines() if line.strip()]
        size += len(body)
        if size >= CHUNK_BYTES:
            yield from _parsed(lines)
            lines, size = [], 0
    yield from _parsed(lines)


def _parsed(lines: list[bytes]) -> Iterator[pd.DataFrame]:
    if lines:  # one JSON array: a single parse of the chunk rather than one per line
        yield pd.DataFrame.from_records(json.loads(b"[" + b",".join(lines) + b"]"))


def capture_chunks(bucket: str, start: datetime, end: datetime) -> Iterator[pd.DataFrame]:
    """The captured rows made in [start, end), a chunk at a time."""
    yield from captures_in(bucket, window_keys(bucket, start, end), start, end)


def captures_in(bucket: str, keys: Iterable[str], start: datetime, end: datetime) -> Iterator[pd.DataFrame]:
    """The captured rows of the objects at ``keys`` (some of :func:`window_keys`: a shard of a
    window) made in [start, end), a chunk at a time."""
    for frame in _frames(bucket, keys):
        stamps = pd.to_datetime(frame["timestamp"], utc=True, format="ISO8601")
        yield frame[(stamps >= start) & (stamps < end)]


def feedback_chunks(bucket: str, first_day: date, last_day: date) -> Iterator[pd.DataFrame]:
    """The labels received on the days first_day..last_day (inclusive), a chunk at a time."""
    days = (first_day + timedelta(days=n) for n in range((last_day - first_day).days + 1))
    yield from _frames(
        bucket, (key for day in days for key in s3.list_keys(bucket, f"{Prefix.FEEDBACK.value}date={day:%Y-%m-%d}/"))
    )


def labelled_window(
    bucket: str,
    *,
    now: datetime,
    window: timedelta,
    label_delay: timedelta,
    task: str,
    columns: list[str] | None = None,
    model_version: str | None = None,
) -> LabelledWindow:
    """Settled captures joined with the labels received up to ``now`` (see
    :func:`mlrails.feedback.labels.join_feedback`). Only ``columns`` of each capture are kept (all when
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
        # A set lookup per id: pandas' isin on Arrow-backed strings re-converts the set on
        # every call (tens of milliseconds per chunk against a week of ids).
        ours = chunk["prediction_id"].map(ids.__contains__).astype(bool)
        labels.append(chunk[ours])
        elsewhere += int((~ours).sum())
    feedback = pd.concat(labels, ignore_index=True) if labels else pd.DataFrame()
    joined = join_feedback(captures, feedback, now=now, window=window, label_delay=label_delay, task=task)
    return replace(joined, unmatched_feedback=joined.unmatched_feedback + elsewhere)
