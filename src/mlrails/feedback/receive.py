"""POST /feedback, the service: who may label (the feedback API's own credential, from the
request context API Gateway fills in, never the body), which items are accepted
(:func:`mlrails.feedback.intake.judge`), and the accepted ones written to ``feedback/``."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from mlrails.adapters import s3
from mlrails.errors import Forbidden
from mlrails.feedback import intake
from mlrails.serving import prediction_ids
from mlrails.serving.manifest import Manifest
from mlrails.settings import Settings


@dataclass(frozen=True)
class Received:
    accepted: int
    refused: list[intake.Refusal]


def receive(
    body: bytes,
    request_context: dict[str, Any],
    *,
    settings: Settings,
    champion: Callable[[], Manifest],
    id_key: bytes,
    at: datetime,
) -> Received:
    """Check the credential, judge each item against ``champion()``'s task and classes and the
    ids this service signed with ``id_key``, and store the accepted ones (one object per
    request). Raises :class:`Forbidden` through any other API or without a credential, before
    the body or the champion is looked at."""
    labelled_by = intake.credential(request_context.get("identity") or {})
    if request_context.get("apiId") != settings.feedback_api_id or labelled_by is None:
        raise Forbidden("labels are taken only through the feedback API, with its own credential")
    items = intake.parse_feedback(body)
    manifest = champion()
    accepted, refused = intake.judge(
        items,
        task=manifest.task,
        classes=manifest.classes,
        issued=lambda prediction_id: prediction_ids.issued(id_key, prediction_id),
    )
    if accepted:
        s3.put_bytes(
            s3.uri(settings.data_bucket, intake.feedback_key(at, request_context.get("requestId", ""))),
            intake.feedback_lines(accepted, at, labelled_by),
            "application/x-ndjson",
        )
    return Received(len(accepted), refused)
