"""Train → evaluate against the champion → register → promote or reject.

The application service behind the train function and the local runtime: it composes the
pure modules (training, profile, gate) with the adapters (S3, EventBridge, MLflow) and the
promotion rails (:mod:`mlrails.promotion`).
"""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass
from datetime import datetime

import pandas as pd

from mlrails import artifacts, gate, promotion, training
from mlrails.adapters import manifests, s3
from mlrails.adapters.bus import publish
from mlrails.config import ProjectConfig
from mlrails.events import ModelRegistered, ModelRejected
from mlrails.manifest import Manifest, model_prefix
from mlrails.models import PLACEHOLDER
from mlrails.profile import build_profile
from mlrails.registry import Registry
from mlrails.settings import Settings
from mlrails.wiring import Prefix

GATE = "gate"  # who decides automatic promotions, in the audit log


@dataclass(frozen=True)
class TrainingOutcome:
    version: str
    promoted: bool
    reason: str
    metrics: dict[str, float]
    champion_metrics: dict[str, float] | None
    rows: int


def load_features(bucket: str) -> tuple[pd.DataFrame, list[str]]:
    """Every Parquet file under features/, concatenated in key order."""
    keys = [k for k in s3.list_keys(bucket, Prefix.FEATURES.value) if k.endswith(".parquet")]
    frames = [pd.read_parquet(io.BytesIO(s3.get_bytes(s3.uri(bucket, k)))) for k in keys]
    if not frames:
        return pd.DataFrame(), []
    return pd.concat(frames, ignore_index=True), keys


def content_hash(frame: pd.DataFrame) -> str:
    """A stable hash of the training rows' content (lineage: which data made this model)."""
    hashed = pd.util.hash_pandas_object(frame.reset_index(drop=True), index=False).to_numpy()
    return hashlib.sha256(hashed.tobytes()).hexdigest()


def _baseline(cfg: ProjectConfig, settings: Settings, split: training.Split) -> tuple[dict[str, float] | None, str]:
    """What the challenger must beat, scored on the same holdout: the champion; before the
    first promotion of a real model, the placeholder baseline; else nothing."""
    champion = manifests.read_current(settings.artifacts_bucket, cfg.model.name)
    if champion is not None:
        model = artifacts.loads(s3.get_bytes(champion.artifact_uri), champion.trusted_modules)
        return training.score(model, split.holdout, cfg), f"champion v{champion.version}"
    if cfg.model.entrypoint != PLACEHOLDER:
        placeholder = cfg.model_copy(update={"model": cfg.model.model_copy(update={"entrypoint": PLACEHOLDER})})
        return training.score(training.fit(placeholder, split.train), split.holdout, cfg), "placeholder baseline"
    return None, "champion"


def train_and_promote(cfg: ProjectConfig, settings: Settings, registry: Registry, *,
                      reason: str, trigger_id: str, at: datetime) -> TrainingOutcome:
    """Run the whole lifecycle once for the data currently under features/."""
    frame, keys = load_features(settings.data_bucket)
    split = training.split_by_time(frame, cfg)
    model = training.fit(cfg, split.train)
    metrics = training.score(model, split.holdout, cfg)
    baseline_metrics, against = _baseline(cfg, settings, split)

    train_x = training.features_of(split.train, cfg)
    profile = build_profile(train_x, model.predict(train_x), cfg.dataset, bins=cfg.monitoring.bins,
                            task=cfg.dataset.task)
    tags = {"data.uri": s3.uri(settings.data_bucket, Prefix.FEATURES.value), "data.files": str(len(keys)),
            "data.sha256": content_hash(frame), "config.sha": cfg.digest, "trigger.reason": reason,
            "trigger.id": trigger_id, "environment": settings.environment}
    if settings.git_commit:
        tags["code.git_commit"] = settings.git_commit
    blob = artifacts.dumps(model)
    trusted_modules = artifacts.entrypoint_modules(cfg.model.entrypoint)
    registered = registry.log_run(
        model=model, sample=train_x.head(50), metrics=metrics, profile=profile, tags=tags,
        trusted_types=artifacts.trusted_types(blob, trusted_modules),
        params={"entrypoint": cfg.model.entrypoint, "seed": cfg.training.seed,
                "holdout_fraction": cfg.training.holdout_fraction, "train_rows": len(split.train),
                "holdout_rows": len(split.holdout), **_estimator_params(model)},
    )
    prefix = s3.uri(settings.artifacts_bucket, model_prefix(cfg.model.name, registered.version))
    s3.put_bytes(f"{prefix}model.skops", blob)
    s3.put_json(f"{prefix}profile.json", profile)
    candidate = Manifest(
        model_name=cfg.model.name, version=registered.version, run_id=registered.run_id,
        artifact_uri=f"{prefix}model.skops", profile_uri=f"{prefix}profile.json", task=cfg.dataset.task,
        features=[f.model_dump() for f in cfg.dataset.features], metrics=metrics,
        promoted_at="", trained_at=at.isoformat(), reason="",
        classes=[c.item() if hasattr(c, "item") else c for c in getattr(model, "classes_", [])] or None,
        trusted_modules=trusted_modules,
    )
    s3.put_bytes(promotion.candidate_uri(settings, cfg.model.name, registered.version), candidate.to_json().encode(),
                 "application/json")
    publish(ModelRegistered(cfg.model.name, settings.environment, registered.version, registered.run_id,
                            f"{prefix}model.skops", metrics), settings.bus_name, time=at)

    metric = cfg.primary_metric
    decision = gate.decide(metric=metric, rules=cfg.promotion, challenger=metrics, champion=baseline_metrics,
                           against=against)
    registry.tag_version(registered.version, **{"gate.promote": str(decision.promote), "gate.reason": decision.reason})
    if decision.promote and cfg.promotion.mode == "auto":
        promotion.promote(settings, registry, cfg.model.name, registered.version, reason=decision.reason, at=at,
                          by=GATE)
        return TrainingOutcome(registered.version, True, decision.reason, metrics, baseline_metrics, len(frame))
    why = decision.reason if not decision.promote else (
        f"{decision.reason}; promotion.mode is manual: run `mlrails promote --version {registered.version}`")
    champion = manifests.read_current(settings.artifacts_bucket, cfg.model.name)
    publish(ModelRejected(cfg.model.name, settings.environment, registered.version,
                          champion.version if champion else None, metrics, why), settings.bus_name, time=at)
    promotion.audit(settings, cfg.model.name, at, {"action": "reject", "version": registered.version, "by": GATE,
                                                  "reason": why, "metrics": metrics,
                                                  "baseline_metrics": baseline_metrics})
    return TrainingOutcome(registered.version, False, why, metrics, baseline_metrics, len(frame))


def _estimator_params(model) -> dict[str, str]:  # noqa: ANN001 - any estimator
    return {f"model.{k}": v for k, v in model.get_params(deep=False).items() if not hasattr(v, "fit")}
