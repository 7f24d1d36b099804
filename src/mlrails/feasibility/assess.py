"""The check itself, pure: a raw table and the config in, a :class:`Report` out.

No AWS, no files, no environment: :mod:`mlrails.feasibility.runner` reads the data and
writes the results.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import pandas as pd

from mlrails.config import ProjectConfig
from mlrails.feasibility import data as data_checks
from mlrails.feasibility.action import SERVING_OVERHEAD_MS, action_answer, measure_prediction_ms
from mlrails.feasibility.frame import CheckError, TypedData, type_columns
from mlrails.feasibility.leakage import leakage_findings, single_feature_scores, suspects
from mlrails.feasibility.options import CheckOptions
from mlrails.feasibility.value import Estimate, ModelingData, estimate, modeling_data, value_answer
from mlrails.feasibility.verdicts import Finding, Report

Progress = Callable[[str], None]
# Findings after which no model can be scored: the value question is then "unknown".
_UNSCORABLE = {"label_missing", "single_class", "constant_label"}


def _labelled_sample(typed: TypedData, cfg: ProjectConfig, options: CheckOptions) -> pd.DataFrame:
    labelled = typed.frame.dropna(subset=[cfg.dataset.target])
    if len(labelled) > options.sample_rows:
        labelled = labelled.sample(options.sample_rows, random_state=options.seed)
    return labelled


def assess(
    cfg: ProjectConfig,
    raw: pd.DataFrame,
    data_uri: str,
    options: CheckOptions | None = None,
    progress: Progress = lambda _: None,
) -> Report:
    """Answer the three questions for ``raw`` (as read from ``data_uri``).

    Raises :class:`CheckError` when the config does not describe the data."""
    options = options or CheckOptions()
    started = time.perf_counter()
    progress(f"profiling {len(raw):,} rows")
    typed = type_columns(raw, cfg.dataset)
    findings: list[Finding] = []
    evidence: dict = {}
    for found, facts in (
        data_checks.volume_findings(typed, cfg),
        data_checks.column_findings(typed, cfg, options),
        data_checks.duplicate_findings(typed, options),
        data_checks.label_findings(typed, cfg, options),
        data_checks.drift_findings(typed, cfg),
    ):
        findings += found
        evidence.update(facts)
    scorable = not any(f.code in _UNSCORABLE for f in findings)

    scores = []
    if scorable:
        progress("leakage: each feature alone against the label")
        labelled = _labelled_sample(typed, cfg, options)
        scores = single_feature_scores(labelled, labelled[cfg.dataset.target], cfg, options)
    leaks = leakage_findings(scores, cfg, options)
    findings += leaks
    leaking = suspects(leaks)
    evidence["leakage"] = {
        "threshold": options.leakage_score,
        "single_feature": {s.column: round(s.score, 4) for s in scores},
        "metric": scores[0].metric if scores else None,
        "suspects": [
            {
                "column": s.column,
                "score": round(s.score, 4),
                "profile": [{"group": g, "rows": n, "outcome": round(v, 4)} for g, n, v in s.profile],
            }
            for s in scores
            if s.column in leaking
        ],
    }
    data_answer = data_checks.data_answer(findings, evidence)

    result: Estimate | None = None
    modeling: ModelingData | None = None
    why_not = "the data has no usable labels" if not scorable else None
    if scorable:
        modeling = modeling_data(typed.frame, cfg, leaking, options)
        try:
            result = estimate(modeling, cfg, options, progress)
        except CheckError as exc:
            why_not = exc.message
        except ValueError as exc:  # the estimator refused the data (NaN, dtypes): say so, not a traceback
            why_not = f"the quick model ({exc.__class__.__name__}) failed: {exc}"
    value = value_answer(cfg, result, modeling, why_not)

    model_ms = None
    if result is not None and modeling is not None:
        progress("timing one prediction through the serving protocol")
        model_ms = measure_prediction_ms(result.model, modeling.x.iloc[:1], cfg)
    overhead = SERVING_OVERHEAD_MS if options.serving_overhead_ms is None else options.serving_overhead_ms
    action = action_answer(cfg, model_ms, overhead)
    return Report(
        project=cfg.project,
        data_uri=data_uri,
        rows=typed.rows,
        columns=[str(c) for c in raw.columns],
        answers=(data_answer, action, value),
        seconds=time.perf_counter() - started,
    )
