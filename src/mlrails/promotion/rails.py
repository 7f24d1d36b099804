"""Promotion and rollback, the same rails for the gate and for a person.

Every trained version leaves a *candidate* manifest beside its model. Promoting a version
makes that candidate current (atomically, see :mod:`mlrails.adapters.manifests`), moves the
registry aliases (``champion``; ``previous`` = the one it replaces), emits
``ModelPromoted`` and appends to the audit log. Rollback is a promotion of ``previous``.

Before the commit point, the version is compiled to ONNX and verified on its holdout
(:mod:`mlrails.serving.compiled`): the manifest then says which path serves it and why, and so do
the audit record and the registry version's ``serving.*`` tags.

A version copied here from a lock (:mod:`mlrails.release.transfer`) was compiled and verified
where it was trained, and its lock pins that graph: it is promoted as copied.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from mlrails.adapters import manifests, s3
from mlrails.adapters.bus import publish
from mlrails.adapters.registry import CHAMPION, PREVIOUS, Registry
from mlrails.data import dataset
from mlrails.errors import MlrailsError
from mlrails.events import ModelPromoted
from mlrails.serving import artifacts, compiled
from mlrails.serving.manifest import HOLDOUT_FILE, ONNX_FILE, Manifest, model_prefix
from mlrails.settings import Settings
from mlrails.wiring import Prefix


class PromotionError(MlrailsError):
    """The requested promotion or rollback cannot be done (unknown version, nothing to roll back to)."""

    status = 409
    error_code = "PROMOTION_ERROR"


@dataclass(frozen=True)
class RailsPorts:
    """Where a promotion commits and announces itself: ``write_current(manifest)`` records the
    manifest and makes it what inference serves (the commit point; returns its URI), and
    ``publish(event, at)`` puts ``ModelPromoted`` on the bus. :meth:`deployed` builds the real
    ones; a test passes its own to fail either side of the commit point."""

    write_current: Callable[[Manifest], str]
    publish: Callable[[ModelPromoted, datetime], None]

    @classmethod
    def deployed(cls, settings: Settings) -> RailsPorts:
        return cls(
            write_current=lambda manifest: manifests.write(settings.artifacts_bucket, manifest),
            publish=lambda event, at: publish(event, settings, time=at),
        )


def candidate_uri(settings: Settings, model_name: str, version: str) -> str:
    """Where training leaves the manifest a version would be served with."""
    return s3.uri(settings.artifacts_bucket, f"{model_prefix(model_name, version)}candidate.json")


def current(settings: Settings, model_name: str) -> Manifest | None:
    """The manifest inference serves (None: nothing promoted yet)."""
    return manifests.read_current(settings.artifacts_bucket, model_name)


def load_model(manifest: Manifest) -> Any:
    """The scikit-learn model a manifest names: its recorded S3 version, checked against its
    sha256, loaded trusting exactly its recorded types (:mod:`mlrails.serving.artifacts`)."""
    return artifacts.loads(manifests.read_file(manifest, manifest.artifact_uri), manifest.trusted_types)


def compile_champion(settings: Settings, manifest: Manifest) -> Manifest:
    """Compile the version to ONNX and verify it on its holdout; store ``model.onnx`` beside
    ``model.skops`` when it passes. Returns the manifest with the serving path and its reason."""
    prefix = s3.uri(settings.artifacts_bucket, model_prefix(manifest.model_name, manifest.version))
    holdout_uri = f"{prefix}{HOLDOUT_FILE}"
    if holdout_uri not in manifest.files:
        return replace(
            manifest,
            serving="skops",
            onnx_uri=None,
            serving_reason=f"no {HOLDOUT_FILE} beside the model to verify a compiled graph on",
        )
    holdout = dataset.read_parquet(manifests.read_file(manifest, holdout_uri))
    outcome = compiled.compile_model(load_model(manifest), manifest.signature, manifest.classes, holdout)
    if outcome.onnx is None:
        return replace(manifest, serving=outcome.path, onnx_uri=None, serving_reason=outcome.reason)
    onnx_uri = f"{prefix}{ONNX_FILE}"
    return replace(
        manifest,
        serving=outcome.path,
        onnx_uri=onnx_uri,
        serving_reason=outcome.reason,
        files={**manifest.files, onnx_uri: manifests.put_file(onnx_uri, outcome.onnx)},
    )


def audit(settings: Settings, model_name: str, at: datetime, record: dict[str, Any]) -> None:
    """One JSON document per decision, named so that listing the prefix reads in time order,
    and locked: S3 Object Lock in governance mode keeps it for :data:`AUDIT_RETENTION` (only a
    principal allowed to bypass governance retention could delete it, and the bucket policy
    refuses deletes under audit/ to everyone)."""
    # Decisions can share a (virtual) instant: the wall-clock nanoseconds keep them in order.
    key = (
        f"{Prefix.AUDIT.value}{model_name}/{at:%Y-%m-%dT%H%M%S}-{time.time_ns()}-"
        f"{record['action']}-v{record['version']}.json"
    )
    # Retention counts from the wall clock: S3 refuses a date in its past (a virtual clock's).
    s3.put_json(
        s3.uri(settings.artifacts_bucket, key),
        {"at": at.isoformat(), **record},
        ObjectLockMode="GOVERNANCE",
        ObjectLockRetainUntilDate=datetime.now(UTC) + AUDIT_RETENTION,
    )


# How long an audit record is locked: longer than any review or regulation we know of asks.
AUDIT_RETENTION = timedelta(days=3653)


def audit_log(settings: Settings, model_name: str) -> list[dict[str, Any]]:
    """Every recorded decision, oldest first."""
    prefix = f"{Prefix.AUDIT.value}{model_name}/"
    return [
        s3.get_json(s3.uri(settings.artifacts_bucket, key)) for key in s3.list_keys(settings.artifacts_bucket, prefix)
    ]


def promote(
    settings: Settings,
    registry: Registry,
    model_name: str,
    version: str,
    *,
    reason: str,
    at: datetime,
    by: str,
    action: str = "promote",
    resume: bool = False,
    force: bool = False,
    previous: str | None = None,
    ports: RailsPorts | None = None,
    gate: dict[str, Any] | None = None,
    lock_sha256: str | None = None,
) -> Manifest:
    """Serve ``version``: aliases, then the manifest (the commit point: what inference
    serves), then the event and the audit record. With ``resume``, a promotion of the same
    version for the same reason that stopped after its commit point is finished instead of
    refused (a retried training step). A version the gate rejected is refused unless
    ``force``, and the audit record says it was forced. ``previous``: what the version replaces
    in the history (default: the current champion; a rollback names the one below it).
    ``gate``: the gate's comparison when the gate decided this promotion (the audit record
    carries it, as a rejection's does: the manifest's metrics are the version's own holdout's).
    ``lock_sha256``: the lock this promotion applies (`mlrails release apply`); the manifest
    records it, and a promotion without one serves whatever lock inference is pinned to."""
    ports = ports or RailsPorts.deployed(settings)
    body = s3.get_optional(candidate_uri(settings, model_name, version))
    if body is None:
        raise PromotionError(f"{model_name} v{version} has no candidate manifest: was it trained by mlrails?")
    current = manifests.read_current(settings.artifacts_bucket, model_name)
    committed = current is not None and current.version == version
    if committed and not (resume and current.reason == reason):
        raise PromotionError(f"{model_name} v{version} is already the champion")
    log = audit_log(settings, model_name)
    rejected = gate_rejection(log, version)
    if rejected is not None and action == "promote" and not force:
        raise PromotionError(
            f"{model_name} v{version} was rejected by the gate ({rejected}): promote it with --force to "
            "overrule the gate (the audit log records that you did)"
        )
    if committed:
        manifest, previous = current, current.previous_version
    else:
        previous = previous if action == "rollback" else (current.version if current else None)
        manifest = replace(
            Manifest.from_json(body),
            promoted_at=at.isoformat(),
            reason=reason,
            previous_version=previous,
            lock_sha256=lock_sha256,
        )
        if not manifest.serving_reason:  # trained here: not compiled yet
            manifest = compile_champion(settings, manifest)
        registry.tag_version(version, **{"serving.path": manifest.serving, "serving.reason": manifest.serving_reason})
    if previous:
        registry.set_alias(PREVIOUS, previous)
    elif action == "rollback":  # back at the first champion: nothing before it
        registry.drop_alias(PREVIOUS)
    registry.set_alias(CHAMPION, version)
    try:
        current_uri = ports.write_current(manifest)
    except Exception:
        if not committed and current is not None:  # put the aliases back where the manifest still is
            registry.set_alias(CHAMPION, current.version)
            if current.previous_version:
                registry.set_alias(PREVIOUS, current.previous_version)
        raise
    ports.publish(
        ModelPromoted(model_name, settings.environment, version, previous, current_uri, manifest.metrics, reason), at
    )
    audit(
        settings,
        model_name,
        at,
        {
            "action": action,
            "version": version,
            "previous_version": previous,
            "by": by,
            "reason": reason,
            "metrics": manifest.metrics,
            "serving": manifest.serving,
            "serving_reason": manifest.serving_reason,
            **({"forced_over": rejected} if rejected is not None and force else {}),
            **({"gate": gate} if gate is not None else {}),
        },
    )
    return manifest


def gate_rejection(log: list[dict[str, Any]], version: str) -> str | None:
    """Why the gate rejected ``version``, when its newest gate decision in ``log`` is a
    rejection (None: never rejected, or promoted since)."""
    decisions = [r for r in log if r["version"] == version and r["action"] in ("promote", "reject", "recommend")]
    return decisions[-1]["reason"] if decisions and decisions[-1]["action"] == "reject" else None


def served_history(log: list[dict[str, Any]]) -> list[str]:
    """The champions in the order they were put in place, as a stack ``log`` (the audit log,
    oldest first) builds: a promotion pushes its version, a rollback takes the top off. The
    top is the champion; the one below it is what a rollback goes back to."""
    stack: list[str] = []
    for record in log:
        if record["action"] == "promote":
            stack.append(record["version"])
        elif record["action"] == "rollback" and stack:
            stack.pop()
    return stack


def rollback(settings: Settings, registry: Registry, model_name: str, *, at: datetime, by: str) -> Manifest:
    """Serve the champion before this one again, walking back through the promotion history:
    after v1, v2, v3, rollbacks serve v2, then v1 (never back and forth between two)."""
    current = manifests.read_current(settings.artifacts_bucket, model_name)
    history = served_history(audit_log(settings, model_name))
    if current is None or len(history) < 2 or history[-1] != current.version:
        raise PromotionError(f"{model_name} has no earlier champion to roll back to")
    return promote(
        settings,
        registry,
        model_name,
        history[-2],
        reason=f"rollback from v{current.version}",
        at=at,
        by=by,
        action="rollback",
        previous=history[-3] if len(history) > 2 else None,
    )
