"""The container's side of the capture stream: each sampled request is held in a per-stream
:class:`mlrails.capture.records.CaptureBuffer` and sent with one ``PutRecordBatch`` when due.

The buffers are module state on purpose: in Lambda a module lives exactly as long as its
container, which is what a per-container buffer must do (like the cached boto3 clients), and
the local runtime, whose handlers share one process, flushes the very same buffer with
:func:`flush` before a monitoring check reads the captures, without knowing the handler's
insides. Tests and the runtime forget it with the other per-container caches
(:func:`discard`, from ``deployed.reset``).
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

from mlrails.adapters import delivery
from mlrails.capture.records import CaptureBuffer, Scored
from mlrails.config import Capture
from mlrails.serving.protocol import Batch

# One buffer per stream, for the container's life (see the module's docstring).
_BUFFERS: dict[str, CaptureBuffer] = {}


def capture(
    stream: str,
    rules: Capture,
    *,
    batch: Batch,
    predictions: list[Any],
    probabilities: list[dict[str, float]] | None,
    ids: list[str],
    model_name: str,
    model_version: str,
    at: datetime,
    clock: Callable[[], float] = time.monotonic,
) -> int:
    """Buffer a sampled request and send the buffer when it is due (checked on
    every request, sampled or not); returns how many records a send made now did *not* get
    accepted (0 when nothing was sent). Best effort: a prediction already made is not turned
    into an error because monitoring could not record it (the caller counts the failures)."""
    buffer = _BUFFERS.setdefault(stream, CaptureBuffer(delivery.MAX_BATCH_BYTES))
    if random.random() < rules.sample_rate:
        buffer.add(Scored(batch, predictions, ids, model_name, model_version, at, probabilities), clock())
    due = buffer.take_due(clock(), rules)
    return delivery.put_records(stream, due) if due else 0


def flush() -> int:
    """Send every buffered record now (the local runtime, before anything reads captures);
    returns how many were not accepted."""
    return sum(
        delivery.put_records(stream, taken) for stream, buffer in list(_BUFFERS.items()) if (taken := buffer.take())
    )


def discard() -> None:
    """Forget the buffered records, as a container that goes away does."""
    _BUFFERS.clear()
