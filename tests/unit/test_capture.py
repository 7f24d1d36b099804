"""The capture partition rule: the JQ query Firehose runs and its Python reading agree."""

from __future__ import annotations

import json
import shutil
import subprocess
from datetime import datetime, timedelta, timezone

import pytest

from mlrails import capture
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
