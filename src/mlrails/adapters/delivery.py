"""Kinesis Data Firehose: records into a delivery stream, in as few calls as its limits allow."""

from __future__ import annotations

from collections.abc import Iterator

from botocore.exceptions import BotoCoreError, ClientError

from mlrails.adapters.clients import client

# PutRecordBatch's limits: 500 records and 4 MiB a call, 1,000 KiB a record.
MAX_RECORDS = 500
MAX_BATCH_BYTES = 4 * 1024 * 1024
MAX_RECORD_BYTES = 1000 * 1024


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
    fail for it. A record over 1,000 KiB is not sent and counts as not accepted: Firehose
    would reject the whole call for it."""
    sendable = [record for record in records if len(record) <= MAX_RECORD_BYTES]
    failed = len(records) - len(sendable)
    for batch in _batches(sendable):
        try:
            answer = client("firehose").put_record_batch(
                DeliveryStreamName=stream, Records=[{"Data": record} for record in batch]
            )
        except (ClientError, BotoCoreError):
            failed += len(batch)
            continue
        failed += answer["FailedPutCount"]
    return failed
