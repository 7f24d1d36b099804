"""Operator commands (`mlrails promote | rollback | models`) as events for the train function.

A person's command and the gate take the same rails, and in the cloud they must also take the
same road: only the train function sits in the VPC next to MLflow, holds the grants on the
manifests and the registry, and publishes ``Model*`` events. So an operator command is an
event the train function runs — invoked locally by the runtime, in AWS by ``lambda:Invoke``
(IAM-authenticated; CloudTrail records the real caller). This module is both ends: the
event's shape and what the function does with it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal, get_args

from mlrails.errors import BadRequest, MlrailsError

if TYPE_CHECKING:
    from mlrails.manifest import Manifest
    from mlrails.registry import Registry
    from mlrails.settings import Settings

Action = Literal["promote", "rollback", "models"]
EVENT_KEY = "operation"


class OperationRefused(MlrailsError):
    """The function refused or failed the command; its message is passed on."""

    status = 409
    error_code = "OPERATION_REFUSED"


@dataclass(frozen=True)
class Operation:
    """One operator command. ``at`` is the caller's clock (the runtime's virtual time
    locally); ``by`` is who the caller says they are (the STS identity in AWS)."""

    action: Action
    at: str
    by: str
    version: str | None = None
    reason: str = "manual promotion"

    def to_event(self) -> dict[str, Any]:
        return {EVENT_KEY: asdict(self)}

    @classmethod
    def from_event(cls, event: dict[str, Any]) -> Operation:
        """Validate an invocation payload; a malformed one is a :class:`BadRequest`."""
        body = event.get(EVENT_KEY)
        if not isinstance(body, dict):
            raise BadRequest(f"an operator event is {{'{EVENT_KEY}': {{...}}}}")
        unknown = sorted(set(body) - set(cls.__dataclass_fields__))
        if unknown:
            raise BadRequest(f"unknown operation field(s) {unknown}", details={"unknown": unknown})
        if body.get("action") not in get_args(Action):
            raise BadRequest(f"operation.action must be one of {list(get_args(Action))}",
                             details={"action": body.get("action")})
        if body["action"] == "promote" and not body.get("version"):
            raise BadRequest("promote needs operation.version")
        for name in ("at", "by"):
            if not isinstance(body.get(name), str) or not body[name]:
                raise BadRequest(f"operation.{name} must be a non-empty string")
        try:
            datetime.fromisoformat(body["at"])
        except ValueError as exc:
            raise BadRequest(f"operation.at is not an ISO time: {exc}") from exc
        return cls(**{**body, "version": None if body.get("version") is None else str(body["version"])})


def run(operation: Operation, settings: Settings, registry: Registry, model_name: str) -> dict[str, Any]:
    """Carry the command out with the promotion rails; the result is plain JSON."""
    from mlrails import promotion  # MLflow: the function's side only, not the caller's

    at = datetime.fromisoformat(operation.at)
    if operation.action == "models":
        return {"versions": registry.versions(), "audit": promotion.audit_log(settings, model_name)}
    if operation.action == "rollback":
        manifest = promotion.rollback(settings, registry, model_name, at=at, by=operation.by)
    else:
        manifest = promotion.promote(settings, registry, model_name, operation.version, reason=operation.reason,
                                     at=at, by=operation.by)
    return {"champion": _summary(manifest)}


def unwrap(result: Any) -> dict[str, Any]:
    """The caller's side: a result, or the function's refusal raised as :class:`OperationRefused`."""
    if isinstance(result, dict) and isinstance(result.get("error"), dict):
        raise OperationRefused(result["error"].get("message", "refused"), details=result["error"])
    if not isinstance(result, dict):
        raise OperationRefused(f"unexpected answer from the operator function: {result!r}")
    return result


def _summary(manifest: Manifest) -> dict[str, Any]:
    return {"version": manifest.version, "previous_version": manifest.previous_version, "reason": manifest.reason,
            "promoted_at": manifest.promoted_at}
