"""Compiling to ONNX and verifying on the holdout: real models, real skl2onnx and onnxruntime."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pandas as pd
import pytest
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import GradientBoostingClassifier
from sklearn.impute import SimpleImputer
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from mlrails import models
from mlrails.config import Dataset
from mlrails.local.synthetic import churn_frame
from mlrails.serving import compiled
from mlrails.serving.predictors import OnnxPredictor
from mlrails.serving.protocol import Batch, Column

START = datetime(2026, 3, 1, tzinfo=UTC)


@pytest.fixture(scope="module")
def churn(cfg) -> tuple[Dataset, pd.DataFrame, pd.DataFrame]:
    """The example dataset, its training rows and a holdout."""
    frame = churn_frame(1200, START, seed=5)
    return cfg.dataset, frame.iloc[:900], frame.iloc[900:].reset_index(drop=True)


def _columns(dataset: Dataset) -> list[Column]:
    return [Column(f.name, f.type, f.nullable) for f in dataset.features]


def _fit(factory, dataset: Dataset, train: pd.DataFrame):
    return factory(dataset, 3).fit(train[dataset.feature_names], train[dataset.target])


def test_gradient_boosting_compiles_and_serves_the_same_labels(churn):
    dataset, train, holdout = churn
    model = _fit(models.gradient_boosting, dataset, train)

    outcome = compiled.compile_model(model, _columns(dataset), model.classes_.tolist(), holdout)

    assert outcome.path == "onnx", outcome.reason
    assert outcome.reason == "verified on 300 holdout rows: labels identical, probabilities within tolerance"
    rows = holdout.iloc[:5]
    batch = Batch({c: rows[c].astype(object).tolist() for c in dataset.feature_names}, 5, return_probabilities=True)
    predictions, probabilities = OnnxPredictor(outcome.onnx, _columns(dataset), model.classes_.tolist()).predict(batch)
    assert predictions == model.predict(rows[dataset.feature_names]).tolist()
    assert all(isinstance(p, int) for p in predictions)  # JSON-native, as the scikit-learn path answers
    expected = model.predict_proba(rows[dataset.feature_names])
    assert np.abs(np.array([[row["0"], row["1"]] for row in probabilities]) - expected).max() < 1e-4


def test_a_regressor_compiles_within_the_value_tolerance(churn):
    dataset, train, holdout = churn
    regression = dataset.model_copy(
        update={
            "task": "regression",
            "target": "monthly_charges",
            "features": tuple(f for f in dataset.features if f.name != "monthly_charges"),
        }
    )
    model = _fit(models.gradient_boosting, regression, train)

    outcome = compiled.compile_model(model, _columns(regression), None, holdout)

    assert outcome.path == "onnx", outcome.reason
    assert outcome.reason.endswith("values within tolerance")


@pytest.mark.parametrize(
    ("factory", "estimator"),
    [
        (models.hist_gradient_boosting, "HistGradientBoostingClassifier"),
        (models.placeholder, "DummyClassifier"),
    ],
)
def test_a_model_skl2onnx_cannot_convert_falls_back_to_scikit_learn(factory, estimator, churn):
    dataset, train, holdout = churn
    model = _fit(factory, dataset, train)

    outcome = compiled.compile_model(model, _columns(dataset), model.classes_.tolist(), holdout)

    assert (outcome.path, outcome.onnx) == ("skops", None)
    assert outcome.reason.startswith("ONNX conversion failed: ")
    if estimator == "DummyClassifier":  # no converter at all: the message names the type
        assert estimator in outcome.reason
    assert len(outcome.reason) <= 500


def test_a_graph_that_answers_differently_is_not_served(churn):
    """Scaling before trees: the graph scales in float32, and prices such as 23.85 that sit on
    a split point (a midpoint between training values) land on its other side. The conversion
    succeeds; only verification sees the difference."""
    dataset, train, holdout = churn
    model = Pipeline(
        [
            (
                "prepare",
                ColumnTransformer(
                    [
                        ("numeric", StandardScaler(), dataset.features_of_type("numeric")),
                        (
                            "categorical",
                            OneHotEncoder(handle_unknown="ignore", sparse_output=False),
                            dataset.features_of_type("categorical"),
                        ),
                    ]
                ),
            ),
            ("model", GradientBoostingClassifier(random_state=3)),
        ]
    ).fit(train[dataset.feature_names], train[dataset.target])

    assert compiled.convert(model, _columns(dataset))  # converts fine
    outcome = compiled.compile_model(model, _columns(dataset), [0, 1], holdout)

    assert outcome.path == "skops" and outcome.onnx is None
    assert outcome.reason.startswith("ONNX verification failed: probabilities differ by up to ")
    assert outcome.reason.endswith("(tolerance 0.0001)")


def test_missing_values_reach_the_graph_as_scikit_learn_saw_them():
    """Nullable features: a missing number is NaN (imputed by the pipeline), a missing
    category is scikit-learn's NaN category; verification feeds them through the protocol."""
    rng = np.random.default_rng(1)
    n = 800
    frame = pd.DataFrame({"x": rng.normal(size=n), "kind": rng.choice(["a", "b", "c"], n).astype(object)})
    frame.loc[::6, "x"] = np.nan
    frame.loc[::5, "kind"] = np.nan
    target = ((frame["x"].fillna(0) > 0) | frame["kind"].isna()).astype(int)
    model = Pipeline(
        [
            (
                "prepare",
                ColumnTransformer(
                    [
                        ("x", Pipeline([("impute", SimpleImputer()), ("scale", StandardScaler())]), ["x"]),
                        ("kind", OneHotEncoder(handle_unknown="ignore", sparse_output=False), ["kind"]),
                    ]
                ),
            ),
            ("model", GradientBoostingClassifier(random_state=0)),
        ]
    ).fit(frame.iloc[:600], target.iloc[:600])
    columns = [Column("x", "numeric", nullable=True), Column("kind", "categorical", nullable=True)]

    outcome = compiled.compile_model(model, columns, [0, 1], frame.iloc[600:])

    assert outcome.path == "onnx", outcome.reason
    batch = Batch({"x": [None, 0.5], "kind": [None, "a"]}, 2)
    assert (
        OnnxPredictor(outcome.onnx, columns, [0, 1]).predict(batch)[0]
        == model.predict(pd.DataFrame({"x": [np.nan, 0.5], "kind": [np.nan, "a"]})).tolist()
    )
