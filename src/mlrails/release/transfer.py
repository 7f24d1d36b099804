"""Both ends of a release, run by the train function (operator commands `lock` and `apply`).

**Propose** (the source environment): the lock of a version, and its files (every file its
manifest names, and the manifest) copied into the release store under their sha256
(:mod:`mlrails.adapters.s3` ``put_once``: never overwritten). The lock goes into git; merging it
is the promotion.

**Apply** (each target environment, from the same lock): every stored file fetched and checked
against the lock's sha256 (a mismatch is refused: :class:`~mlrails.errors.TamperedArtifact`),
the model's signature checked against this environment's config (refused with the columns
named), then a deep copy registered in this environment's MLflow (its own run and artifacts,
with the lock's lineage as tags) and its files written beside it, and promoted through
:func:`mlrails.promotion.rails.promote` like any champion, by ``release <commit>``. Applying the
lock that serves already changes nothing; a lock applied before (a revert) is promoted again
from its copy, not copied twice.
"""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import datetime
from pathlib import PurePosixPath
from typing import Any

import pandas as pd

import mlrails
from mlrails.adapters import manifests, s3
from mlrails.adapters.registry import Registry
from mlrails.config import ProjectConfig
from mlrails.data import dataset
from mlrails.errors import ConfigError, MlrailsError, TamperedArtifact
from mlrails.promotion import rails
from mlrails.promotion.lock import ModelLock, from_manifest, release_key, schema_problems, sha256, verify
from mlrails.promotion.operations import Caller, Operation, champion_summary
from mlrails.serving import artifacts
from mlrails.serving.manifest import HOLDOUT_FILE, INPUTS_FILE, Manifest, history_key, model_prefix
from mlrails.serving.predictors import OnnxPredictor, Predictor, SkopsPredictor
from mlrails.serving.protocol import parse_request
from mlrails.settings import Settings

# The operator commands this module answers (the train handler routes them here).
ACTIONS = frozenset({"lock", "apply"})
# The registry tag naming the lock a version was copied from.
LOCK_TAG = "release.lock_sha256"
# Rows of the holdout the lock records with their answers: the smoke test's request.
EXAMPLE_ROWS = 3


class NothingToPropose(MlrailsError):
    """No champion to lock, or no such trained version."""

    status = 409
    error_code = "NOTHING_TO_PROPOSE"


class LockRefused(MlrailsError):
    """This environment cannot serve the lock: another model, a signature its config does not
    accept, or files missing from the release store."""

    status = 409
    error_code = "LOCK_REFUSED"


def run(operation: Operation, caller: Caller, cfg: ProjectConfig, settings: Settings, registry: Registry) -> dict:
    """Carry out ``lock`` or ``apply``; the result is plain JSON."""
    if operation.action == "lock":
        return {"lock": propose(cfg, settings, registry, operation.version).to_json()}
    lock = ModelLock.from_json(operation.lock or "")
    return apply(cfg, settings, registry, lock, commit=operation.commit, by=caller.by, at=caller.at)


def _store(settings: Settings) -> str:
    if not settings.release_store:
        raise ConfigError(
            f"environment '{settings.environment}' has no release store: add a release: section to the config "
            "(mlrails.yaml) and deploy it"
        )
    return settings.release_store


