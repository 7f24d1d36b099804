"""The capture partition rule: the JQ query Firehose runs and its Python reading agree."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone

import jq
import pytest

from mlrails.adapters.delivery import MAX_BATCH_BYTES
from mlrails.capture import records as capture
from mlrails.config import Capture
from mlrails.serving.protocol import Batch


def _records(at: datetime) -> list[dict]:
    batch = Batch(columns={"plan": ["basic", "premium"], "tenure_months": [3.0, 40.5]}, rows=2)
    return [
        json.loads(r)
        for r in capture.records(
            batch, [1, 0], ["a" * 32, "b" * 32], model_name="churn-classifier", model_version="7", at=at
        )
    ]


def test_records_are_stamped_in_utc_and_partitioned_by_it():
    # 00:30 in UTC+2 is 22:30 the day before in UTC.
    at = datetime(2026, 3, 2, 0, 30, tzinfo=timezone(timedelta(hours=2)))

    first, second = _records(at)

    assert first["timestamp"] == "2026-03-01T22:30:00+00:00"
    assert capture.partition_of(first) == "capture/date=2026-03-01/hour=22/"
    assert (first["plan"], first["prediction"], first["prediction_id"], first["model_version"]) == (
        "basic",
        1,
        "a" * 32,
        "7",
    )
    assert second["tenure_months"] == 40.5 and second["model_name"] == "churn-classifier"


@pytest.mark.parametrize("hour", [0, 9, 23])
def test_the_jq_query_firehose_runs_gives_the_same_partition(hour):
    [record, _] = _records(datetime(2026, 12, 31, hour, 59, 59, tzinfo=UTC))

    # The real JQ (libjq's bindings): what Firehose runs on each record, against our rule.
    keys = jq.compile(capture.PARTITION_QUERY).input_value(json.loads(json.dumps(record))).first()
    deployed = capture.S3_PREFIX.replace("!{partitionKeyFromQuery:date}", keys["date"]).replace(
        "!{partitionKeyFromQuery:hour}", keys["hour"]
    )

    assert deployed == capture.partition_of(record) == f"capture/date=2026-12-31/hour={hour:02d}/"


def test_the_stream_partitions_with_that_query_and_quarantines_what_it_cannot():
    destination = capture.destination("arn:bucket", "arn:role")

    [processor] = destination["ProcessingConfiguration"]["Processors"]
    parameters = {p["ParameterName"]: p["ParameterValue"] for p in processor["Parameters"]}
    assert parameters["MetadataExtractionQuery"] == capture.PARTITION_QUERY
    assert destination["DynamicPartitioningConfiguration"]["Enabled"] is True
    assert destination["Prefix"].startswith("capture/") and destination["ErrorOutputPrefix"].startswith("quarantine/")


def test_records_carry_the_requested_probabilities():
    batch = Batch(columns={"plan": ["basic"]}, rows=1)

    [with_them] = capture.records(
        batch,
        [1],
        ["a" * 32],
        model_name="m",
        model_version="1",
        at=datetime(2026, 3, 2, tzinfo=UTC),
        probabilities=[{"0": 0.25, "1": 0.75}],
    )
    [without] = capture.records(
        batch, [1], ["a" * 32], model_name="m", model_version="1", at=datetime(2026, 3, 2, tzinfo=UTC)
    )

    assert json.loads(with_them)["probabilities"] == {"0": 0.25, "1": 0.75}
    assert "probabilities" not in json.loads(without)


def _scored(*plans: str) -> capture.Scored:
    """A scored request of one row per plan, as the buffer holds it."""
    rows = len(plans)
    return capture.Scored(
        Batch(columns={"plan": list(plans)}, rows=rows),
        [1] * rows,
        [f"{n:032x}" for n in range(rows)],
        "m",
        "1",
        datetime(2026, 3, 2, tzinfo=UTC),
    )


def _plans(records: list[bytes]) -> list[str]:
    return [json.loads(r)["plan"] for r in records]


def test_the_buffer_is_due_when_full():
    buffer, rules = capture.CaptureBuffer(MAX_BATCH_BYTES), Capture(buffer_records=5, buffer_seconds=60)

    buffer.add(_scored("1", "2", "3"), now=0.0)
    assert buffer.take_due(0.0, rules) == []
    buffer.add(_scored("4", "5"), now=1.0)

    assert _plans(buffer.take_due(1.0, rules)) == ["1", "2", "3", "4", "5"]
    assert buffer.take() == []


def test_the_buffer_sends_the_records_its_requests_were_scored_with():
    # Written when sent, not when held: byte for byte what `records` writes for each request.
    buffer, first, second = capture.CaptureBuffer(MAX_BATCH_BYTES), _scored("basic", "premium"), _scored("basic")
    first_records = capture.records(first.batch, [1, 1], first.ids, model_name="m", model_version="1", at=first.at)

    buffer.add(first, now=0.0)
    buffer.add(second, now=0.0)

    assert buffer.take() == first_records + second.records()


def test_the_buffer_is_due_when_its_oldest_record_is_old_enough():
    buffer, rules = capture.CaptureBuffer(MAX_BATCH_BYTES), Capture(buffer_records=500, buffer_seconds=5)

    buffer.add(_scored("1"), now=100.0)
    buffer.add(_scored("2"), now=104.0)
    assert buffer.take_due(104.9, rules) == []
    assert _plans(buffer.take_due(105.0, rules)) == ["1", "2"]  # the oldest's age, not the newest's
    buffer.add(_scored("3"), now=106.0)  # a new oldest
    assert buffer.take_due(110.0, rules) == []
    assert _plans(buffer.take_due(111.0, rules)) == ["3"]


def test_buffer_seconds_zero_is_due_at_once_and_an_empty_buffer_never_is():
    buffer, rules = capture.CaptureBuffer(MAX_BATCH_BYTES), Capture(buffer_seconds=0)

    assert buffer.take_due(0.0, rules) == []
    buffer.add(_scored("1"), now=7.0)
    assert _plans(buffer.take_due(7.0, rules)) == ["1"]


def test_the_buffer_is_due_at_a_full_record_batch_of_bytes():
    buffer, rules = capture.CaptureBuffer(MAX_BATCH_BYTES), Capture(buffer_records=500, buffer_seconds=60)
    big = "x" * (1024 * 1024)  # a record of a little over 1 MiB

    buffer.add(_scored(big, big, big), now=0.0)
    assert buffer.take_due(0.0, rules) == []
    buffer.add(_scored(big), now=0.0)  # over 4 MiB: PutRecordBatch's limit

    assert len(buffer.take_due(0.0, rules)) == 4


def test_the_size_estimate_is_the_first_record_times_the_rows():
    scored = _scored("basic", "extra")  # records of equal length

    assert scored.size_estimate() == sum(map(len, scored.records()))


def test_capture_buffer_sizes_are_bounded_by_the_record_batch_limit():
    with pytest.raises(ValueError, match="buffer_records"):
        Capture(buffer_records=501)
