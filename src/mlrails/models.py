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
from sklearn.ensemble import GradientBoostingClassifier, GradientBoostingRegressor
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from mlrails.config import Dataset
from mlrails.errors import TrainingError

PLACEHOLDER = "mlrails.models:placeholder"


def placeholder(dataset: Dataset, seed: int) -> BaseEstimator:
    """A dummy baseline: the most frequent class, or the mean. Any real model must beat it."""
    if dataset.task == "classification":
        return DummyClassifier(strategy="prior", random_state=seed)
    return DummyRegressor(strategy="mean")


def gradient_boosting(dataset: Dataset, seed: int) -> BaseEstimator:
    """Scaling + one-hot encoding + gradient boosting: a sound first real model."""
    preprocess = ColumnTransformer([
        ("numeric", StandardScaler(), dataset.features_of_type("numeric")),
        ("categorical", OneHotEncoder(handle_unknown="ignore", sparse_output=False),
         dataset.features_of_type("categorical")),
    ])
    if dataset.task == "classification":
        estimator = GradientBoostingClassifier(random_state=seed)
    else:
        estimator = GradientBoostingRegressor(random_state=seed)
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
