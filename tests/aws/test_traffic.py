"""Reading the capture window: one listing per day, only the hours that overlap the window,
parsed a chunk of whole objects at a time."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pandas as pd

from mlrails.adapters import s3, traffic

START = datetime(2026, 3, 2, 22, 30, tzinfo=UTC)


def test_window_keys_keep_the_overlapping_hours_across_days(cloud):
    bucket = cloud.data_bucket
    for day, hour in [
        ("2026-03-02", 21),
        ("2026-03-02", 22),
        ("2026-03-02", 23),
        ("2026-03-03", 0),
        ("2026-03-03", 1),
        ("2026-03-03", 2),
    ]:
        s3.put_bytes(s3.uri(bucket, f"capture/date={day}/hour={hour:02d}/part.jsonl"), b"{}\n")
    s3.put_bytes(s3.uri(bucket, "capture/date=2026-03-03/odd.jsonl"), b"{}\n")  # outside the layout: kept

    keys = list(traffic.window_keys(bucket, START, START + timedelta(hours=3)))  # 22:30 → 01:30

    assert keys == [
        "capture/date=2026-03-02/hour=22/part.jsonl",
        "capture/date=2026-03-02/hour=23/part.jsonl",
        "capture/date=2026-03-03/hour=00/part.jsonl",
        "capture/date=2026-03-03/hour=01/part.jsonl",
        "capture/date=2026-03-03/odd.jsonl",
    ]


def _capture(bucket: str, hour: int, first: int, count: int) -> None:
    lines = [
        json.dumps({"prediction_id": f"p{i}", "timestamp": f"2026-03-03T{hour:02d}:10:00+00:00", "x": i})
        for i in range(first, first + count)
    ]
    s3.put_bytes(
        s3.uri(bucket, f"capture/date=2026-03-03/hour={hour:02d}/part-{first}.jsonl"),
        ("\n".join(lines) + "\n\n").encode(),
    )  # a blank line too: skipped


def test_whole_objects_are_parsed_a_chunk_at_a_time(cloud, monkeypatch):
    bucket = cloud.data_bucket
    for hour, first in [(0, 0), (1, 40), (2, 80), (3, 120)]:
        _capture(bucket, hour, first, 40)
    window = (datetime(2026, 3, 3, tzinfo=UTC), datetime(2026, 3, 3, 4, tzinfo=UTC))
    single = list(traffic.capture_chunks(bucket, *window))

    # A chunk is whole objects up to CHUNK_BYTES: two objects' worth here.
    monkeypatch.setattr(
        traffic, "CHUNK_BYTES", 2 * len(s3.get_bytes(s3.uri(bucket, "capture/date=2026-03-03/hour=00/part-0.jsonl")))
    )
    chunked = list(traffic.capture_chunks(bucket, *window))

    assert [len(frame) for frame in single] == [160] and [len(frame) for frame in chunked] == [80, 80]
    assert (
        pd.concat(chunked)["prediction_id"].tolist()
        == single[0]["prediction_id"].tolist()
        == [f"p{i}" for i in range(160)]
    )
    # The window's own bounds still hold inside a chunk.
    later = list(traffic.capture_chunks(bucket, window[0] + timedelta(minutes=70), window[1]))
    assert [len(frame) for frame in later] == [80, 40]  # hour 0's object is not read; hour 1's rows at 01:10 pass
