"""Kinesis Data Firehose: records into a delivery stream, in as few calls as its limits allow."""

from __future__ import annotations

from collections.abc import Iterator

from botocore.exceptions import BotoCoreError, ClientError

from mlrails.adapters.clients import client

# PutRecordBatch's limits: 500 records and 4 MiB a call (a record may hold up to 1,000 KiB).
MAX_RECORDS = 500
MAX_BATCH_BYTES = 4 * 1024 * 1024


def _batches(records: list[bytes]) -> Iterator[list[bytes]]:
    batch: list[bytes] = []
    size = 0
    for record in records:
        if batch and (len(batch) == MAX_RECORDS or size + len(record) > MAX_BATCH_BYTES):
            yield batch
            batch, size = [], 0
        batch.append(record)
        size += len(record)
    if batch:
        yield batch


def put_records(stream: str, records: list[bytes]) -> int:
    """Send ``records`` to ``stream`` (one ``PutRecordBatch`` per 500 records / 4 MiB);
    returns how many were not accepted. An unreachable or missing stream counts every record
    of the call as not accepted instead of raising: callers use this on paths that must not
    fail for it."""
    failed = 0
    for batch in _batches(records):
        try:
            answer = client("firehose").put_record_batch(
                DeliveryStreamName=stream, Records=[{"Data": record} for record in batch])
        except (ClientError, BotoCoreError):
            failed += len(batch)
            continue
        failed += answer["FailedPutCount"]
    return failed