def propose(cfg: ProjectConfig, settings: Settings, registry: Registry, version: str | None) -> ModelLock:
    """The lock of ``version`` (default: the champion), its files copied into the release
    store: its manifest as stored (the champion's history copy, or a trained version's
    candidate), the training run's lineage tags, the gate's evidence from the audit log, and
    the smoke test's example answered by the version's serving path."""
    model_name = cfg.model.name
    current = manifests.read_current(settings.artifacts_bucket, model_name)
    if version is None and current is None:
        raise NothingToPropose(f"{model_name} has no champion to propose yet")
    if version is None or (current is not None and version == current.version):
        # The champion as promoted (its compiled model included), however it is named.
        version = current.version
        location = s3.uri(settings.artifacts_bucket, history_key(model_name, version))
    else:
        location = rails.candidate_uri(settings, model_name, version)
    body = s3.get_optional(location)
    if body is None:
        raise NothingToPropose(f"{model_name} v{version} has no manifest at {location}: was it trained by mlrails?")
    manifest = Manifest.from_json(body)
    store = _store(settings)
    files = {uri: manifests.read_file(manifest, uri) for uri in sorted(manifest.files)}  # each checked
    for content in [body, *files.values()]:
        s3.put_once(s3.uri(store, release_key(sha256(content))), content)
    decisions = [r for r in rails.audit_log(settings, model_name) if r["version"] == version and "gate" in r]
    by_name = {PurePosixPath(uri).name: content for uri, content in files.items()}
    return from_manifest(
        manifest,
        body,
        source_environment=settings.environment,
        run_tags=registry.run_tags(manifest.run_id),
        gate=decisions[-1]["gate"] if decisions else None,
        kit_version=mlrails.__version__,
        example=_example(manifest, by_name),
        inputs=json.loads(by_name[INPUTS_FILE]) if INPUTS_FILE in by_name else None,
    )


def _predictor(manifest: Manifest, files: dict[str, bytes]) -> Predictor:
    """The version's serving path: its verified graph when it has one, else its model."""
    if manifest.onnx_uri is not None:
        return OnnxPredictor(files[PurePosixPath(manifest.onnx_uri).name], manifest.signature, manifest.classes)
    return SkopsPredictor(files[PurePosixPath(manifest.artifact_uri).name], manifest.signature, manifest.trusted_types)


def _example(manifest: Manifest, files: dict[str, bytes]) -> dict[str, Any]:
    """A few holdout rows as an API request's records, and what the version answers for them."""
    if HOLDOUT_FILE not in files:
        return {"records": [], "predictions": []}
    holdout = dataset.read_parquet(files[HOLDOUT_FILE])[[c.name for c in manifest.signature]].head(EXAMPLE_ROWS)
    records = json.loads(holdout.to_json(orient="records"))  # NaN → null, as a client sends a gap
    batch = parse_request(json.dumps({"dataframe_records": records}).encode(), "application/json", manifest.signature)
    predictions, _ = _predictor(manifest, files).predict(batch)
    return {"records": records, "predictions": predictions}


def apply(
    cfg: ProjectConfig,
    settings: Settings,
    registry: Registry,
    lock: ModelLock,
    *,
    commit: str | None,
    by: str,
    at: datetime,
) -> dict[str, Any]:
    """Serve ``lock`` here (see the module's docstring). Returns ``applied`` (False: it serves
    already) and the champion."""
    model_name, digest = cfg.model.name, lock.digest
    if lock.model_name != model_name:
        raise LockRefused(f"the lock pins {lock.model_name}; this environment serves {model_name}")
    current = manifests.read_current(settings.artifacts_bucket, model_name)
    if current is not None and current.lock_sha256 == digest:
        return {"applied": False, "champion": champion_summary(current)}
    problems = schema_problems(lock, cfg.dataset)
    if problems:
        raise LockRefused(
            f"{model_name} v{lock.version} from {lock.source_environment} cannot serve here, "
            f"the config of '{settings.environment}' does not accept its inputs: " + "; ".join(problems),
            details={"problems": problems},
        )
    version = registry.version_tagged(LOCK_TAG, digest) or _copy(cfg, settings, registry, lock)
    manifest = rails.promote(
        settings,
        registry,
        model_name,
        version,
        reason=f"release of {lock.source_environment} v{lock.version} (lock {digest[:12]})",
        at=at,
        by=f"release {commit or 'of an unknown commit'} ({by})",
        lock_sha256=digest,
    )
    manifests.write_for_lock(settings.artifacts_bucket, manifest)
    return {"applied": True, "champion": champion_summary(manifest)}


