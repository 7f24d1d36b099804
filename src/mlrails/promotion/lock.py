"""The model lock: what `release/<model>.lock.json` pins, in a form a pull request can review.

A lock names one trained version of one environment and everything needed to serve exactly
it elsewhere and to show why: the sha256 of every file its manifest names and of the manifest
itself, the input signature, the training data's lineage, the config and code it came from,
the gate's evidence (both sides scored on the same rows), and the kit version. Its text is
canonical (sorted keys, two-space indent, one trailing newline), so the same lock always
writes the same bytes and a diff shows only what changed; its digest names it (what an
applied champion records as its lineage). A champion promoted again (after a rollback) is
compiled and recorded again, so its lock can differ in the manifest's and the compiled
model's digests: the lock pins what serves. This module is pure: building, reading and checking
a lock; the release commands do the I/O.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, fields
from pathlib import Path, PurePosixPath
from typing import Any

from mlrails.config import Dataset
from mlrails.errors import MlrailsError, TamperedArtifact
from mlrails.serving.manifest import Manifest

LOCK_VERSION = 1
RELEASE_FOLDER = "release"  # in the repository, and in the release store


class LockInvalid(MlrailsError):
    """A lock file that is not one this kit writes (a field missing or unknown, another lock
    version, a value of the wrong type)."""

    status = 400
    error_code = "LOCK_INVALID"


def sha256(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()


@dataclass(frozen=True)
class ModelLock:
    model_name: str
    source_environment: str
    version: str
    run_id: str
    task: str
    classes: list[Any] | None
    signature: list[dict[str, Any]]  # the input columns: name, type, nullable
    manifest_sha256: str
    files: dict[str, str]  # file name (model.skops, model.onnx, profile.json, ...) -> sha256
    metrics: dict[str, float]  # on the version's own holdout
    gate: dict[str, Any] | None  # the comparison at its gate decision (mlrails.promotion.gate)
    # The run's data.* tags (uri, files, sha256: the rows' content hash) and its inputs: each
    # object it read, by URI and S3 VersionId.
    training_data: dict[str, Any]
    config_sha256: str
    code_commit: str | None
    kit_version: str
    # A few holdout rows and what the locked model answered for them, on its serving path: the
    # smoke test's request and expected answer (`mlrails release verify`).
    example: dict[str, Any]
    lock_version: int = LOCK_VERSION

    def to_json(self) -> str:
        """The canonical text: the same lock, the same bytes."""
        return json.dumps(asdict(self), sort_keys=True, indent=2, allow_nan=False) + "\n"

    @property
    def digest(self) -> str:
        """The lock's own sha256: what an environment serving it records as its lineage."""
        return sha256(self.to_json().encode())

    @classmethod
    def from_json(cls, text: str) -> ModelLock:
        """Read a lock; raises :class:`LockInvalid` naming what is wrong."""
        try:
            document = json.loads(text)
        except ValueError as exc:
            raise LockInvalid(f"the lock is not JSON: {exc}") from exc
        if not isinstance(document, dict):
            raise LockInvalid("a lock is a JSON object")
        if document.get("lock_version") != LOCK_VERSION:
            raise LockInvalid(
                f"lock_version {document.get('lock_version')!r}: this kit reads version {LOCK_VERSION}",
                details={"lock_version": document.get("lock_version")},
            )
        names = {f.name for f in fields(cls)}
        unknown, missing = sorted(set(document) - names), sorted(names - set(document))
        if unknown or missing:
            raise LockInvalid(
                f"the lock's fields do not match: unknown {unknown}, missing {missing}",
                details={"unknown": unknown, "missing": missing},
            )
        if not isinstance(document["files"], dict) or not all(
            isinstance(k, str) and isinstance(v, str) and len(v) == 64 for k, v in document["files"].items()
        ):
            raise LockInvalid("files maps each file name to its sha256 (64 hex digits)")
        return cls(**document)


