"""Question 1's findings: each one triggered by a dataset built for it, and not by a clean one."""

from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
import pytest

from mlrails.config import parse_config
from mlrails.feasibility import data
from mlrails.feasibility.frame import CheckError, type_columns
from mlrails.feasibility.leakage import leakage_findings, single_feature_scores
from mlrails.feasibility.options import CheckOptions
from mlrails.local.synthetic import churn_frame, leaky_churn_frame

START = datetime(2026, 1, 5, tzinfo=UTC)
OPTIONS = CheckOptions(sample_rows=600, folds=2)


def clean() -> pd.DataFrame:
    """600 rows over a week, as a CSV reads: strings."""
    return churn_frame(600, START, seed=11, span=timedelta(days=7)).astype(str)


def configured(cfg, **dataset):
    document = cfg.model_dump(mode="json")
    document["dataset"].update(dataset)
    return parse_config(document)


def findings(frame: pd.DataFrame, cfg, leakage: bool = False) -> list:
    typed = type_columns(frame, cfg.dataset)
    found = []
    for produce in (
        data.volume_findings(typed, cfg),
        data.column_findings(typed, cfg, OPTIONS),
        data.duplicate_findings(typed, OPTIONS),
        data.label_findings(typed, cfg, OPTIONS),
        data.drift_findings(typed, cfg),
    ):
        found += produce[0]
    if leakage:
        labelled = typed.frame.dropna(subset=[cfg.dataset.target])
        scores = single_feature_scores(labelled, labelled[cfg.dataset.target], cfg, OPTIONS)
        found += leakage_findings(scores, cfg, OPTIONS)
    return found


def _blank(frame, column, share=0.1):
    frame = frame.copy()
    frame.loc[frame.index[: int(len(frame) * share)], column] = np.nan
    return frame


def _set(frame, column, value, rows=None):
    frame = frame.copy()
    frame.loc[frame.index[: rows or len(frame)], column] = value
    return frame


def _nullable(cfg, name):
    features = [dict(f.model_dump(), nullable=f.name == name or f.nullable) for f in cfg.dataset.features]
    return configured(cfg, features=features)


def _with_feature(cfg, name, kind):
    return configured(cfg, features=[f.model_dump() for f in cfg.dataset.features] + [{"name": name, "type": kind}])


def _coarse_drift(cfg):
    """Thirds of 600 rows are 200 against 200: they detect a KS distance of 0.21 and a
    20-category Cohen's w of 0.53 at power 0.8, so here the drift check looks for effects
    that large (the defaults would answer "drift_not_checked")."""
    document = cfg.model_dump(mode="json")
    document["monitoring"]["effect_size"] = {"ks": 0.25, "chi2": 0.6}
    return parse_config(document)


def _drifted(frame):
    later = churn_frame(300, START + timedelta(days=4), seed=12, drift=0.9, span=timedelta(days=3)).astype(str)
    return pd.concat([frame.iloc[:300], later], ignore_index=True)


# (finding code, expected severity, how the data is spoiled, how the config changes)
CASES = [
    ("too_few_rows", "blocker", lambda f: f, lambda c: configured(c, min_rows=5000)),
    ("short_time_coverage", "blocker", lambda f: f, lambda c: configured(c, min_coverage_days=30)),
    ("missing_values", "blocker", lambda f: _blank(f, "monthly_charges", 0.05), None),
    ("missing_values", "warning", lambda f: _blank(f, "region", 0.4), lambda c: _nullable(c, "region")),
    ("type_mismatch", "blocker", lambda f: _set(f, "tenure_months", "n/a", 7), None),
    ("type_mismatch", "blocker", lambda f: _set(f, "event_time", "yesterday", 3), None),
    ("constant", "warning", lambda f: _set(f, "region", "north"), None),
    ("near_constant", "warning", lambda f: _set(f, "region", "north", 597), None),
    (
        "high_cardinality",
        "warning",
        lambda f: f.assign(customer=[f"c{i}" for i in range(len(f))]),
        lambda c: _with_feature(c, "customer", "categorical"),
    ),
    ("duplicate_rows", "warning", lambda f: pd.concat([f, f.iloc[:30]], ignore_index=True), None),
    ("label_missing", "blocker", lambda f: f.drop(columns=["churned"]), None),
    ("label_missing", "blocker", lambda f: _set(f, "churned", np.nan), None),
    ("label_missing_values", "blocker", lambda f: _blank(f, "churned", 0.05), None),
    ("single_class", "blocker", lambda f: _set(f, "churned", "0"), None),
    ("label_imbalance", "warning", lambda f: _set(f, "churned", "0", 590), None),
    ("drift", "warning", _drifted, _coarse_drift),
    ("drift_not_checked", "info", lambda f: f, None),
]


