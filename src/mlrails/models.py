"""Model entrypoints: ``module:function`` names that return an *unfitted* estimator.

The config's ``model.entrypoint`` selects one. :func:`placeholder` is the day-one baseline
the whole graph runs with before a real model exists; :func:`gradient_boosting` is a real
example to copy. Each receives the dataset schema so it can build column-aware pipelines.
"""

from __future__ import annotations

import importlib

from sklearn.base import BaseEstimator
from sklearn.compose import ColumnTransformer
from sklearn.dummy import DummyClassifier, DummyRegressor
from sklearn.ensemble import (
    GradientBoostingClassifier,
    GradientBoostingRegressor,
    HistGradientBoostingClassifier,
    HistGradientBoostingRegressor,
)
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder

from mlrails.config import Dataset
from mlrails.errors import TrainingError

PLACEHOLDER = "mlrails.models:placeholder"


# The docs include the two entrypoints below (docs/configuration.md): keep them whole.
# --8<-- [start:placeholder]
def placeholder(dataset: Dataset, seed: int) -> BaseEstimator:
    """A dummy baseline: the most frequent class, or the mean. Any real model must beat it."""
    if dataset.task == "classification":
        return DummyClassifier(strategy="prior", random_state=seed)
    return DummyRegressor(strategy="mean")


# --8<-- [end:placeholder]


# --8<-- [start:gradient_boosting]
def gradient_boosting(dataset: Dataset, seed: int) -> BaseEstimator:
    """One-hot encoding + gradient boosting: a sound first real model, and one that compiles
    to ONNX exactly. Numbers pass through unscaled: trees split on thresholds, so scaling
    changes nothing for them, while a compiled graph scales in float32 and moves values that
    sit on a split point to its other side (verification at promotion then refuses the graph).
    Boosting stops once ten more trees no longer help on a tenth of the training rows held
    aside: on the example data that is 20 to 75 trees instead of 100 at about the same holdout
    score, and every step after the fit (saving, registering, loading, compiling) scales with
    the trees."""
    preprocess = ColumnTransformer(
        [
            ("numeric", "passthrough", dataset.features_of_type("numeric")),
            (
                "categorical",
                OneHotEncoder(handle_unknown="ignore", sparse_output=False),
                dataset.features_of_type("categorical"),
            ),
        ]
    )
    if dataset.task == "classification":
        estimator = GradientBoostingClassifier(random_state=seed, n_iter_no_change=10)
    else:
        estimator = GradientBoostingRegressor(random_state=seed, n_iter_no_change=10)
    return Pipeline([("preprocess", preprocess), ("model", estimator)])


# --8<-- [end:gradient_boosting]


def hist_gradient_boosting(dataset: Dataset, seed: int) -> BaseEstimator:
    """Histogram gradient boosting: quick on many rows, and takes missing numbers as they come.
    With the pinned skl2onnx it does not compile to ONNX, so promotion records why and it is
    served by scikit-learn (serving.package full or image)."""
    preprocess = ColumnTransformer(
        [
            (
                "categorical",
                OneHotEncoder(handle_unknown="ignore", sparse_output=False),
                dataset.features_of_type("categorical"),
            ),
        ],
        remainder="passthrough",
    )
    if dataset.task == "classification":
        estimator = HistGradientBoostingClassifier(random_state=seed)
    else:
        estimator = HistGradientBoostingRegressor(random_state=seed)
    return Pipeline([("preprocess", preprocess), ("model", estimator)])


def load_entrypoint(entrypoint: str, dataset: Dataset, seed: int) -> BaseEstimator:
    """Import ``module:function`` and call it; errors name the entrypoint."""
    module_name, _, function_name = entrypoint.partition(":")
    try:
        factory = getattr(importlib.import_module(module_name), function_name)
    except (ImportError, AttributeError) as exc:
        raise TrainingError(f"model.entrypoint {entrypoint!r} cannot be imported: {exc}") from exc
    estimator = factory(dataset, seed)
    if not (hasattr(estimator, "fit") and hasattr(estimator, "predict")):
        raise TrainingError(f"model.entrypoint {entrypoint!r} returned {type(estimator).__name__}, not an estimator")
    return estimator
