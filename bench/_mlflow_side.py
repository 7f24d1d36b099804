"""MLflow's side of a benchmark: the champion's fitted model logged to a local MLflow as an
MLflow user would log it, so that MLflow's own serving and batch paths score the same model.

Shared by bench/inference.py and bench/batch.py.
"""

from __future__ import annotations

from importlib.metadata import version
from typing import Any

import pandas as pd


def log_champion(model: Any, features: pd.DataFrame, tracking_uri: str) -> str:
    """Log ``model`` (fitted scikit-learn) to the MLflow at ``tracking_uri``; its model URI.
    The pip requirements are given (inferring them costs ~7 s), the model is saved by skops
    trusting exactly its own types, and the signature is inferred from ``features``."""
    import mlflow
    import mlflow.sklearn
    from mlflow.models import infer_signature
    from skops.io import dumps, get_untrusted_types

    mlflow.set_tracking_uri(tracking_uri)
    mlflow.set_experiment("bench")
    packages = ("mlflow", "scikit-learn", "skops", "pandas", "numpy", "scipy")
    requirements = [f"{name}=={version(name)}" for name in packages]
    with mlflow.start_run():
        logged = mlflow.sklearn.log_model(
            model,
            name="model",
            pip_requirements=requirements,
            serialization_format="skops",
            skops_trusted_types=get_untrusted_types(data=dumps(model)),
            signature=infer_signature(features.head(5), model.predict(features.head(5))),
            input_example=features.head(2),
        )
    return logged.model_uri
