"""Function settings: every environment variable the functions read, declared once.

Handlers call :func:`Settings.from_env` once per container. A missing or malformed
variable raises :class:`ConfigError` naming it; nothing required has a silent default.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from mlrails.errors import ConfigError


def _required(env: Mapping[str, str], name: str) -> str:
    value = env.get(name, "").strip()
    if not value:
        raise ConfigError(f"environment variable {name} must be set")
    return value


def _positive_float(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = float(raw)
    except ValueError as exc:
        raise ConfigError(f"environment variable {name} must be a number, got {raw!r}") from exc
    if value < 0:
        raise ConfigError(f"environment variable {name} must be >= 0, got {raw!r}")
    return value


def cors_origins(env: Mapping[str, str] | None = None) -> tuple[str, ...]:
    """MLRAILS_CORS_ORIGINS (optional, comma-separated; unset: none): the browser origins the
    inference API answers with CORS headers (``environments.<name>.cors_origins``). Read on its
    own, when the handler module loads, because its resolver takes CORS settings then."""
    raw = (os.environ if env is None else env).get("MLRAILS_CORS_ORIGINS", "")
    return tuple(origin for origin in raw.split(",") if origin)


@dataclass(frozen=True)
class Settings:
    """What a deployed function knows about its environment."""

    environment: str
    """MLRAILS_ENVIRONMENT: the stage name (dev, staging, prod)."""
    config_uri: str
    """MLRAILS_CONFIG_URI: s3:// URI of the validated project config (JSON)."""
    data_bucket: str
    """MLRAILS_DATA_BUCKET: raw/, features/, quarantine/, capture/, feedback/."""
    artifacts_bucket: str
    """MLRAILS_ARTIFACTS_BUCKET: models, manifests, MLflow artifacts, reports, config."""
    bus_name: str
    """MLRAILS_BUS_NAME: the project's custom EventBridge bus."""
    state_table: str
    """MLRAILS_STATE_TABLE: DynamoDB table for idempotency and policy state."""
    manifest_ttl_seconds: float
    """MLRAILS_MANIFEST_TTL_SECONDS (default 60): how often inference re-checks the
    deployment manifest's ETag for a new champion."""
    tracking_uri: str | None
    """MLFLOW_TRACKING_URI: required by the train function only."""
    git_commit: str | None = None
    """MLRAILS_GIT_COMMIT (optional): the code version, recorded with every training run."""
    training_state_machine: str | None = None
    """MLRAILS_TRAINING_STATE_MACHINE: ARN of the training pipeline; required by retrain_trigger."""
    capture_stream: str | None = None
    """MLRAILS_CAPTURE_STREAM: the Firehose delivery stream captures go to; required by inference."""
    prediction_id_secret: str | None = None
    """MLRAILS_PREDICTION_ID_SECRET: the Secrets Manager secret (ARN or name) whose value signs
    prediction ids (mlrails.serving.prediction_ids); required by inference."""
    feedback_api_id: str | None = None
    """MLRAILS_FEEDBACK_API_ID: the id of the REST API that serves POST /feedback (its own API,
    with its own credential); inference refuses feedback that came through any other API."""
    release_store: str | None = None
    """MLRAILS_RELEASE_STORE: the release store's bucket (train function; a ``release:``
    section or the local runtime): proposed locks' files, by sha256."""
    tracking_server: str | None = None
    """MLRAILS_TRACKING_SERVER: the ARN of the MLflow server's ECS service, which the
    tracking_switch function scales between zero and one task (mlrails.tracking.switch)."""
    release_lock: str | None = None
    """MLRAILS_RELEASE_LOCK: in a ``models: release`` environment, the digest of the lock this
    inference function version serves (set at deploy from ``release/<model>.lock.json``)."""
    drift_state_machine: str | None = None
    """MLRAILS_DRIFT_STATE_MACHINE: ARN of the drift fan-out state machine, which counts a window
    too big for one pass in shards (mlrails.drift.fanout); required by drift_check."""
    events_outbox: str | None = None
    """MLRAILS_EVENTS_OUTBOX (optional; unset: events go straight to the bus): the bucket whose
    ``outbox/`` the function writes its events to instead of calling EventBridge
    (:mod:`mlrails.outbox`). Set for the train function, which has no route to EventBridge."""

    @classmethod
    def from_env(
        cls,
        env: Mapping[str, str] | None = None,
        *,
        needs_tracking: bool = False,
        needs_state_machine: bool = False,
        needs_capture_stream: bool = False,
        needs_api: bool = False,
        needs_tracking_server: bool = False,
        needs_drift_state_machine: bool = False,
    ) -> Settings:
        """Read and check the variables; raise :class:`ConfigError` naming the first bad one."""
        env = os.environ if env is None else env
        config_uri = _required(env, "MLRAILS_CONFIG_URI")
        if not config_uri.startswith("s3://"):
            raise ConfigError(f"environment variable MLRAILS_CONFIG_URI must be an s3:// URI, got {config_uri!r}")
        return cls(
            environment=_required(env, "MLRAILS_ENVIRONMENT"),
            config_uri=config_uri,
            data_bucket=_required(env, "MLRAILS_DATA_BUCKET"),
            artifacts_bucket=_required(env, "MLRAILS_ARTIFACTS_BUCKET"),
            bus_name=_required(env, "MLRAILS_BUS_NAME"),
            state_table=_required(env, "MLRAILS_STATE_TABLE"),
            manifest_ttl_seconds=_positive_float(env, "MLRAILS_MANIFEST_TTL_SECONDS", 60.0),
            tracking_uri=_required(env, "MLFLOW_TRACKING_URI") if needs_tracking else env.get("MLFLOW_TRACKING_URI"),
            git_commit=env.get("MLRAILS_GIT_COMMIT") or None,
            training_state_machine=(
                _required(env, "MLRAILS_TRAINING_STATE_MACHINE")
                if needs_state_machine
                else env.get("MLRAILS_TRAINING_STATE_MACHINE")
            ),
            capture_stream=(
                _required(env, "MLRAILS_CAPTURE_STREAM") if needs_capture_stream else env.get("MLRAILS_CAPTURE_STREAM")
            ),
            prediction_id_secret=(
                _required(env, "MLRAILS_PREDICTION_ID_SECRET") if needs_api else env.get("MLRAILS_PREDICTION_ID_SECRET")
            ),
            feedback_api_id=_required(env, "MLRAILS_FEEDBACK_API_ID")
            if needs_api
            else env.get("MLRAILS_FEEDBACK_API_ID"),
            release_store=env.get("MLRAILS_RELEASE_STORE") or None,
            tracking_server=(
                _required(env, "MLRAILS_TRACKING_SERVER")
                if needs_tracking_server
                else env.get("MLRAILS_TRACKING_SERVER") or None
            ),
            release_lock=env.get("MLRAILS_RELEASE_LOCK") or None,
            drift_state_machine=(
                _required(env, "MLRAILS_DRIFT_STATE_MACHINE")
                if needs_drift_state_machine
                else env.get("MLRAILS_DRIFT_STATE_MACHINE") or None
            ),
            events_outbox=env.get("MLRAILS_EVENTS_OUTBOX") or None,
        )
