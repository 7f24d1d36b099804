"""Ground truth fed back by prediction id (joined to captures by the performance check)."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from mlrails.errors import BadRequest, PayloadTooLarge
from mlrails.protocol import MAX_BODY_BYTES, MAX_CELL_CHARS, load_json
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
                raise BadRequest(f"item {i}: {field} has {len(str(item[field]))} characters; the limit is "
                                 f"{MAX_CELL_CHARS}", details={"item": i, "limit": MAX_CELL_CHARS})
    return items


def feedback_key(at: datetime, request_id: str) -> str:
    """Date-partitioned, like captures."""
    return f"{Prefix.FEEDBACK.value}date={at:%Y-%m-%d}/{request_id}.jsonl"


def feedback_lines(items: list[dict[str, Any]], at: datetime) -> bytes:
    """One JSON line per label, stamped with its arrival time (labels may come late)."""
    return "".join(json.dumps({**item, "received_at": at.isoformat()}) + "\n" for item in items).encode()