def _fetch(lock: ModelLock, store: str, name: str, digest: str) -> bytes:
    body = s3.get_optional(s3.uri(store, release_key(digest)))
    if body is None:
        raise LockRefused(
            f"{name} ({digest[:12]}...) of {lock.model_name} v{lock.version} is not in the release store {store}: "
            f"propose the lock again from {lock.source_environment}",
            details={"file": name, "sha256": digest},
        )
    return body


def _copy(cfg: ProjectConfig, settings: Settings, registry: Registry, lock: ModelLock) -> str:
    """The deep copy: the lock's files from the store, each checked, registered here as a run
    and version of this environment's MLflow, written beside it, with a candidate manifest.
    Returns the new version."""
    store = _store(settings)
    source_body = _fetch(lock, store, "the manifest", lock.manifest_sha256)
    if sha256(source_body) != lock.manifest_sha256:
        raise TamperedArtifact(
            f"the release store's manifest of {lock.model_name} v{lock.version} is not the one the lock pins",
            details={"expected": lock.manifest_sha256, "found": sha256(source_body)},
        )
    files = {name: verify(lock, name, _fetch(lock, store, name, digest)) for name, digest in sorted(lock.files.items())}
    source = Manifest.from_json(source_body)
    # The manifest (pinned by its own digest) recorded each file's digest at training: a lock
    # edited to name other files, or other bytes, no longer agrees with it.
    recorded = {PurePosixPath(uri).name: record["sha256"] for uri, record in source.files.items()}
    if recorded != lock.files or source.version != lock.version:
        raise TamperedArtifact(f"the stored manifest of {lock.model_name} v{lock.version} does not match its lock")
    model_file = PurePosixPath(source.artifact_uri).name
    # MLflow infers the copy's signature from a sample: the holdout's rows, as at training.
    sample = (
        dataset.read_parquet(files[HOLDOUT_FILE])[[c.name for c in source.signature]].head(50)
        if HOLDOUT_FILE in files
        else pd.DataFrame(lock.example["records"], columns=[c.name for c in source.signature])
    )
    registered = registry.log_run(
        model=artifacts.loads(files[model_file], source.trusted_types),
        sample=sample,
        params={"released_from": f"{lock.source_environment} v{lock.version}", "lock_sha256": lock.digest},
        metrics=lock.metrics,
        tags={
            **{f"data.{k}": v for k, v in lock.training_data.items()},
            "config.sha": lock.config_sha256,
            **({"code.git_commit": lock.code_commit} if lock.code_commit else {}),
            "environment": settings.environment,
            "release.source_environment": lock.source_environment,
            "release.source_version": lock.version,
            "release.source_run_id": lock.run_id,
            LOCK_TAG: lock.digest,
        },
        profile=json.loads(files[PurePosixPath(source.profile_uri).name]),
        trusted_types=list(source.trusted_types),
        alias=None,
    )
    prefix = s3.uri(settings.artifacts_bucket, model_prefix(cfg.model.name, registered.version))
    candidate = replace(
        source,
        version=registered.version,
        run_id=registered.run_id,
        artifact_uri=f"{prefix}{model_file}",
        profile_uri=f"{prefix}{PurePosixPath(source.profile_uri).name}",
        onnx_uri=None if source.onnx_uri is None else f"{prefix}{PurePosixPath(source.onnx_uri).name}",
        files={f"{prefix}{name}": manifests.put_file(f"{prefix}{name}", body) for name, body in files.items()},
        promoted_at="",
        reason="",
        previous_version=None,
        lock_sha256=None,
    )
    s3.put_bytes(
        rails.candidate_uri(settings, cfg.model.name, registered.version),
        candidate.to_json().encode(),
        "application/json",
    )
    # Tagged last: a copy interrupted before this point is made again, never half reused.
    registry.tag_version(registered.version, **{LOCK_TAG: lock.digest})
    return registered.version
