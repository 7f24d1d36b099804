"""Question 1, "is the right data available?": findings from the data, not from trust.

Pure functions over :class:`~mlrails.feasibility.frame.TypedData`: volume and time
coverage against the configured minimums, per-column quality, duplicates, the label, and
drift between the oldest and newest thirds (the monitoring drift engine, same thresholds).
Leakage findings come from :mod:`mlrails.feasibility.leakage`.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from mlrails.config import ProjectConfig
from mlrails.drift.measures import DriftStatus, WindowCounts, drift_report, smallest_detectable
from mlrails.drift.profile import PREDICTION, build_profile
from mlrails.feasibility.frame import TypedData
from mlrails.feasibility.options import CheckOptions
from mlrails.feasibility.verdicts import Answer, Finding, blockers

# Why a blocker: the feature pipeline rejects (quarantines) a whole file with any of these.
_PIPELINE_REJECTS = "feature_prep would quarantine a file like this"


def volume_findings(data: TypedData, cfg: ProjectConfig) -> tuple[list[Finding], dict[str, Any]]:
    """Row count and time coverage against ``dataset.min_rows`` (or ``training.min_rows``)
    and ``dataset.min_coverage_days``."""
    findings: list[Finding] = []
    min_rows = cfg.dataset.min_rows or cfg.training.min_rows
    field = "dataset.min_rows" if cfg.dataset.min_rows else "training.min_rows"
    if data.rows < min_rows:
        findings.append(
            Finding(
                "too_few_rows",
                "blocker",
                f"{data.rows:,} rows; {field} asks for {min_rows:,}",
                value=data.rows,
                threshold=min_rows,
            )
        )
    timestamp = cfg.dataset.timestamp
    stamps = data.frame[timestamp].dropna() if timestamp else pd.Series(dtype="datetime64[ns, UTC]")
    days = (stamps.max() - stamps.min()).total_seconds() / 86400 if len(stamps) else 0.0
    need = cfg.dataset.min_coverage_days
    if timestamp is None:
        findings.append(
            Finding(
                "no_timestamp",
                "info" if need is None else "blocker",
                "the data has no timestamp (dataset.timestamp): rows take their arrival time, so how long "
                "a span the data covers is unknown"
                + ("" if need is None else f"; dataset.min_coverage_days asks for {need:g} days"),
            )
        )
    elif need is not None and days < need:
        findings.append(
            Finding(
                "short_time_coverage",
                "blocker",
                f"'{cfg.dataset.timestamp}' spans {days:.1f} days; dataset.min_coverage_days asks for {need:g}",
                column=cfg.dataset.timestamp,
                value=round(days, 2),
                threshold=need,
            )
        )
    evidence = {
        "rows": data.rows,
        "min_rows": min_rows,
        "coverage_days": round(days, 2),
        "min_coverage_days": need,
        "first": stamps.min().isoformat() if len(stamps) else None,
        "last": stamps.max().isoformat() if len(stamps) else None,
    }
    return findings, evidence


def _top_share(column: pd.Series) -> float:
    counts = column.dropna().astype(str).value_counts()
    return float(counts.iloc[0] / counts.sum()) if len(counts) else 1.0


def column_findings(data: TypedData, cfg: ProjectConfig, options: CheckOptions) -> tuple[list[Finding], dict]:
    """Per column: missing rate, type mismatches, constant and near-constant values,
    high-cardinality categoricals."""
    findings: list[Finding] = []
    rows = max(data.rows, 1)
    dataset = cfg.dataset
    nullable = {f.name: f.nullable for f in dataset.features}
    missing_rate = {name: count / rows for name, count in data.missing.items()}
    for name, rate in missing_rate.items():
        if rate == 0 or name == dataset.target:
            continue  # the label's holes are the label findings' business
        count = data.missing[name]
        if not nullable.get(name, False):
            findings.append(
                Finding(
                    "missing_values",
                    "blocker",
                    f"{name}: {rate:.1%} missing ({count:,} rows) in a column the config says is not nullable "
                    f"({_PIPELINE_REJECTS})",
                    column=name,
                    value=round(rate, 4),
                    threshold=0.0,
                )
            )
        elif rate > options.max_missing_rate:
            findings.append(
                Finding(
                    "missing_values",
                    "warning",
                    f"{name}: {rate:.1%} missing ({count:,} rows)",
                    column=name,
                    value=round(rate, 4),
                    threshold=options.max_missing_rate,
                )
            )
    for name, mismatch in data.mismatches.items():
        row, value = mismatch.examples[0]
        kind = "timestamps" if name == dataset.timestamp else "numbers"
        findings.append(
            Finding(
                "type_mismatch",
                "blocker",
                f"{name}: {mismatch.count:,} values are not {kind} (e.g. {value!r} in row {row}; {_PIPELINE_REJECTS})",
                column=name,
                value=mismatch.count,
            )
        )
    for feature in dataset.features:
        column = data.frame[feature.name]
        present = column.dropna()
        distinct = int(present.astype(str).nunique())
        if distinct <= 1:
            only = repr(present.iloc[0]) if len(present) else "empty"
            findings.append(
                Finding(
                    "constant",
                    "warning",
                    f"{feature.name}: one value ({only}) in all {len(present):,} filled rows — it cannot help a model",
                    column=feature.name,
                    value=distinct,
                )
            )
            continue
        share = _top_share(column)
        if share >= options.near_constant_share:
            findings.append(
                Finding(
                    "near_constant",
                    "warning",
                    f"{feature.name}: one value in {share:.1%} of rows",
                    column=feature.name,
                    value=round(share, 4),
                    threshold=options.near_constant_share,
                )
            )
        if feature.type == "categorical" and distinct > options.max_categories:
            findings.append(
                Finding(
                    "high_cardinality",
                    "warning",
                    f"{feature.name}: {distinct:,} distinct values (over {options.max_categories}) — an id, "
                    "or a feature to group",
                    column=feature.name,
                    value=distinct,
                    threshold=options.max_categories,
                )
            )
    return findings, {"missing_rate": {k: round(v, 4) for k, v in missing_rate.items()}}


def duplicate_findings(data: TypedData, options: CheckOptions) -> tuple[list[Finding], dict]:
    """Identical rows (every schema column, timestamp included)."""
    duplicated = int(data.frame.astype(str).duplicated().sum())
    share = duplicated / max(data.rows, 1)
    findings = []
    if share > options.max_duplicate_share:
        findings.append(
            Finding(
                "duplicate_rows",
                "warning",
                f"{duplicated:,} duplicate rows ({share:.1%}); the pipeline keeps one of each",
                value=duplicated,
                threshold=options.max_duplicate_share,
            )
        )
    return findings, {"duplicate_rows": duplicated}


def label_findings(data: TypedData, cfg: ProjectConfig, options: CheckOptions) -> tuple[list[Finding], dict]:
    """The label: present, complete, and balanced (classification) or spread (regression)."""
    target = cfg.dataset.target
    if not data.has_target:
        return [
            Finding(
                "label_missing",
                "blocker",
                f"no '{target}' column among the data's "
                f"{len(data.extra_columns) + len(data.frame.columns)} columns: the data has no labels",
                column=target,
                value=0,
            )
        ], {"label": None}
    labels = data.frame[target].dropna()
    if labels.empty:
        return [
            Finding(
                "label_missing", "blocker", f"'{target}' is empty in all {data.rows:,} rows", column=target, value=0
            )
        ], {"label": None}
    findings: list[Finding] = []
    holes = data.missing[target] + (data.mismatches[target].count if target in data.mismatches else 0)
    if holes:
        findings.append(
            Finding(
                "label_missing_values",
                "blocker",
                f"{target}: {holes / data.rows:.1%} of rows have no usable label ({holes:,}; {_PIPELINE_REJECTS})",
                column=target,
                value=holes,
            )
        )
    if cfg.dataset.task == "classification":
        counts = labels.astype(str).value_counts()
        shares = counts / counts.sum()
        evidence = {"label": {"kind": "classes", "counts": {str(k): int(v) for k, v in counts.items()}}}
        if len(counts) < 2:
            findings.append(
                Finding(
                    "single_class",
                    "blocker",
                    f"{target}: every label is {counts.index[0]!r} — nothing to learn",
                    column=target,
                    value=1,
                )
            )
        elif shares.iloc[-1] < options.min_class_share:
            findings.append(
                Finding(
                    "label_imbalance",
                    "warning",
                    f"{target}: class {counts.index[-1]!r} is only {shares.iloc[-1]:.1%} of labels "
                    f"({counts.iloc[-1]:,} rows)",
                    column=target,
                    value=round(float(shares.iloc[-1]), 4),
                    threshold=options.min_class_share,
                )
            )
        return findings, evidence
    values = labels.to_numpy(dtype="float64")
    quantiles = dict(
        zip(
            ("min", "p05", "p25", "median", "p75", "p95", "max"),
            map(float, np.quantile(values, [0, 0.05, 0.25, 0.5, 0.75, 0.95, 1])),
        )
    )
    counts, edges = np.histogram(values, bins=20)
    evidence = {
        "label": {
            "kind": "spread",
            "std": float(values.std()),
            "quantiles": quantiles,
            "histogram": {"counts": counts.tolist(), "edges": edges.tolist()},
        }
    }
    if values.std() == 0:
        findings.append(
            Finding("constant_label", "blocker", f"{target}: every value is {values[0]:g}", column=target, value=0.0)
        )
    elif _top_share(labels) >= options.near_constant_share:
        findings.append(
            Finding(
                "near_constant_label",
                "warning",
                f"{target}: one value in {_top_share(labels):.1%} of rows",
                column=target,
                value=round(_top_share(labels), 4),
                threshold=options.near_constant_share,
            )
        )
    return findings, evidence


def drift_findings(data: TypedData, cfg: ProjectConfig) -> tuple[list[Finding], dict]:
    """The oldest third of the rows against the newest third, with the monitoring drift
    engine (PSI, ``monitoring.psi_threshold``): does the population move over the data's span?"""
    dataset = cfg.dataset
    # Without a timestamp, the file's row order is the only order there is.
    ordered = (
        data.frame.dropna(subset=[dataset.timestamp]).sort_values(dataset.timestamp, kind="stable")
        if dataset.timestamp
        else data.frame
    )
    third = len(ordered) // 3
    oldest, newest = ordered.iloc[:third], ordered.iloc[len(ordered) - third :]
    profile = build_profile(oldest, [], dataset, bins=cfg.monitoring.bins, task=dataset.task)
    profile["features"].pop(PREDICTION)
    window = WindowCounts(profile)
    window.add(newest)
    report = drift_report(window, cfg.monitoring)
    if report.status == DriftStatus.INSUFFICIENT_DATA:
        return [
            Finding(
                "drift_not_checked",
                "info",
                f"too few rows to compare the oldest and newest thirds ({third:,} each): at power "
                f"{cfg.monitoring.min_power:g} they could detect only {smallest_detectable(report.to_dict())} "
                "(monitoring.effect_size)",
            )
        ], {"drift": None}
    findings = [
        Finding(
            "drift",
            "warning",
            f"{name}: drifts between the oldest and newest third of the data, PSI {report.features[name].psi:.2f} "
            f"(monitoring.psi_threshold {cfg.monitoring.psi_threshold:g}) — train on recent rows, retrain often",
            column=name,
            value=round(report.features[name].psi, 4),
            threshold=cfg.monitoring.psi_threshold,
        )
        for name in report.drifted_features
    ]
    evidence = {
        "drift": {
            "psi": {name: round(result.psi, 4) for name, result in report.features.items()},
            "threshold": cfg.monitoring.psi_threshold,
            "status": report.status,
            **(_spans(oldest, newest, dataset.timestamp) if dataset.timestamp else {"order": "row order"}),
        }
    }
    return findings, evidence


