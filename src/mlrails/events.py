"""Event detail schemas (version :data:`mlrails.wiring.SCHEMA_VERSION`).

Every detail carries the model name, the environment and the S3 URIs of what it talks
about. Producers build a dataclass and call :func:`to_entry`; consumers call
:func:`parse_detail`, which rejects unknown versions instead of guessing.
"""

from __future__ import annotations

import json
from dataclasses import MISSING, asdict, dataclass, field, fields
from datetime import datetime
from typing import Any, ClassVar

from mlrails.errors import BadRequest
from mlrails.wiring import EVENT_SOURCE, SCHEMA_VERSION, DetailType


@dataclass(frozen=True)
class _Detail:
    model: str
    environment: str

    detail_type: ClassVar[DetailType]

    def to_detail(self) -> dict[str, Any]:
        """The JSON-ready ``detail`` with its schema version."""
        return {"schema_version": SCHEMA_VERSION, **asdict(self)}


@dataclass(frozen=True)
class FeaturesReady(_Detail):
    source_uri: str
    features_uri: str
    rows: int
    detail_type: ClassVar[DetailType] = DetailType.FEATURES_READY


@dataclass(frozen=True)
class DriftDetected(_Detail):
    report_uri: str
    model_version: str
    drifted_features: list[str]
    drifted_share: float
    consecutive_windows: int
    detail_type: ClassVar[DetailType] = DetailType.DRIFT_DETECTED


@dataclass(frozen=True)
class PerformanceDegraded(_Detail):
    metric: str
    value: float
    threshold: float
    report_uri: str
    detail_type: ClassVar[DetailType] = DetailType.PERFORMANCE_DEGRADED


@dataclass(frozen=True)
class RetrainRequested(_Detail):
    reason: str
    trigger_id: str
    features_uri: str
    detail_type: ClassVar[DetailType] = DetailType.RETRAIN_REQUESTED


@dataclass(frozen=True)
class ModelRegistered(_Detail):
    version: str
    run_id: str
    artifact_uri: str
    metrics: dict[str, float]
    detail_type: ClassVar[DetailType] = DetailType.MODEL_REGISTERED


@dataclass(frozen=True)
class ModelPromoted(_Detail):
    version: str
    previous_version: str | None
    manifest_uri: str
    metrics: dict[str, float]
    reason: str
    detail_type: ClassVar[DetailType] = DetailType.MODEL_PROMOTED


@dataclass(frozen=True)
class ModelRejected(_Detail):
    version: str
    champion_version: str | None
    metrics: dict[str, float]
    reason: str
    detail_type: ClassVar[DetailType] = DetailType.MODEL_REJECTED


@dataclass(frozen=True)
class TrainingFailed(_Detail):
    trigger_id: str
    error: str
    cause: str
    requested_at: str  # the run's request time (its execution input's ``time``)
    detail_type: ClassVar[DetailType] = DetailType.TRAINING_FAILED


@dataclass(frozen=True)
class BatchScored(_Detail):
    input_uri: str
    output_uri: str
    summary_uri: str
    model_version: str
    rows_in: int
    rows_scored: int
    rows_rejected: int
    shards: int
    shards_failed: int
    # The job's drift against the champion's reference (mlrails.batch.drift); defaulted, so a
    # detail published before batch drift existed still parses.
    drift_status: str | None = None
    drifted_features: list[str] = field(default_factory=list)
    prediction_drifted: bool | None = None
    drift_report_uri: str | None = None
    detail_type: ClassVar[DetailType] = DetailType.BATCH_SCORED


_BY_TYPE: dict[str, type[_Detail]] = {
    cls.detail_type.value: cls
    for cls in (
        FeaturesReady,
        DriftDetected,
        PerformanceDegraded,
        RetrainRequested,
        ModelRegistered,
        ModelPromoted,
        ModelRejected,
        TrainingFailed,
        BatchScored,
    )
}


def schemas() -> dict[str, type[_Detail]]:
    """Every detail type the kit emits, with its schema (the docs' event reference)."""
    return dict(_BY_TYPE)


def to_entry(detail: _Detail, bus_name: str, *, time: datetime | None = None) -> dict[str, Any]:
    """A ``PutEvents`` entry for the project bus. ``time`` carries the causing event's time
    forward, so a chain of events keeps one clock (the local runtime's virtual clock included);
    without it, EventBridge stamps the time it receives the entry."""
    entry: dict[str, Any] = {
        "Source": EVENT_SOURCE,
        "DetailType": detail.detail_type.value,
        "Detail": json.dumps(detail.to_detail()),
        "EventBusName": bus_name,
    }
    if time is not None:
        entry["Time"] = time
    return entry


def parse_detail(detail_type: str, detail: dict[str, Any]) -> _Detail:
    """Rebuild a typed detail from an EventBridge event's ``detail``."""
    cls = _BY_TYPE.get(detail_type)
    if cls is None:
        raise BadRequest(f"unknown detail type {detail_type!r}")
    version = detail.get("schema_version")
    if version != SCHEMA_VERSION:
        raise BadRequest(f"{detail_type} schema_version {version!r} is not supported (expected {SCHEMA_VERSION})")
    names = {f.name for f in fields(cls)}
    # A field added later, with a default, may be absent from an older producer's detail.
    required = {f.name for f in fields(cls) if f.default is MISSING and f.default_factory is MISSING}
    missing = sorted(required - detail.keys())
    if missing:
        raise BadRequest(f"{detail_type} detail is missing {missing}")
    return cls(**{k: detail[k] for k in names & detail.keys()})
