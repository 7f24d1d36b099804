"""Operator commands (`mlrails promote | rollback | models`) as requests to the train function.

A person's command and the gate take the same rails, and in the cloud they must also take the
same road: only the train function sits in the VPC next to MLflow, holds the grants on the
manifests and the registry, and publishes ``Model*`` events. So an operator command is a
request the train function runs, through its IAM-authenticated function URL (in AWS; the local
runtime sends the same request). Who asked and when are what that request's context says
(Lambda sets them from the signature it verified), never what its body says: the body holds
only the command. Training steps are not reachable this way: the URL carries commands only,
and only the state machine may invoke the function directly. This module is both ends: the
command's shape and what the function does with it.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal, get_args

from mlrails.errors import BadRequest, MlrailsError
from mlrails.promotion.gate import GATE, Comparison

if TYPE_CHECKING:
    from mlrails.adapters.registry import Registry
    from mlrails.serving.manifest import Manifest
    from mlrails.settings import Settings

Action = Literal["promote", "rollback", "models", "lock", "apply"]


class OperationRefused(MlrailsError):
    """The function refused or failed the command; its message is passed on."""

    status = 409
    error_code = "OPERATION_REFUSED"


@dataclass(frozen=True)
class Operation:
    """One operator command: the body of the request."""

    action: Action
    version: str | None = None
    reason: str = "manual promotion"
    force: bool = False  # promote a version the gate rejected (the audit log says so)
    lock: str | None = None  # apply: the lock's text, as committed (mlrails.promotion.lock)
    commit: str | None = None  # apply: the repository's commit the lock was read at

    def to_body(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_body(cls, body: Any) -> Operation:
        """Validate a request body; a malformed one is a :class:`BadRequest`. ``by`` and ``at``
        are refused like any unknown field: the caller does not say who or when."""
        if not isinstance(body, dict):
            raise BadRequest('an operator command is a JSON object {"action": ..., ...}')
        unknown = sorted(set(body) - set(cls.__dataclass_fields__))
        if unknown:
            raise BadRequest(f"unknown operation field(s) {unknown}", details={"unknown": unknown})
        if body.get("action") not in get_args(Action):
            raise BadRequest(
                f"operation.action must be one of {list(get_args(Action))}", details={"action": body.get("action")}
            )
        if body["action"] == "promote" and not body.get("version"):
            raise BadRequest("promote needs operation.version")
        if not isinstance(body.get("reason", ""), str):
            raise BadRequest("operation.reason must be a string")
        if not isinstance(body.get("force", False), bool):
            raise BadRequest("operation.force must be true or false")
        if body["action"] == "apply" and not isinstance(body.get("lock"), str):
            raise BadRequest("apply needs operation.lock, the lock file's text")
        for name in ("lock", "commit"):
            if body.get(name) is not None and not isinstance(body[name], str):
                raise BadRequest(f"operation.{name} must be a string")
        return cls(**{**body, "version": None if body.get("version") is None else str(body["version"])})


@dataclass(frozen=True)
class Caller:
    """Who sent a command and when, from the request's context."""

    by: str  # the IAM principal's ARN (locally, the local user)
    at: datetime


def from_url_request(event: dict[str, Any]) -> tuple[Operation, Caller]:
    """A function URL request (payload 2.0) → the command and its caller. The caller's ARN and
    the request time are the ones Lambda puts in ``requestContext`` after checking the SigV4
    signature; a request without them did not come through the IAM-authenticated URL."""
    context = event.get("requestContext") or {}
    principal = ((context.get("authorizer") or {}).get("iam") or {}).get("userArn")
    epoch_ms = context.get("timeEpoch")
    if not isinstance(principal, str) or not principal or not isinstance(epoch_ms, int):
        raise BadRequest(
            "operator commands come through the function URL with IAM authentication: "
            "this request carries no verified caller"
        )
    body = event.get("body") or ""
    try:
        text = base64.b64decode(body, validate=True).decode() if event.get("isBase64Encoded") else body
        document = json.loads(text)
    except (binascii.Error, UnicodeDecodeError, ValueError) as exc:
        raise BadRequest(f"the command is not JSON: {exc}") from exc
    return Operation.from_body(document), Caller(principal, datetime.fromtimestamp(epoch_ms / 1000, UTC))


