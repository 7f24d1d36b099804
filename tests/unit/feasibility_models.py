"""A fast model entrypoint for the feasibility tests (gradient boosting takes ~0.3 s a fit)."""

from sklearn.compose import ColumnTransformer
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler


def linear(dataset, seed):
    """Scaling + one-hot + a linear model."""
    preprocess = ColumnTransformer(
        [
            ("numeric", StandardScaler(), dataset.features_of_type("numeric")),
            ("categorical", OneHotEncoder(handle_unknown="ignore"), dataset.features_of_type("categorical")),
        ]
    )
    model = LogisticRegression(max_iter=500) if dataset.task == "classification" else Ridge()
    return Pipeline([("preprocess", preprocess), ("model", model)])
