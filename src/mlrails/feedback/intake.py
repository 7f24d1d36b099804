"""Ground truth fed back by prediction id (joined to captures by the performance check).

Labels decide what the promotion gate and the performance check believe, so they are taken
only through the feedback API's own credential, and item by item: a label for an id this
service did not issue (:mod:`mlrails.serving.prediction_ids`) or outside the task's domain is
refused with its reason while the others are stored. Each stored label records the
credential that sent it (:data:`LABELLED_BY`); readers count only labels that carry one
(:func:`mlrails.feedback.labels.trusted`).
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from mlrails.errors import BadRequest, FeedbackRefused, PayloadTooLarge
from mlrails.serving.protocol import MAX_BODY_BYTES, MAX_CELL_CHARS, load_json
from mlrails.wiring import Prefix

MAX_ITEMS = 10_000


def parse_feedback(body: bytes) -> list[dict[str, Any]]:
    """``{"prediction_id", "label"}`` or ``{"items": [...]}`` → validated items."""
    if len(body) > MAX_BODY_BYTES:  # the same limit as /invocations, before any parsing
        raise PayloadTooLarge(f"body is {len(body)} bytes; the limit is {MAX_BODY_BYTES}")
    document = load_json(body)
    items = document.get("items") if isinstance(document, dict) and "items" in document else [document]
    if not isinstance(items, list) or not items:
        raise BadRequest("'items' must be a non-empty list of {prediction_id, label}")
    if len(items) > MAX_ITEMS:
        raise BadRequest(f"{len(items)} items exceed the limit of {MAX_ITEMS}")
    for i, item in enumerate(items):
        if not isinstance(item, dict) or set(item) != {"prediction_id", "label"}:
            raise BadRequest(f"item {i} must be exactly {{prediction_id, label}}", details={"item": i})
        if not isinstance(item["prediction_id"], str) or not item["prediction_id"]:
            raise BadRequest(f"item {i}: prediction_id must be a non-empty string", details={"item": i})
        if item["label"] is None or isinstance(item["label"], (dict, list)):
            raise BadRequest(f"item {i}: label must be a scalar", details={"item": i})
        # Both are written to feedback/ and joined on: an id or a label is short text.
        for field in ("prediction_id", "label"):
            if len(str(item[field])) > MAX_CELL_CHARS:
                raise BadRequest(
                    f"item {i}: {field} has {len(str(item[field]))} characters; the limit is {MAX_CELL_CHARS}",
                    details={"item": i, "limit": MAX_CELL_CHARS},
                )
    return items


def feedback_key(at: datetime, request_id: str) -> str:
    """Date-partitioned, like captures."""
    return f"{Prefix.FEEDBACK.value}date={at:%Y-%m-%d}/{request_id}.jsonl"


# The field of a stored label that names the credential that sent it: "api_key:<API key id>"
# or "iam:<caller ARN>", as API Gateway's request context gave them to the function.
LABELLED_BY = "labelled_by"
CREDENTIAL_KINDS = ("api_key:", "iam:")


def credential(identity: dict[str, Any]) -> str | None:
    """The credential of a request, from API Gateway's ``requestContext.identity`` (never from
    the body, which the caller writes): the API key's id under ``auth: api_key``, the caller's
    ARN under ``auth: iam``; None when the request carries neither."""
    key_id, caller = identity.get("apiKeyId"), identity.get("userArn")
    if isinstance(key_id, str) and key_id:
        return f"api_key:{key_id}"
    if isinstance(caller, str) and caller:
        return f"iam:{caller}"
    return None


# Why an item was refused (the ``reason`` of each entry in a 422's ``details.refused``).
UNKNOWN_PREDICTION_ID = "UNKNOWN_PREDICTION_ID"
LABEL_OUT_OF_DOMAIN = "LABEL_OUT_OF_DOMAIN"


@dataclass(frozen=True)
class Refusal:
    """An item refused, by its index in the request."""

    item: int
    reason: str
    message: str

    def to_body(self) -> dict[str, Any]:
        """What the caller receives for it."""
        return {"item": self.item, "reason": self.reason, "message": self.message}


def _kind(value: Any) -> tuple[str, Any] | None:
    """A label (or class) as what it names: ("number", 1) for 1, 1.0 and "1" alike (training
    reads a target column of digits as numbers, :func:`mlrails.data.dataset.class_labels`),
    ("bool", True) for a boolean, else ("text", the string). None for no class at all."""
    if isinstance(value, bool):
        return ("bool", value)
    if isinstance(value, (int, float)):
        return ("number", value) if math.isfinite(value) else None
    if isinstance(value, str):
        try:
            number = float(value)
        except ValueError:
            return ("text", value)
        return ("number", number) if math.isfinite(number) else ("text", value)
    return None


def domain_label(label: Any, task: str, classes: Sequence[Any] | None) -> tuple[Any, str | None]:
    """``(the label as stored, None)`` when ``label`` is in the task's domain, else
    ``(None, why not)``. A classification label must name one of the champion's ``classes``
    and is stored as that class ("1" becomes 1 when the classes are 0 and 1; ``true`` is not
    1); a regression label must be a finite number (a numeric string is read as one)."""
    if task == "regression":
        kind = _kind(label)
        if kind is None or kind[0] != "number":
            return None, f"label {label!r} is not a finite number"
        return float(kind[1]), None
    named = {_kind(c): c for c in classes or []}
    kind = _kind(label)
    if kind is None or kind not in named:
        return None, f"label {label!r} is not one of the model's classes {list(classes or [])}"
    return named[kind], None


def judge(
    items: list[dict[str, Any]], *, task: str, classes: Sequence[Any] | None, issued: Callable[[str], bool]
) -> tuple[list[dict[str, Any]], list[Refusal]]:
    """Split parsed items into the labels to store (each as :func:`domain_label` stores it)
    and the refusals: an id ``issued`` does not recognise, or a label outside the domain."""
    accepted, refused = [], []
    for i, item in enumerate(items):
        if not issued(item["prediction_id"]):
            refused.append(Refusal(i, UNKNOWN_PREDICTION_ID, "prediction_id was not issued by this service"))
            continue
        label, why = domain_label(item["label"], task, classes)
        if why is not None:
            refused.append(Refusal(i, LABEL_OUT_OF_DOMAIN, why))
            continue
        accepted.append({"prediction_id": item["prediction_id"], "label": label})
    return accepted, refused


def refusal_error(accepted: int, refused: list[Refusal]) -> FeedbackRefused:
    """The 422 for a request with refused items (the accepted ones are stored all the same)."""
    return FeedbackRefused(
        f"{len(refused)} item(s) refused, {accepted} accepted and stored",
        details={"accepted": accepted, "refused": [r.to_body() for r in refused]},
    )


def feedback_lines(items: list[dict[str, Any]], at: datetime, labelled_by: str) -> bytes:
    """One JSON line per label, stamped with its arrival time (labels may come late) and the
    credential that sent it."""
    stamp = at.isoformat()
    return "".join(
        json.dumps({**item, "received_at": stamp, LABELLED_BY: labelled_by}) + "\n" for item in items
    ).encode()