def data_answer(findings: list[Finding], evidence: dict[str, Any]) -> Answer:
    """ "no" when any finding blocks, else "yes"; the summary says which and how many."""
    blocking = blockers(findings)
    rows, days = evidence["rows"], evidence["coverage_days"]
    if blocking:
        by_code: dict[str, list[str]] = {}
        for finding in sorted(blocking, key=lambda f: f.code not in ("leakage_suspect", "not_available_at_prediction")):
            columns = by_code.setdefault(finding.code.replace("_", " "), [])
            if finding.column and finding.column not in columns:
                columns.append(finding.column)
        summary = "; ".join(f"{code}: {', '.join(columns)}" if columns else code for code, columns in by_code.items())
        return Answer("data", "no", summary, tuple(findings), evidence)
    warnings = sum(f.severity == "warning" for f in findings)
    summary = f"{rows:,} rows over {days:.1f} days; nothing blocks" + (f" ({warnings} warning(s))" if warnings else "")
    return Answer("data", "yes", summary, tuple(findings), evidence)


def _spans(oldest: pd.DataFrame, newest: pd.DataFrame, timestamp: str) -> dict[str, list[str]]:
    """The time each compared third covers."""
    return {
        name: [part[timestamp].min().isoformat(), part[timestamp].max().isoformat()]
        for name, part in (("oldest", oldest), ("newest", newest))
    }
