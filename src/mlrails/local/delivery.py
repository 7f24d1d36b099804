"""The part of Firehose's delivery that moto leaves undone: partitioning.

moto's ``PutRecordBatch`` writes each call's records to S3 at once, under the stream's prefix
with its ``!{partitionKeyFromQuery:...}`` placeholders left literal (plus a wall-clock
``YYYY/MM/DD/HH/``). :func:`deliver_captures` plays the buffer flush of the deployed stream:
it takes what moto wrote, puts each record under the partition the stream's JQ query gives it
(:func:`mlrails.capture.records.partition_of`, from the record's own timestamp, so the virtual clock
is followed), one object per partition per flush as Firehose writes them, and removes what it
took. The local runtime runs it before anything reads captures: before scheduled functions
run, and when state is saved or redeployed; it first sends what the inference container still
buffers (:func:`mlrails.capture.stream.flush`), so every check and simulation sees every capture.
"""

from __future__ import annotations

import json
import uuid
from collections import defaultdict

from mlrails.adapters import s3
from mlrails.adapters.clients import client
from mlrails.capture import records, stream
from mlrails.wiring import ResourceNames

# Where moto puts every record of the stream: the prefix, placeholders and all.
STAGED = records.S3_PREFIX
# The error output's partition for records the query cannot partition (Firehose's own type name).
_UNPARTITIONABLE = records.ERROR_PREFIX.split("!{", 1)[0] + "processing-failed/"


def deliver_captures(names: ResourceNames) -> int:
    """Send the capture buffer, then partition every record moto's stream has written
    since the last delivery; returns how many records were delivered."""
    stream.flush()
    bucket = names.data_bucket
    staged = list(s3.list_keys(bucket, STAGED))
    if not staged:
        return 0
    partitions: dict[str, list[bytes]] = defaultdict(list)
    for key in staged:
        for line in s3.get_bytes(s3.uri(bucket, key)).splitlines(keepends=True):
            if line.strip():
                partitions[_partition(line)].append(line)
    for prefix, lines in partitions.items():
        name = f"{names.capture_stream}-1-{uuid.uuid4()}{records.FILE_EXTENSION}"
        s3.put_bytes(s3.uri(bucket, prefix + name), b"".join(lines), "application/x-ndjson")
    for start in range(0, len(staged), 1000):  # DeleteObjects takes 1,000 keys a call
        client("s3").delete_objects(
            Bucket=bucket, Delete={"Objects": [{"Key": key} for key in staged[start : start + 1000]], "Quiet": True}
        )
    return sum(len(lines) for lines in partitions.values())


def _partition(line: bytes) -> str:
    try:
        return records.partition_of(json.loads(line))
    except (ValueError, KeyError, TypeError):
        return _UNPARTITIONABLE