def lock_path(root: Path, model_name: str) -> Path:
    """Where the lock of ``model_name`` lives in the repository."""
    return root / RELEASE_FOLDER / f"{model_name}.lock.json"


def read_lock(root: Path, model_name: str) -> ModelLock | None:
    """The lock of ``model_name`` in the repository at ``root`` (None: no lock yet); raises
    :class:`LockInvalid` for a file that is not one."""
    path = lock_path(root, model_name)
    return ModelLock.from_json(path.read_text()) if path.is_file() else None


def release_key(digest: str) -> str:
    """A file's key in the content-addressed release store: its sha256, so a key can only
    ever hold those bytes."""
    return f"{RELEASE_FOLDER}/sha256/{digest}"


def stored_digests(lock: ModelLock) -> list[str]:
    """Every digest the release store holds for ``lock``: its files and its manifest."""
    return sorted({*lock.files.values(), lock.manifest_sha256})


def from_manifest(
    manifest: Manifest,
    manifest_body: bytes,
    *,
    source_environment: str,
    run_tags: dict[str, str],
    gate: dict[str, Any] | None,
    kit_version: str,
    example: dict[str, Any],
    inputs: list[dict[str, Any]] | None = None,
) -> ModelLock:
    """The lock of the version ``manifest`` describes (its candidate or current manifest, as
    stored: ``manifest_body``), with the training run's tags and ``inputs`` (the objects it
    read) for lineage."""
    return ModelLock(
        model_name=manifest.model_name,
        source_environment=source_environment,
        version=manifest.version,
        run_id=manifest.run_id,
        task=manifest.task,
        classes=manifest.classes,
        signature=[dict(f) for f in manifest.features],
        manifest_sha256=sha256(manifest_body),
        files={PurePosixPath(uri).name: str(record["sha256"]) for uri, record in sorted(manifest.files.items())},
        metrics=dict(manifest.metrics),
        gate=gate,
        training_data={
            **{k.removeprefix("data."): v for k, v in sorted(run_tags.items()) if k.startswith("data.")},
            **({"inputs": inputs} if inputs is not None else {}),
        },
        config_sha256=run_tags.get("config.sha", ""),
        code_commit=run_tags.get("code.git_commit"),
        kit_version=kit_version,
        example=example,
    )


def verify(lock: ModelLock, name: str, body: bytes) -> bytes:
    """``body`` if it is the file ``name`` the lock pins; raises :class:`TamperedArtifact`
    for another content or a file the lock does not name (nobody deserializes it first)."""
    expected = lock.files.get(name)
    if expected is None:
        raise TamperedArtifact(f"the lock of {lock.model_name} v{lock.version} pins no file {name}")
    if sha256(body) != expected:
        raise TamperedArtifact(
            f"{name} is not the file the lock of {lock.model_name} v{lock.version} pins "
            f"(sha256 {sha256(body)[:12]}..., the lock says {expected[:12]}...)",
            details={"file": name, "expected": expected, "found": sha256(body)},
        )
    return body


def schema_problems(lock: ModelLock, dataset: Dataset) -> list[str]:
    """How the locked model's inputs and task differ from an environment's config, one line
    per column (empty: it can serve there): a column the model needs and the config lacks or
    types otherwise, gaps the model never saw, a feature the model does not know."""
    problems = []
    if lock.task != dataset.task:
        problems.append(f"task: the model is a {lock.task}, the config says {dataset.task}")
    configured = {f.name: f for f in dataset.features}
    for column in lock.signature:
        feature = configured.get(column["name"])
        if feature is None:
            problems.append(f"{column['name']}: the model needs it, the config has no such feature")
        elif feature.type != column["type"]:
            problems.append(f"{column['name']}: the model reads it as {column['type']}, the config as {feature.type}")
        elif feature.nullable and not column.get("nullable", False):
            problems.append(f"{column['name']}: the config lets it be empty, the model was trained without gaps")
    needed = {c["name"] for c in lock.signature}
    problems += [f"{name}: in the config, unknown to the model" for name in configured if name not in needed]
    return problems
