"""Train → evaluate against the champion → register → promote or reject.

The application service behind the train function and the local runtime: it composes the
pure modules (training, profile, gate) with the adapters (S3, EventBridge, MLflow) and the
promotion rails (:mod:`mlrails.promotion.rails`).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any

import pandas as pd
from sklearn.base import BaseEstimator

from mlrails.adapters import manifests, s3, traffic
from mlrails.adapters.bus import publish
from mlrails.adapters.registry import Registry
from mlrails.config import ProjectConfig
from mlrails.data import dataset
from mlrails.drift.profile import build_profile
from mlrails.events import ModelRegistered, ModelRejected
from mlrails.feedback.labels import PREDICTION_ID, TIMESTAMP
from mlrails.feedback.training_rows import training_rows
from mlrails.models import PLACEHOLDER
from mlrails.promotion import gate, rails
from mlrails.serving import artifacts
from mlrails.serving.manifest import HOLDOUT_FILE, INPUTS_FILE, Manifest, model_prefix
from mlrails.settings import Settings
from mlrails.training import compute, estimator
from mlrails.wiring import Prefix

HOLDOUT = HOLDOUT_FILE
# Beside a real model: the placeholder fit on the same training rows, the first real model's bar.
BASELINE = "placeholder.skops"
INPUTS = INPUTS_FILE


@dataclass(frozen=True)
class TrainingOutcome:
    version: str
    promoted: bool
    reason: str
    metrics: dict[str, float]
    champion_metrics: dict[str, float] | None
    rows: int


def load_features(bucket: str, cfg: ProjectConfig) -> tuple[pd.DataFrame, dict[str, str | None]]:
    """The Parquet files under features/, concatenated in key order (time order of their
    partitions), with the S3 version read of each: the run's exact inputs, for its lineage.

    All of them; or, with ``training.window_days``, only the day partitions that can hold a row
    within the window of the newest row (:func:`mlrails.training.estimator.recent` then keeps
    exactly those rows). A file lives in the partition of its newest row's day
    (:func:`mlrails.data.dataset.features_key`), so a partition older than the window's first
    day holds no row inside it: the listing, like the reading, grows with the window, not with
    the history. Files outside any day's partition (written before features were partitioned)
    are read whatever their age."""
    partitions = compute.window_partitions(s3.list_prefixes(bucket, Prefix.FEATURES.value), cfg.training.window_days)
    keys = [
        key
        for prefix in partitions
        for key in (s3.list_keys(bucket, prefix) if prefix.endswith("/") else [prefix])
        if key.endswith(".parquet")
    ]
    loaded = {key: _read(bucket, key) for key in keys}
    if not loaded:
        return pd.DataFrame(), {}
    return pd.concat([frame for frame, _ in loaded.values()], ignore_index=True), {
        key: version for key, (_, version) in loaded.items()
    }


def _read(bucket: str, key: str) -> tuple[pd.DataFrame, str | None]:
    body, version = s3.get_versioned(s3.uri(bucket, key))
    return dataset.read_parquet(body), version


def _placeholder(cfg: ProjectConfig, split: estimator.Split) -> BaseEstimator | None:
    """The placeholder baseline fit on the same rows: what a first real model must beat."""
    if cfg.model.entrypoint == PLACEHOLDER:
        return None
    placeholder = cfg.model_copy(update={"model": cfg.model.model_copy(update={"entrypoint": PLACEHOLDER})})
    return estimator.fit(placeholder, split.train)


def _placeholder_metrics(
    cfg: ProjectConfig, candidate: Manifest, prefix: str, rows: pd.DataFrame
) -> dict[str, float] | None:
    """The placeholder baseline the train step left beside a real model, on ``rows``."""
    if cfg.model.entrypoint == PLACEHOLDER:
        return None
    # A dummy estimator: its file needs no type trusted beyond what skops trusts by default.
    placeholder = artifacts.loads(manifests.read_file(candidate, f"{prefix}{BASELINE}"), ())
    return estimator.score(placeholder, rows, cfg)


def labelled_traffic(
    cfg: ProjectConfig, settings: Settings, *, after: datetime, at: datetime
) -> tuple[pd.DataFrame, int]:
    """Served predictions made after ``after`` (the newest training row: neither model is
    scored on a row the challenger learnt from) and settled by ``at``, within
    ``promotion.feedback_days``, as holdout rows (:func:`mlrails.feedback.training_rows.training_rows`;
    empty when there are none), and how many labels of that window were ignored because no
    feedback credential sent them (:func:`mlrails.feedback.labels.trusted`)."""
    label_delay = timedelta(hours=cfg.monitoring.label_delay_hours)
    # Read only what can qualify: settled, within feedback_days, and newer than the training data.
    span = min(timedelta(days=cfg.promotion.feedback_days), at - label_delay - after)
    if span <= timedelta(0):
        return pd.DataFrame(), 0
    window = traffic.labelled_window(
        settings.data_bucket,
        now=at,
        window=span,
        label_delay=label_delay,
        task=cfg.dataset.task,
        columns=[PREDICTION_ID, TIMESTAMP, *cfg.dataset.feature_names],
    )
    return training_rows(window.rows[window.rows[TIMESTAMP] > after], cfg), window.untrusted_labels


def train_step(
    cfg: ProjectConfig, settings: Settings, registry: Registry, *, reason: str, trigger_id: str, at: datetime
) -> dict[str, Any]:
    """Step 1: fit on the data under features/, register in MLflow (alias challenger), and
    leave beside the model what the next steps need: the holdout and a candidate manifest."""
    loaded, inputs = load_features(settings.data_bucket, cfg)
    frame = estimator.recent(loaded, cfg)
    split = estimator.split_by_time(frame, cfg)
    model, baseline = estimator.fit(cfg, split.train), _placeholder(cfg, split)
    metrics = estimator.score(model, split.holdout, cfg)

    train_x = estimator.features_of(split.train, cfg)
    profile = build_profile(
        train_x, model.predict(train_x), cfg.dataset, bins=cfg.monitoring.bins, task=cfg.dataset.task
    )
    tags = {
        "data.uri": s3.uri(settings.data_bucket, Prefix.FEATURES.value),
        "data.files": str(len(inputs)),
        "data.sha256": dataset.content_hash(frame),
        "config.sha": cfg.digest,
        "trigger.reason": reason,
        "trigger.id": trigger_id,
        "environment": settings.environment,
    }
    if settings.git_commit:
        tags["code.git_commit"] = settings.git_commit
    blob = artifacts.dumps(model)
    # The exact types this file needs, from the estimator we just fit: the manifest's trust list.
    trusted_types = artifacts.trusted_types(blob, artifacts.entrypoint_modules(cfg.model.entrypoint))
    registered = registry.log_run(
        model=model,
        sample=train_x.head(50),
        metrics=metrics,
        profile=profile,
        tags=tags,
        trusted_types=trusted_types,
        params={
            "entrypoint": cfg.model.entrypoint,
            "seed": cfg.training.seed,
            "holdout_fraction": cfg.training.holdout_fraction,
            "train_rows": len(split.train),
            "holdout_rows": len(split.holdout),
            **_estimator_params(model),
        },
    )
    prefix = s3.uri(settings.artifacts_bucket, model_prefix(cfg.model.name, registered.version))
    files = {  # uri: (body, content type)
        f"{prefix}model.skops": (blob, "application/octet-stream"),
        f"{prefix}profile.json": (s3.json_bytes(profile), "application/json"),
        f"{prefix}{HOLDOUT}": (dataset.to_parquet(split.holdout), "application/vnd.apache.parquet"),
        # The exact objects read (key and S3 version): what a lock of this version cites as its data.
        f"{prefix}{INPUTS}": (
            s3.json_bytes([{"uri": s3.uri(settings.data_bucket, k), "version_id": v} for k, v in inputs.items()]),
            "application/json",
        ),
    }
    if baseline is not None:
        files[f"{prefix}{BASELINE}"] = (artifacts.dumps(baseline), "application/octet-stream")
    candidate = Manifest(
        model_name=cfg.model.name,
        version=registered.version,
        run_id=registered.run_id,
        artifact_uri=f"{prefix}model.skops",
        profile_uri=f"{prefix}profile.json",
        task=cfg.dataset.task,
        features=[f.model_dump() for f in cfg.dataset.features],
        metrics=metrics,
        promoted_at="",
        trained_at=at.isoformat(),
        reason="",
        classes=[c.item() if hasattr(c, "item") else c for c in getattr(model, "classes_", [])] or None,
        trusted_types=trusted_types,
        metric_errors=estimator.standard_errors(model, split.holdout, cfg),
        files={uri: manifests.put_file(uri, *file) for uri, file in files.items()},
    )
    s3.put_bytes(
        rails.candidate_uri(settings, cfg.model.name, registered.version),
        candidate.to_json().encode(),
        "application/json",
    )
    publish(
        ModelRegistered(
            cfg.model.name, settings.environment, registered.version, registered.run_id, f"{prefix}model.skops", metrics
        ),
        settings,
        time=at,
    )
    # Traffic after the newest training row is new to this model: the gate may score on it.
    trained_through = pd.to_datetime(split.train[cfg.dataset.time_column], utc=True).max()
    return {
        "version": registered.version,
        "run_id": registered.run_id,
        "metrics": metrics,
        "rows": len(frame),
        "trained_through": trained_through.isoformat(),
    }


def evaluate_step(
    cfg: ProjectConfig, settings: Settings, registry: Registry, *, version: str, trained_through: str, at: datetime
) -> dict[str, Any]:
    """Step 2: score the challenger and the champion on the challenger's holdout plus the
    labelled traffic it did not train on (:func:`labelled_traffic`), and gate. The result is
    the :class:`~mlrails.promotion.gate.Comparison` (plain JSON), also tagged on the version."""
    prefix = s3.uri(settings.artifacts_bucket, model_prefix(cfg.model.name, version))
    candidate = Manifest.from_json(s3.get_bytes(rails.candidate_uri(settings, cfg.model.name, version)))
    holdout = dataset.read_parquet(manifests.read_file(candidate, f"{prefix}{HOLDOUT}"))
    fed_back, ignored = labelled_traffic(cfg, settings, after=datetime.fromisoformat(trained_through), at=at)
    rows = pd.concat([holdout, fed_back], ignore_index=True) if not fed_back.empty else holdout
    metrics = estimator.score(rails.load_model(candidate), rows, cfg)
    champion = manifests.read_current(settings.artifacts_bucket, cfg.model.name)
    comparable = champion is not None and [f["name"] for f in champion.features] == cfg.dataset.feature_names
    if comparable:
        baseline = estimator.score(rails.load_model(champion), rows, cfg)
        against = f"champion v{champion.version}"
    elif champion is not None:
        # The schema changed: the champion cannot score these rows; the placeholder is the bar.
        baseline = _placeholder_metrics(cfg, candidate, prefix, rows)
        against = f"placeholder baseline (champion v{champion.version} has other features)"
    else:
        baseline = _placeholder_metrics(cfg, candidate, prefix, rows)
        against = "placeholder baseline" if baseline else "champion"
    decision = gate.decide(
        metric=cfg.primary_metric, rules=cfg.promotion, challenger=metrics, champion=baseline, against=against
    )
    reason = decision.reason
    if not fed_back.empty:
        reason = f"{reason}; scored on {len(holdout)} holdout + {len(fed_back)} labelled traffic rows"
    if ignored:
        reason = f"{reason}; ignored {ignored} labels not sent with the feedback credential"
    comparison = gate.Comparison(
        promote=decision.promote,
        reason=reason,
        metric=cfg.primary_metric,
        metrics=metrics,
        baseline=None if baseline is None else "champion" if comparable else "placeholder",
        baseline_metrics=baseline,
        champion_version=champion.version if champion else None,
        holdout_rows=len(holdout),
        feedback_rows=len(fed_back),
        ignored_labels=ignored,
    )
    registry.tag_version(version, **comparison.to_tags())
    return asdict(comparison)


def finish_step(
    cfg: ProjectConfig,
    settings: Settings,
    registry: Registry,
    *,
    version: str,
    evaluation: dict[str, Any],
    at: datetime,
    rails_ports: rails.RailsPorts | None = None,
) -> dict[str, Any]:
    """Step 3: promote (alias, manifest, ModelPromoted) or record the rejection (ModelRejected).
    ``rails_ports``: where the promotion commits and announces (the deployed ones by default)."""
    current = manifests.read_current(settings.artifacts_bucket, cfg.model.name)
    serving = current.version if current else None
    # The gate compared against the champion of that moment; if another run promoted since
    # (and this is not a retry of our own promotion), the comparison no longer holds.
    action = "reject"
    if serving not in (evaluation["champion_version"], version):
        why = (
            f"the champion changed during this run (evaluated against v{evaluation['champion_version']}, "
            f"now v{serving}): retrain to compare again"
        )
    elif evaluation["promote"] and cfg.models_source(settings.environment) == "release":
        # This environment serves what the lock in git names: its own challenger waits for a
        # person to propose it (and for the pipeline to bring the lock back here).
        action = "recommend"
        why = (
            f"{evaluation['reason']}; '{settings.environment}' takes its models from the release lock "
            f"(models: release): `mlrails release propose --from {settings.environment} --version {version}`"
        )
    elif evaluation["promote"] and cfg.promotion.mode == "auto":
        rails.promote(
            settings,
            registry,
            cfg.model.name,
            version,
            reason=evaluation["reason"],
            at=at,
            by=gate.GATE,
            resume=True,
            ports=rails_ports,
            gate=evaluation,
        )
        return {"promoted": True, "reason": evaluation["reason"]}
    elif evaluation["promote"]:
        # The gate says yes and a person decides: not a rejection (promoting it needs no --force).
        action = "recommend"
        why = f"{evaluation['reason']}; promotion.mode is manual: run `mlrails promote --version {version}`"
    else:
        why = evaluation["reason"]
    publish(
        ModelRejected(
            cfg.model.name, settings.environment, version, evaluation["champion_version"], evaluation["metrics"], why
        ),
        settings,
        time=at,
    )
    rails.audit(
        settings,
        cfg.model.name,
        at,
        {
            "action": action,
            "version": version,
            "by": gate.GATE,
            "reason": why,
            "gate": evaluation,
        },
    )
    return {"promoted": False, "reason": why}


def train_and_promote(
    cfg: ProjectConfig, settings: Settings, registry: Registry, *, reason: str, trigger_id: str, at: datetime
) -> TrainingOutcome:
    """The three steps in one process (what the state machine does across invocations)."""
    trained = train_step(cfg, settings, registry, reason=reason, trigger_id=trigger_id, at=at)
    evaluation = evaluate_step(
        cfg, settings, registry, version=trained["version"], trained_through=trained["trained_through"], at=at
    )
    finished = finish_step(cfg, settings, registry, version=trained["version"], evaluation=evaluation, at=at)
    return TrainingOutcome(
        trained["version"],
        finished["promoted"],
        finished["reason"],
        evaluation["metrics"],
        evaluation["baseline_metrics"],
        trained["rows"],
    )


def _estimator_params(model) -> dict[str, str]:
    return {f"model.{k}": v for k, v in model.get_params(deep=False).items() if not hasattr(v, "fit")}
