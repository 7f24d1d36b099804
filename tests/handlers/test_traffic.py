"""Reading the capture window: one listing per day, only the hours that overlap the window."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from mlrails.adapters import s3, traffic

START = datetime(2026, 3, 2, 22, 30, tzinfo=UTC)


def test_window_keys_keep_the_overlapping_hours_across_days(cloud):
    bucket = cloud.data_bucket
    for day, hour in [("2026-03-02", 21), ("2026-03-02", 22), ("2026-03-02", 23), ("2026-03-03", 0),
                      ("2026-03-03", 1), ("2026-03-03", 2)]:
        s3.put_bytes(s3.uri(bucket, f"capture/date={day}/hour={hour:02d}/part.jsonl"), b"{}\n")
    s3.put_bytes(s3.uri(bucket, "capture/date=2026-03-03/odd.jsonl"), b"{}\n")  # outside the layout: kept

    keys = list(traffic.window_keys(bucket, START, START + timedelta(hours=3)))  # 22:30 → 01:30

    assert keys == ["capture/date=2026-03-02/hour=22/part.jsonl", "capture/date=2026-03-02/hour=23/part.jsonl",
                    "capture/date=2026-03-03/hour=00/part.jsonl", "capture/date=2026-03-03/hour=01/part.jsonl",
                    "capture/date=2026-03-03/odd.jsonl"]
