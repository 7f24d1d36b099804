"""The capture partition rule: the JQ query Firehose runs and its Python reading agree."""

from __future__ import annotations

import json
import shutil
import subprocess
from datetime import datetime, timedelta, timezone

import pytest

from mlrails import capture
from mlrails.config import Capture
from mlrails.protocol import Batch

def _records(at: datetime) -> list[dict]:
    batch = Batch(columns={"plan": ["basic", "premium"], "tenure_months": [3.0, 40.5]}, rows=2)
    return [json.loads(r) for r in capture.records(batch, [1, 0], ["a" * 32, "b" * 32], model_name="churn-classifier",
                                                     model_version="7", at=at)]


def test_records_are_stamped_in_utc_and_partitioned_by_it():
    # 00:30 in UTC+2 is 22:30 the day before in UTC.
    at = datetime(2026, 3, 2, 0, 30, tzinfo=timezone(timedelta(hours=2)))

    first, second = _records(at)

    assert first["timestamp"] == "2026-03-01T22:30:00+00:00"
    assert capture.partition_of(first) == "capture/date=2026-03-01/hour=22/"
    assert (first["plan"], first["prediction"], first["prediction_id"], first["model_version"]) == \
        ("basic", 1, "a" * 32, "7")
    assert second["tenure_months"] == 40.5 and second["model_name"] == "churn-classifier"


@pytest.mark.skipif(shutil.which("jq") is None, reason="needs the jq binary (Firehose runs JQ 1.6)")
@pytest.mark.parametrize("hour", [0, 9, 23])
def test_the_jq_query_firehose_runs_gives_the_same_partition(hour):
    [record, _] = _records(datetime(2026, 12, 31, hour, 59, 59, tzinfo=timezone.utc))

    keys = json.loads(subprocess.run(["jq", "-c", capture.PARTITION_QUERY], input=json.dumps(record),
                                     capture_output=True, text=True, check=True).stdout)
    deployed = capture.S3_PREFIX.replace("!{partitionKeyFromQuery:date}", keys["date"]).replace(
        "!{partitionKeyFromQuery:hour}", keys["hour"])

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

    [with_them] = capture.records(batch, [1], ["a" * 32], model_name="m", model_version="1",
                                  at=datetime(2026, 3, 2, tzinfo=timezone.utc), probabilities=[{"0": 0.25, "1": 0.75}])
    [without] = capture.records(batch, [1], ["a" * 32], model_name="m", model_version="1",
                                at=datetime(2026, 3, 2, tzinfo=timezone.utc))

    assert json.loads(with_them)["probabilities"] == {"0": 0.25, "1": 0.75}
    assert "probabilities" not in json.loads(without)


def test_the_buffer_is_due_when_full():
    buffer, rules = capture.CaptureBuffer(), Capture(buffer_records=5, buffer_seconds=60)

    buffer.add([b"1", b"2", b"3"], now=0.0)
    assert buffer.take_due(0.0, rules) == []
    buffer.add([b"4", b"5"], now=1.0)

    assert buffer.take_due(1.0, rules) == [b"1", b"2", b"3", b"4", b"5"]
    assert buffer.take() == []


def test_the_buffer_is_due_when_its_oldest_record_is_old_enough():
    buffer, rules = capture.CaptureBuffer(), Capture(buffer_records=500, buffer_seconds=5)

    buffer.add([b"1"], now=100.0)
    buffer.add([b"2"], now=104.0)
    assert buffer.take_due(104.9, rules) == []
    assert buffer.take_due(105.0, rules) == [b"1", b"2"]  # the oldest's age, not the newest's
    buffer.add([b"3"], now=106.0)  # a new oldest
    assert buffer.take_due(110.0, rules) == []
    assert buffer.take_due(111.0, rules) == [b"3"]


def test_buffer_seconds_zero_is_due_at_once_and_an_empty_buffer_never_is():
    buffer, rules = capture.CaptureBuffer(), Capture(buffer_seconds=0)

    assert buffer.take_due(0.0, rules) == []
    buffer.add([b"1"], now=7.0)
    assert buffer.take_due(7.0, rules) == [b"1"]


def test_the_buffer_is_due_at_a_full_record_batch_of_bytes():
    buffer, rules = capture.CaptureBuffer(), Capture(buffer_records=500, buffer_seconds=60)
    big = b"x" * (1024 * 1024)

    buffer.add([big] * 3, now=0.0)
    assert buffer.take_due(0.0, rules) == []
    buffer.add([big], now=0.0)  # 4 MiB: PutRecordBatch's limit

    assert len(buffer.take_due(0.0, rules)) == 4


def test_capture_buffer_sizes_are_bounded_by_the_record_batch_limit():
    with pytest.raises(ValueError, match="buffer_records"):
        Capture(buffer_records=501)