def is_url_request(event: dict[str, Any]) -> bool:
    """Whether ``event`` came through a function URL (an HTTP request, payload 2.0)."""
    return event.get("version") == "2.0" and "http" in (event.get("requestContext") or {})


def http_answer(status: int, document: dict[str, Any]) -> dict[str, Any]:
    """The function URL response."""
    return {"statusCode": status, "headers": {"Content-Type": "application/json"}, "body": json.dumps(document)}


def run(
    operation: Operation, caller: Caller, settings: Settings, registry: Registry, model_name: str
) -> dict[str, Any]:
    """Carry the command out with the promotion rails; the result is plain JSON. (``lock`` and
    ``apply`` are the release's: :func:`mlrails.release.transfer.run`.)"""
    from mlrails.promotion import rails  # MLflow: the function's side only, not the caller's

    if operation.action == "models":
        current = rails.current(settings, model_name)
        return {
            **listing(registry.versions(), rails.audit_log(settings, model_name)),
            "serving_lock": current.lock_sha256 if current else None,
        }
    if operation.action == "rollback":
        manifest = rails.rollback(settings, registry, model_name, at=caller.at, by=caller.by)
    else:
        manifest = rails.promote(
            settings,
            registry,
            model_name,
            operation.version,
            reason=operation.reason,
            at=caller.at,
            by=caller.by,
            force=operation.force,
        )
    return {"champion": champion_summary(manifest)}


def listing(versions: list[dict[str, Any]], log: list[dict[str, Any]]) -> dict[str, Any]:
    """What `mlrails models` shows: each registry version (newest first) with its own holdout's
    metrics; ``gate``, the gate's comparison on the same rows (:class:`Comparison`, from its
    ``gate.*`` tags; None when none was recorded); ``serving``, the path it was promoted with and
    why (its ``serving.*`` tags; None when never promoted); ``decision``, the gate's newest
    (``promoted`` or ``rejected``, from the audit log; None when the gate never decided), and
    ``forced_by``, who promoted it over the gate's rejection. Then ``audit``, the audit log."""
    rows = []
    for row in versions:
        tags, version = row["tags"], row["version"]
        comparison = Comparison.from_tags(tags)
        mine = [record for record in log if record["version"] == version]
        gated = [r["action"] for r in mine if r["by"] == GATE and r["action"] in ("promote", "reject", "recommend")]
        forced = [r["by"] for r in mine if "forced_over" in r]
        rows.append(
            {
                **{key: value for key, value in row.items() if key != "tags"},
                "gate": None if comparison is None else asdict(comparison),
                "serving": (
                    {"path": tags["serving.path"], "reason": tags["serving.reason"]} if "serving.path" in tags else None
                ),
                "decision": {"promote": "promoted", "reject": "rejected", "recommend": "recommended"}[gated[-1]]
                if gated
                else None,
                "forced_by": forced[-1] if forced else None,
            }
        )
    return {"versions": rows, "audit": log}


def unwrap(status: int, body: bytes | str) -> dict[str, Any]:
    """The caller's side: the result of a 200, or the function's refusal (or crash) raised as
    :class:`OperationRefused`."""
    try:
        document = json.loads(body or b"null")
    except ValueError:
        document = None
    if status == 200 and isinstance(document, dict):
        return document
    if isinstance(document, dict) and isinstance(document.get("message"), str):
        raise OperationRefused(document["message"], details=document)
    text = body.decode(errors="replace") if isinstance(body, bytes) else body
    raise OperationRefused(f"the operator function answered {status}: {text[:500]}")


def champion_summary(manifest: Manifest) -> dict[str, Any]:
    """What a command that changed the champion answers about it."""
    return {
        "version": manifest.version,
        "previous_version": manifest.previous_version,
        "reason": manifest.reason,
        "promoted_at": manifest.promoted_at,
        "lock_sha256": manifest.lock_sha256,
    }
