"""Question 2, "is there a path to action?": who consumes a prediction, what they decide,
what they do, and whether the serving path is fast enough for it.

The serving path's latency is two numbers, both reported: the model's share, measured here
(the request parsed by the inference protocol, then ``predict`` on one row — what the
inference function does per request, minus the network), and :data:`SERVING_OVERHEAD_MS`.
"""

from __future__ import annotations

import json
import statistics
import time
from typing import Any

import pandas as pd
from sklearn.base import BaseEstimator

from mlrails.config import ProjectConfig
from mlrails.feasibility.verdicts import Answer, Finding
from mlrails.serving.protocol import MAX_ROWS, Column, parse_request

# What a warm request adds around the model on the deployed path: API Gateway (REST,
# regional, API-key auth) → Lambda invoke → the handler's capture PUT to S3 → response.
# An ASSUMPTION, not a measurement (that needs a deployment): a deliberately conservative
# round figure for those hops in one region. Pass your deployment's own figure instead
# (`mlrails check --overhead-ms`): API Gateway's `Latency` minus `IntegrationLatency`
# CloudWatch metrics, plus the inference function's duration minus the model's time. Cold starts
# (seconds, the first request after idle) are not included, and the check says so.
SERVING_OVERHEAD_MS = 50.0
_TIMED_REQUESTS = 15


def measure_prediction_ms(model: BaseEstimator, row: pd.DataFrame, cfg: ProjectConfig) -> float:
    """Median milliseconds to parse a one-row JSON request and predict it, measured locally."""
    signature = [Column(f.name, f.type, f.nullable) for f in cfg.dataset.features if f.name in row.columns]
    record = {k: (None if pd.isna(v) else v.item() if hasattr(v, "item") else v) for k, v in row.iloc[0].items()}
    body = json.dumps({"dataframe_records": [record]}).encode()
    timings = []
    for _ in range(_TIMED_REQUESTS):
        started = time.perf_counter()
        batch = parse_request(body, "application/json", signature)
        model.predict(pd.DataFrame(batch.columns, columns=[c.name for c in signature]))
        timings.append((time.perf_counter() - started) * 1000)
    return statistics.median(timings)


def _source(overhead_ms: float) -> str:
    if overhead_ms == SERVING_OVERHEAD_MS:
        return (
            "assumed, not measured: API Gateway + warm Lambda + capture "
            "(mlrails.feasibility.action.SERVING_OVERHEAD_MS); cold starts excluded"
        )
    return "given with --overhead-ms; cold starts excluded"


def _missing_fields(cfg: ProjectConfig) -> list[str]:
    use_case = cfg.use_case
    missing = [f"use_case.{name}" for name in ("consumer", "decision", "action") if not getattr(use_case, name).strip()]
    if use_case.latency is None:
        missing.append("use_case.latency")
    elif use_case.latency == "online" and use_case.latency_ms is None:
        missing.append("use_case.latency_ms")
    return missing


def action_answer(cfg: ProjectConfig, model_ms: float | None, overhead_ms: float = SERVING_OVERHEAD_MS) -> Answer:
    """ "unknown" while a use_case field is missing or empty (they are named); "no" when the
    latency need is below what the serving path delivers (both numbers); else "yes"."""
    use_case = cfg.use_case
    evidence: dict[str, Any] = {
        "consumer": use_case.consumer,
        "decision": use_case.decision,
        "action": use_case.action,
        "latency": use_case.latency,
        "need_ms": use_case.latency_ms,
        "serving": {
            "model_ms": None if model_ms is None else round(model_ms, 2),
            "overhead_ms": overhead_ms,
            "overhead_source": _source(overhead_ms),
        },
    }
    missing = _missing_fields(cfg)
    if missing:
        findings = tuple(Finding("use_case_missing", "info", f"{name} is not set", column=name) for name in missing)
        return Answer("action", "unknown", f"fill in {', '.join(missing)}", findings, evidence)
    if use_case.latency == "batch":
        return Answer(
            "action",
            "yes",
            f"batch scoring (POST /invocations, up to {MAX_ROWS:,} rows a request) for {use_case.consumer}",
            (),
            evidence,
        )
    need = float(use_case.latency_ms)
    if model_ms is None:
        if need < overhead_ms:
            return Answer(
                "action",
                "no",
                f"needs {need:g} ms; the serving path alone takes ~{overhead_ms:g} ms",
                (
                    Finding(
                        "latency",
                        "blocker",
                        f"use_case.latency_ms {need:g} is below the serving path's overhead of ~{overhead_ms:g} ms",
                        value=need,
                        threshold=overhead_ms,
                    ),
                ),
                evidence,
            )
        return Answer(
            "action",
            "unknown",
            f"needs {need:g} ms; the model's time is not measured (no model could be fitted)",
            (),
            evidence,
        )
    delivered = overhead_ms + model_ms
    evidence["serving"]["total_ms"] = round(delivered, 2)
    numbers = (
        f"online, needs {need:g} ms; serving delivers ~{delivered:.0f} ms "
        f"({model_ms:.1f} ms model measured + {overhead_ms:g} ms gateway and Lambda "
        f"{'assumed' if overhead_ms == SERVING_OVERHEAD_MS else 'given'})"
    )
    cold = Finding(
        "cold_start",
        "info",
        "a cold start (the first request after idle) adds seconds; keep the "
        "function warm or use provisioned concurrency if every request must meet the need",
    )
    if need < delivered:
        return Answer(
            "action",
            "no",
            numbers,
            (
                Finding(
                    "latency",
                    "blocker",
                    f"use_case.latency_ms {need:g} is below what the serving path delivers, ~{delivered:.0f} ms",
                    value=need,
                    threshold=round(delivered, 2),
                ),
                cold,
            ),
            evidence,
        )
    return Answer("action", "yes", numbers, (cold,), evidence)