@pytest.mark.parametrize(
    ("code", "severity", "spoil", "configure"), CASES, ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)]
)
def test_each_finding_is_triggered_by_data_built_for_it(cfg, code, severity, spoil, configure):
    project = configure(cfg) if configure else cfg
    triggered = [f for f in findings(spoil(clean()), project) if f.code == code]
    assert triggered and triggered[0].severity == severity
    assert any(ch.isdigit() for ch in triggered[0].message)  # every finding quotes its number


def test_a_clean_dataset_triggers_no_finding(cfg):
    project = _coarse_drift(
        _with_feature(configured(cfg, min_rows=500, min_coverage_days=6), "customer", "categorical")
    )
    frame = clean().assign(customer=[f"c{i % 20}" for i in range(600)])
    assert findings(frame, project, leakage=True) == []


def test_findings_name_the_column(cfg):
    found = findings(_set(_blank(clean(), "monthly_charges"), "tenure_months", "n/a", 4), cfg)
    by_code = {f.code: f for f in found}
    assert by_code["missing_values"].column == "monthly_charges" and "10.0%" in by_code["missing_values"].message
    assert by_code["type_mismatch"].column == "tenure_months" and "'n/a' in row 0" in by_code["type_mismatch"].message


def test_a_feature_that_gives_the_label_away_is_a_leakage_suspect(cfg):
    leaky = leaky_churn_frame(600, START, seed=11, span=timedelta(days=7), missing=0.0).astype(str)
    suspects = [f for f in findings(leaky, cfg, leakage=True) if f.code == "leakage_suspect"]
    assert [f.column for f in suspects] == ["support_calls"] and suspects[0].value >= 0.95


def test_a_feature_marked_unavailable_at_prediction_time_is_a_leakage_suspect(cfg):
    project = configured(cfg, not_available_at_prediction=["plan"])
    marked = [f for f in findings(clean(), project, leakage=True) if f.code == "not_available_at_prediction"]
    assert [(f.column, f.severity) for f in marked] == [("plan", "blocker")]


def regression_config(cfg):
    document = cfg.model_dump(mode="json")
    document["dataset"]["task"] = "regression"
    document["dataset"]["target"] = "spend"
    document["promotion"].update(metric=None, guards={})
    document["monitoring"]["performance"].update(metric=None, minimum=None)
    document["value"].update(metric="r2", minimum=0.3, value_per_point=None)
    return parse_config(document)


def test_regression_labels_are_judged_by_their_spread(cfg):
    project = regression_config(cfg)
    frame = clean().drop(columns=["churned"])
    spread = frame.assign(spend=np.linspace(10, 100, len(frame)).astype(str))
    typed = type_columns(spread, project.dataset)
    found, evidence = data.label_findings(typed, project, OPTIONS)
    assert found == [] and evidence["label"]["kind"] == "spread" and evidence["label"]["quantiles"]["max"] == 100
    flat = type_columns(frame.assign(spend="42"), project.dataset)
    assert [f.code for f in data.label_findings(flat, project, OPTIONS)[0]] == ["constant_label"]


def test_data_the_config_does_not_describe_is_an_error_naming_the_columns(cfg):
    with pytest.raises(CheckError, match="column\\(s\\) plan, region named in dataset"):
        type_columns(clean().drop(columns=["plan", "region"]), cfg.dataset)


def test_parquet_typed_columns_are_read_like_csv_strings(cfg):
    native = churn_frame(300, START, seed=3)
    assert type_columns(native, cfg.dataset).frame.equals(type_columns(native.astype(str), cfg.dataset).frame)
