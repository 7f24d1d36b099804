"""Capture: a sample of requests and their predictions, one JSON record per scored row,
delivered in batches by Kinesis Data Firehose into ``capture/date=YYYY-MM-DD/hour=HH/``.

Sampled requests wait in the container's :class:`CaptureBuffer` as they were scored (columns,
predictions, ids) and go to the stream in one ``PutRecordBatch`` when ``capture.buffer_records``
are held or the oldest is ``capture.buffer_seconds`` old (checked on each request), so the call,
and the writing of the JSON lines with it, lands on about one request in N instead of on every
one; no S3 PUT is made. Firehose buffers again and writes the objects. It partitions by the
*prediction's own* timestamp (dynamic partitioning,
a JQ query on the record), not by arrival time, so a record always lands in the hour the
drift check reads for it, whatever the buffering delay, and the local runtime (a virtual
clock days ahead of the wall clock) can apply the very same rule: :func:`partition_of` is the
Python reading of :data:`PARTITION_QUERY`, and a test runs both on the same records.

Each record carries what the performance check joins on (``prediction_id``) and what it
evaluates (``timestamp``, ``prediction``, ``model_version``, the features, and
``probabilities`` when the request asked for them).

What this module holds is the record format, the partitioning rule and the buffer's rule;
:mod:`mlrails.capture.stream` holds the container's buffers and sends them.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from mlrails.config import Capture
from mlrails.serving.protocol import Batch
from mlrails.wiring import Prefix

TIMESTAMP = "timestamp"
# Partition key -> the slice of the record's ISO-8601 UTC timestamp it takes
# ("2026-03-02T14:30:00+00:00": date 0..10, hour 11..13).
PARTITION_KEYS: dict[str, tuple[int, int]] = {"date": (0, 10), "hour": (11, 13)}
PARTITION_QUERY = (
    "{" + ", ".join(f"{key}: .{TIMESTAMP}[{start}:{stop}]" for key, (start, stop) in PARTITION_KEYS.items()) + "}"
)
S3_PREFIX = f"{Prefix.CAPTURE.value}date=!{{partitionKeyFromQuery:date}}/hour=!{{partitionKeyFromQuery:hour}}/"
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
        "ProcessingConfiguration": {
            "Enabled": True,
            "Processors": [
                {
                    "Type": "MetadataExtraction",
                    "Parameters": [
                        {"ParameterName": "MetadataExtractionQuery", "ParameterValue": PARTITION_QUERY},
                        {"ParameterName": "JsonParsingEngine", "ParameterValue": "JQ-1.6"},
                    ],
                }
            ],
        },
    }


def records(
    batch: Batch,
    predictions: list[Any],
    ids: list[str],
    *,
    model_name: str,
    model_version: str,
    at: datetime,
    probabilities: list[dict[str, float]] | None = None,
) -> list[bytes]:
    """One newline-terminated JSON record per scored row: the inputs, the prediction, its
    id, the time (UTC, which the partitioning relies on), the model version and, when the
    request asked for them, the class probabilities (``{class: p}``, what ``roc_auc`` ranks).
    Firehose adds no delimiter between records, so each brings its own."""
    stamp = at.astimezone(UTC).isoformat()
    names = list(batch.columns)
    out = []
    for i, (prediction, prediction_id) in enumerate(zip(predictions, ids, strict=True)):
        record = {name: batch.columns[name][i] for name in names}
        record.update(
            prediction_id=prediction_id,
            prediction=prediction,
            timestamp=stamp,
            model_name=model_name,
            model_version=model_version,
        )
        if probabilities is not None:
            record["probabilities"] = probabilities[i]
        out.append((json.dumps(record) + "\n").encode())
    return out


def partition_of(record: dict[str, Any]) -> str:
    """The ``capture/date=.../hour=.../`` prefix Firehose's :data:`PARTITION_QUERY` gives
    ``record`` (raises ``KeyError``/``TypeError`` where the query would fail)."""
    stamp = record[TIMESTAMP]
    values = {key: stamp[start:stop] for key, (start, stop) in PARTITION_KEYS.items()}
    return S3_PREFIX.replace("!{partitionKeyFromQuery:date}", values["date"]).replace(
        "!{partitionKeyFromQuery:hour}", values["hour"]
    )


@dataclass(frozen=True)
class Scored:
    """A sampled request as it was scored, held until its records are sent: writing them is
    most of what capture costs, and it is done once per send, not on every request."""

    batch: Batch
    predictions: list[Any]
    ids: list[str]
    model_name: str
    model_version: str
    at: datetime
    probabilities: list[dict[str, float]] | None = None

    def records(self) -> list[bytes]:
        """Its capture records, as :func:`records` writes them."""
        return records(
            self.batch,
            self.predictions,
            self.ids,
            model_name=self.model_name,
            model_version=self.model_version,
            at=self.at,
            probabilities=self.probabilities,
        )

    def size_estimate(self) -> int:
        """Bytes its records will take, from its first record's: enough for the buffer's
        full-batch rule (delivery splits by the records' real sizes when it sends)."""
        first = Batch({name: values[:1] for name, values in self.batch.columns.items()}, 1)
        [record] = records(
            first,
            self.predictions[:1],
            self.ids[:1],
            model_name=self.model_name,
            model_version=self.model_version,
            at=self.at,
            probabilities=self.probabilities[:1] if self.probabilities is not None else None,
        )
        return len(record) * len(self.ids)


class CaptureBuffer:
    """Scored requests waiting to be sent, and the rule for when they go. Thread-safe: `mlrails
    serve` and tests answer concurrent requests from one process."""

    def __init__(self, max_bytes: int) -> None:
        self._max_bytes = max_bytes  # what one send may carry (the stream's PutRecordBatch limit)
        self._held: list[Scored] = []
        self._records = 0
        self._bytes = 0
        self._oldest = 0.0
        self._lock = threading.Lock()

    def add(self, scored: Scored, now: float) -> None:
        """Hold ``scored``; ``now`` (seconds, monotonic) dates the oldest."""
        size = scored.size_estimate()
        with self._lock:
            if not self._held:
                self._oldest = now
            self._held.append(scored)
            self._records += len(scored.ids)
            self._bytes += size

    def take_due(self, now: float, rules: Capture) -> list[bytes]:
        """The records of everything held, when it is time to send them (``rules.buffer_records``
        held, about ``max_bytes``, or the oldest ``rules.buffer_seconds`` old);
        else nothing."""
        with self._lock:
            due = self._held and (
                self._records >= rules.buffer_records
                or self._bytes >= self._max_bytes
                or now - self._oldest >= rules.buffer_seconds
            )
            taken = self._take() if due else []
        return _written(taken)

    def take(self) -> list[bytes]:
        """The records of everything held, now."""
        with self._lock:
            taken = self._take()
        return _written(taken)

    def _take(self) -> list[Scored]:
        taken, self._held, self._records, self._bytes = self._held, [], 0, 0
        return taken


def _written(taken: list[Scored]) -> list[bytes]:
    # Outside the buffer's lock: concurrent requests keep adding while these are written.
    return [record for scored in taken for record in scored.records()]
