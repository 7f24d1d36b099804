"""Compiling a champion to ONNX, and proving the graph answers as the scikit-learn model does.

Run at promotion (:mod:`mlrails.promotion.rails`), on the holdout saved with the candidate. The
compiled graph is served only when, on every holdout row:

- classifiers: the labels are identical, and each class probability is within
  :data:`PROBABILITY_TOLERANCE` (absolute) of ``predict_proba``;
- regressors: each value is within ``VALUE_ATOL + VALUE_RTOL * |expected|`` of ``predict``.

The graph computes in float32 where scikit-learn computes in float64 (its trees already compare
in float32); the tolerances leave room for that rounding, which is ~1e-7 on probabilities
and ~1e-7 relative on values, and none for a wrong answer.

The rows reach the graph the way requests do: serialized as a ``dataframe_split`` body, parsed
and typed by :func:`mlrails.serving.protocol.parse_request`, fed by the serving predictor
(:class:`mlrails.serving.predictors.OnnxPredictor`). A difference between how serving builds the
graph's inputs and how conversion declared them fails verification here, not in production.

Whatever fails (no converter, a graph onnxruntime refuses, a difference beyond tolerance), the
outcome says why and the champion is served by scikit-learn (the ``skops`` path).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import is_classifier

from mlrails.errors import BadRequest
from mlrails.serving.predictors import OnnxPredictor, ServingPath
from mlrails.serving.protocol import MAX_ROWS, Batch, Column, parse_request

PROBABILITY_TOLERANCE = 1e-4
VALUE_ATOL = 1e-4
VALUE_RTOL = 1e-5
# Holdout rows per parsed request: well under the protocol's body-size limit.
CHUNK_ROWS = min(MAX_ROWS, 1000)
_REASON_CHARS = 500  # a reason is stored in the manifest and as an MLflow tag


@dataclass(frozen=True)
class Compilation:
    """Which path serves the champion and why; ``onnx`` holds the verified graph."""

    path: ServingPath
    reason: str
    onnx: bytes | None = None


def compile_model(
    model: Any, columns: Sequence[Column], classes: list[Any] | None, holdout: pd.DataFrame
) -> Compilation:
    """Convert ``model`` with skl2onnx and verify the graph on ``holdout``."""
    try:
        blob = convert(model, columns)
        predictor = OnnxPredictor(blob, columns, classes)
    # skl2onnx and onnxruntime raise whatever their internals do (RuntimeError for a missing
    # converter, ValueError/TypeError for unsupported attributes, onnxruntime's Fail...): each
    # one only means this model is served by scikit-learn.
    except Exception as exc:
        return _fallback(f"ONNX conversion failed: {type(exc).__name__}: {exc}")
    try:
        problem = verify(model, predictor, columns, holdout)
    except BadRequest as exc:
        return _fallback(f"the holdout cannot be sent as a request: {exc.message}")
    if problem:
        return _fallback(f"ONNX verification failed: {problem}")
    kind = "labels identical, probabilities" if is_classifier(model) else "values"
    return Compilation("onnx", f"verified on {len(holdout)} holdout rows: {kind} within tolerance", blob)


def convert(model: Any, columns: Sequence[Column]) -> bytes:
    """The ONNX graph of ``model``: one ``[rows, 1]`` input per feature, float32 for numbers,
    strings for categories; classifiers output labels then a plain probability tensor."""
    from skl2onnx import to_onnx
    from skl2onnx.common.data_types import FloatTensorType, StringTensorType

    inputs = [
        (c.name, FloatTensorType([None, 1]) if c.type == "numeric" else StringTensorType([None, 1])) for c in columns
    ]
    options = {"zipmap": False} if is_classifier(model) else None
    return to_onnx(model, initial_types=inputs, options=options).SerializeToString()


def verify(model: Any, predictor: OnnxPredictor, columns: Sequence[Column], holdout: pd.DataFrame) -> str | None:
    """None when the graph answers as ``model`` on every holdout row, else what differs."""
    frame = holdout[[c.name for c in columns]].reset_index(drop=True)
    for start, batch in _requests(frame, columns):
        rows = frame.iloc[start : start + batch.rows]
        predictions, probabilities = predictor.predict(batch)
        expected = model.predict(rows)
        if is_classifier(model):
            wrong = [i for i, (got, want) in enumerate(zip(predictions, expected.tolist())) if got != want]
            if wrong:
                return (
                    f"{len(wrong)} label(s) differ, first at holdout row {start + wrong[0]}: "
                    f"{predictions[wrong[0]]!r} instead of {expected[wrong[0]]!r}"
                )
            if hasattr(model, "predict_proba"):
                got = np.array([[row[str(c)] for c in model.classes_] for row in probabilities or []])
                error = float(np.max(np.abs(got - model.predict_proba(rows)))) if got.size else float("inf")
                if not error <= PROBABILITY_TOLERANCE:
                    return f"probabilities differ by up to {error:.3g} (tolerance {PROBABILITY_TOLERANCE:g})"
        else:
            got, want = np.asarray(predictions, dtype=float), np.asarray(expected, dtype=float)
            allowed = VALUE_ATOL + VALUE_RTOL * np.abs(want)
            excess = np.abs(got - want) - allowed
            if not np.all(excess <= 0):
                worst = int(np.nanargmax(np.where(np.isnan(excess), np.inf, excess)))
                return (
                    f"value at holdout row {start + worst} is {got[worst]!r} instead of {want[worst]!r} "
                    f"(tolerance {VALUE_ATOL:g} + {VALUE_RTOL:g} x |value|)"
                )
    return None


def _requests(frame: pd.DataFrame, columns: Sequence[Column]) -> Iterator[tuple[int, Batch]]:
    """The holdout as scoring requests (asking for probabilities), parsed as inference parses them."""
    for start in range(0, len(frame), CHUNK_ROWS):
        chunk = frame.iloc[start : start + CHUNK_ROWS]
        # 15 digits: the most pandas writes; the graph reads float32 (~7) anyway. NaN -> null.
        split = json.loads(chunk.to_json(orient="split", index=False, double_precision=15))
        body = json.dumps({"dataframe_split": split, "params": {"probabilities": True}}).encode()
        yield start, parse_request(body, "application/json", columns, max_rows=CHUNK_ROWS)


def _fallback(reason: str) -> Compilation:
    return Compilation("skops", reason if len(reason) <= _REASON_CHARS else reason[: _REASON_CHARS - 3] + "...")
