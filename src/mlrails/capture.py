"""Capture: a sample of requests and their predictions, one JSON record per scored row,
delivered in batches by Kinesis Data Firehose into ``capture/date=YYYY-MM-DD/hour=HH/``.

The request path makes one ``PutRecordBatch`` call and no S3 PUT; Firehose buffers and
writes the objects. It partitions by the *prediction's own* timestamp (dynamic partitioning,
a JQ query on the record), not by arrival time, so a record always lands in the hour the
drift check reads for it, whatever the buffering delay, and the local runtime (a virtual
clock days ahead of the wall clock) can apply the very same rule: :func:`partition_of` is the
Python reading of :data:`PARTITION_QUERY`, and a test runs both on the same records.

Each record carries what the performance check joins on (``prediction_id``) and what it
evaluates (``timestamp``, ``prediction``, ``model_version``, the features).
"""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime
from typing import Any

from mlrails.adapters import delivery
from mlrails.protocol import Batch
from mlrails.wiring import Prefix

TIMESTAMP = "timestamp"
# Partition key -> the slice of the record's ISO-8601 UTC timestamp it takes
# ("2026-03-02T14:30:00+00:00": date 0..10, hour 11..13).
PARTITION_KEYS: dict[str, tuple[int, int]] = {"date": (0, 10), "hour": (11, 13)}
PARTITION_QUERY = "{" + ", ".join(f"{key}: .{TIMESTAMP}[{start}:{stop}]"
                                  for key, (start, stop) in PARTITION_KEYS.items()) + "}"
S3_PREFIX = (f"{Prefix.CAPTURE.value}date=!{{partitionKeyFromQuery:date}}/"
             "hour=!{partitionKeyFromQuery:hour}/")
# Records Firehose cannot partition or deliver: kept, outside capture/ so no reader takes them
# for traffic, where quarantined data already goes.
ERROR_PREFIX = f"{Prefix.QUARANTINE.value}capture/!{{firehose:error-output-type}}/date=!{{timestamp:yyyy-MM-dd}}/"
FILE_EXTENSION = ".jsonl"
# Firehose flushes a partition's buffer after this long (or at the buffer size, at least
# 64 MiB with dynamic partitioning): the most a capture waits before the drift check sees it.
BUFFER_SECONDS = 60
BUFFER_MIB = 64


def destination(bucket_arn: str, role_arn: str) -> dict[str, Any]:
    """The stream's ``ExtendedS3DestinationConfiguration``, in the shape the Firehose API and
    CloudFormation share: the CDK app deploys it, the local runtime creates it on moto."""
    return {
        "BucketARN": bucket_arn,
        "RoleARN": role_arn,
        "Prefix": S3_PREFIX,
        "ErrorOutputPrefix": ERROR_PREFIX,
        "FileExtension": FILE_EXTENSION,
        "CompressionFormat": "UNCOMPRESSED",  # the drift check reads the lines as they are
        "BufferingHints": {"IntervalInSeconds": BUFFER_SECONDS, "SizeInMBs": BUFFER_MIB},
        "DynamicPartitioningConfiguration": {"Enabled": True, "RetryOptions": {"DurationInSeconds": 300}},
        "ProcessingConfiguration": {"Enabled": True, "Processors": [{
            "Type": "MetadataExtraction",
            "Parameters": [{"ParameterName": "MetadataExtractionQuery", "ParameterValue": PARTITION_QUERY},
                           {"ParameterName": "JsonParsingEngine", "ParameterValue": "JQ-1.6"}],
        }]},
    }


def records(batch: Batch, predictions: list[Any], ids: list[str], *, model_name: str, model_version: str,
            at: datetime) -> list[bytes]:
    """One newline-terminated JSON record per scored row: the inputs, the prediction, its
    id, the time (UTC, which the partitioning relies on) and the model version. Firehose adds
    no delimiter between records, so each brings its own."""
    stamp = at.astimezone(UTC).isoformat()
    names = list(batch.columns)
    out = []
    for i, (prediction, prediction_id) in enumerate(zip(predictions, ids, strict=True)):
        record = {name: batch.columns[name][i] for name in names}
        record.update(prediction_id=prediction_id, prediction=prediction, timestamp=stamp,
                      model_name=model_name, model_version=model_version)
        out.append((json.dumps(record) + "\n").encode())
    return out


def partition_of(record: dict[str, Any]) -> str:
    """The ``capture/date=.../hour=.../`` prefix Firehose's :data:`PARTITION_QUERY` gives
    ``record`` (raises ``KeyError``/``TypeError`` where the query would fail)."""
    stamp = record[TIMESTAMP]
    values = {key: stamp[start:stop] for key, (start, stop) in PARTITION_KEYS.items()}
    return S3_PREFIX.replace("!{partitionKeyFromQuery:date}", values["date"]).replace(
        "!{partitionKeyFromQuery:hour}", values["hour"])


def capture(stream: str, *, sample_rate: float, batch: Batch, predictions: list[Any], ids: list[str],
            model_name: str, model_version: str, at: datetime) -> int:
    """Send a sampled request's records to the capture stream; returns how many records were
    *not* accepted (0 when captured or not sampled). Best effort: a prediction already made
    is not turned into an error because monitoring could not record it (the caller counts
    the failures)."""
    if random.random() >= sample_rate:
        return 0
    return delivery.put_records(stream, records(batch, predictions, ids, model_name=model_name,
                                                model_version=model_version, at=at))
