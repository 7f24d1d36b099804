"""Feature prep: a raw file becomes Parquet features, or is quarantined with its reason."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from mlrails.adapters import s3
from mlrails.adapters.bus import publish
from mlrails.adapters.clients import client
from mlrails.config import ProjectConfig
from mlrails.data import dataset
from mlrails.errors import DataFileRejected
from mlrails.events import FeaturesReady
from mlrails.settings import Settings
from mlrails.wiring import Prefix


class IngestStatus(StrEnum):
    """What became of a raw file."""

    FEATURES = "features"  # validated, written under features/
    QUARANTINED = "quarantined"  # moved to quarantine/ with the reason
    GONE = "gone"  # that version no longer exists: an earlier delivery handled it, or it was deleted


@dataclass(frozen=True)
class IngestResult:
    status: IngestStatus
    source_uri: str
    target_uri: str | None = None
    rows: int = 0
    reason: str | None = None

    def to_dict(self) -> dict:
        """JSON-ready (the handler's return value)."""
        return asdict(self)


def quarantine_key(raw_key: str) -> str:
    """``raw/a/b.csv`` → ``quarantine/a/b.csv`` (the reason sits beside it as ``.reason.json``)."""
    return Prefix.QUARANTINE.value + raw_key.removeprefix(Prefix.RAW.value)


def raw_object(event: dict[str, Any]) -> tuple[str, str | None]:
    """An S3 ``Object Created`` event (EventBridge) → the key and the version it notifies."""
    s3_object = event["detail"]["object"]
    # "null" is S3's version id for objects written before versioning was enabled.
    version_id = s3_object.get("version-id")
    return s3_object["key"], None if version_id in (None, "null") else version_id


def ingest(cfg: ProjectConfig, settings: Settings, *, key: str, version_id: str | None, at: datetime) -> IngestResult:
    """Validate the version of ``s3://<data bucket>/<key>`` the event names, and write
    features or quarantine it. The version matters: if the file is overwritten meanwhile,
    each write is judged (and, if bad, moved) on its own bytes."""
    bucket = settings.data_bucket
    source = s3.uri(bucket, key)
    body = s3.get_optional(source, version_id)
    if body is None:
        # Already quarantined by an earlier delivery of the same event: nothing left to do.
        return IngestResult(IngestStatus.GONE, source)
    try:
        features = dataset.prepare_features(dataset.read_table(body, key), cfg.dataset, arrived_at=at)
    except DataFileRejected as rejection:
        target = s3.uri(bucket, quarantine_key(key))
        _quarantine(bucket, key, version_id, rejection, at)
        return IngestResult(IngestStatus.QUARANTINED, source, target, reason=rejection.reason)
    target = s3.uri(bucket, dataset.features_key(key, dataset.newest_day(features, cfg.dataset)))
    s3.put_bytes(target, dataset.to_parquet(features), "application/vnd.apache.parquet", Metadata={"source-key": key})
    publish(FeaturesReady(cfg.model.name, settings.environment, source, target, len(features)), settings, time=at)
    return IngestResult(IngestStatus.FEATURES, source, target, rows=len(features))


def _quarantine(bucket: str, key: str, version_id: str | None, rejection: DataFileRejected, at: datetime) -> None:
    # Copy and reason first, delete last: if anything fails midway the raw file is still
    # there and the retried event finishes the move. Nothing is ever lost.
    target_key = quarantine_key(key)
    s3_client = client("s3")
    version = {"VersionId": version_id} if version_id else {}
    s3_client.copy_object(Bucket=bucket, Key=target_key, CopySource={"Bucket": bucket, "Key": key, **version})
    reason = {
        "reason": rejection.reason,
        "message": rejection.message,
        "details": rejection.details,
        "source": s3.uri(bucket, key),
        "source_version": version_id,
        "quarantined_at": at.isoformat(),
    }
    s3.put_bytes(
        s3.uri(bucket, target_key + ".reason.json"),
        json.dumps(reason, indent=1, default=str).encode(),
        "application/json",
    )
    # Only the bad version goes: a newer upload of the same key stays for its own event.
    s3_client.delete_object(Bucket=bucket, Key=key, **version)
