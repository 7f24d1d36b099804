"""The files `mlrails init` writes, as text: a commented config, a real model entrypoint for
the task, a test that trains it on a sample, and the CDK entry that deploys the project."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any

from mlrails import CHECKOUT_DIR
from mlrails.scaffold.schema import Inferred

ENTRYPOINT = "models:model"
SAMPLE = "data/sample.csv"


def project_name(folder: Path) -> str:
    """A project name from its folder, as the config requires one: lower case letters, digits
    and dashes, 3 to 40 characters, starting with a letter."""
    name = re.sub(r"[^a-z0-9]+", "-", folder.resolve().name.lower()).strip("-")
    if not name[:1].isalpha():
        name = f"p-{name}".rstrip("-")
    return name[:40].rstrip("-").ljust(3, "x")


def _quoted(name: str) -> str:
    """A column name as a YAML scalar that stays that exact string (JSON is YAML)."""
    return json.dumps(name)


def _metrics(inferred: Inferred) -> dict[str, Any]:
    """The metrics a first project of this task starts from, and the reason for each."""
    if inferred.task == "regression":
        drop = round(0.1 * (inferred.target_std or 1.0), 4)
        return {
            "gate": "rmse",
            "gate_why": "root mean squared error, in the target's units: lower is better",
            "performance": "rmse",
            "max_drop": drop,
            "drop_why": f"an alarm when rmse rises {drop} (a tenth of the target's spread) above the holdout's",
        }
    return {
        "gate": "roc_auc",
        "gate_why": (
            "ranks the classes, and a rare class does not make a constant look good (accuracy would);"
            f" one-vs-rest for {len(inferred.classes)} classes"
            if len(inferred.classes) > 2
            else "ranks the classes, and a rare class does not make a constant look good (accuracy would)"
        ),
        "performance": "accuracy",
        "max_drop": 0.05,
        "drop_why": "an alarm when accuracy falls five points below the holdout's (every capture has a label)",
    }


def config_yaml(inferred: Inferred, name: str, source: str) -> str:
    """``mlrails.yaml``, every choice commented with why it was made."""
    metrics = _metrics(inferred)
    features = "\n".join(
        f"    - {{name: {_quoted(c.name)}, type: {c.type}{', nullable: true' if c.nullable else ''}}}  # {c.why}"
        for c in inferred.features
    )
    min_rows = min(200, max(10, inferred.rows // 5))
    return f"""# The project config, written by `mlrails init` from {source} ({inferred.rows:,} rows).
# Every key is documented in the configuration reference (docs/configuration.md); each choice
# below says why it was made: check the ones marked CHECK before you rely on them.
project: {name}

model:
  name: {name}-model
  # module:function returning an unfitted scikit-learn estimator: models.py in this folder.
  # Start with mlrails.models:placeholder (a constant) to run the whole graph first, if you like.
  entrypoint: {ENTRYPOINT}

dataset:
  task: {inferred.task}          # CHECK: {inferred.reasons["task"]}
  target: {_quoted(inferred.target)}          # CHECK: {inferred.reasons["target"]}
{_timestamp_lines(inferred)}
  features:                 # CHECK: every column known when a prediction is made, and only those
{features}
  # Columns known only after the outcome (a leak): `mlrails check` and training refuse them.
  not_available_at_prediction: []

training:
  holdout_fraction: 0.2     # the newest fifth of rows judges each model
  seed: 42
  min_rows: {min_rows}              # fewer rows than this: no training run
  window_days: null         # train on all of features/; a number forgets older data

promotion:
  metric: {metrics["gate"]}          # {metrics["gate_why"]}
  min_improvement: 0.0      # a challenger at least as good as the champion wins (fresher data)
  mode: auto                # manual: the gate only recommends; `mlrails promote` decides

monitoring:
  schedule: rate(1 day)
  window_hours: 24
  min_power: 0.8            # a drift verdict needs this power to detect effect_size in every feature
  effect_size:
    ks: 0.2                 # KS distance (numeric features)
    chi2: 0.35              # Cohen's w (categorical features)
  bins: 10
  psi_threshold: 0.2
  drifted_share: 0.3        # drift when this share of the features drifted
  label_delay_hours: 24     # CHECK: how long until the outcome of a prediction is known
  performance:
    schedule: rate(1 day)
    window_hours: 168
    metric: {metrics["performance"]}
    max_drop: {metrics["max_drop"]}          # {metrics["drop_why"]}
    min_labelled_rows: 100

retraining:
  schedule: rate(7 days)    # the cadence; drift, a performance drop and new data can retrain sooner
  triggers: [schedule, drift, performance, new_data]
  cooldown_hours: 12
  min_new_rows: {max(100, inferred.rows // 10)}        # new rows that count as worth a retrain

capture:
  sample_rate: 1.0          # every prediction is captured for the drift and performance checks

# Feasibility (`mlrails check --data {source}`): who acts on a prediction, and what it is worth.
use_case: {{}}              # CHECK: consumer, decision, action, latency (online or batch)
value:
  metric: {metrics["gate"]}
  minimum: null             # CHECK: the worst {metrics["gate"]} at which the use case still pays

environments:
  dev:
    auth: api_key
    # alarm_email: you@example.com     # CHECK: who the alarms page; then drop the acknowledgement
    acknowledge:
      no_alarm_email: "a new project: nobody to page yet (set alarm_email before anyone relies on it)"
"""


def _timestamp_lines(inferred: Inferred) -> str:
    if inferred.timestamp is None:
        return f"  timestamp: null           # CHECK: {inferred.reasons['timestamp']}"
    lines = f"  timestamp: {_quoted(inferred.timestamp)}          # {inferred.reasons['timestamp']}"
    if inferred.timestamp_format != "iso8601":
        lines += f"\n  timestamp_format: {_quoted(inferred.timestamp_format)}"
    return lines


def models_py(inferred: Inferred) -> str:
    """``models.py``: one-hot the categories, gradient boosting on top (compiles to ONNX)."""
    estimator = "GradientBoostingClassifier" if inferred.task == "classification" else "GradientBoostingRegressor"
    return f'''"""The model: `model.entrypoint: {ENTRYPOINT}` in mlrails.yaml. Returns an *unfitted*
estimator; mlrails fits it, registers it in MLflow, gates it against the champion, and
serves it (compiled to ONNX when it compiles exactly). Change anything inside; keep the
signature."""

from sklearn.compose import ColumnTransformer
from sklearn.ensemble import {estimator}
from sklearn.impute import SimpleImputer
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import OneHotEncoder


def model(dataset, seed):
    """``dataset``: the config's schema (``dataset.features_of_type("numeric")`` ...);
    ``seed``: training.seed, for a reproducible fit."""
    preprocess = ColumnTransformer(
        [
            ("numeric", SimpleImputer(strategy="median"), dataset.features_of_type("numeric")),
            (
                "categorical",
                make_pipeline(
                    SimpleImputer(strategy="constant", fill_value="missing"),
                    OneHotEncoder(handle_unknown="ignore", sparse_output=False),
                ),
                dataset.features_of_type("categorical"),
            ),
        ]
    )
    return Pipeline([("preprocess", preprocess), ("model", {estimator}(random_state=seed))])
'''


def model_test() -> str:
    """``tests/test_model.py``: the model trains on the sample and is no worse than a constant."""
    return f'''"""The model trains on {SAMPLE} and is no worse than the placeholder (a constant) on the
newest rows, judged by the gate's metric, as the promotion gate would. Run `pytest` here."""

from datetime import UTC, datetime
from pathlib import Path

from mlrails.config import Promotion, load_config
from mlrails.data.dataset import prepare_features, read_table
from mlrails.models import PLACEHOLDER
from mlrails.training import estimator

PROJECT = Path(__file__).resolve().parents[1]


def test_the_model_trains_and_beats_a_constant():
    cfg = load_config(PROJECT / "mlrails.yaml")
    sample = PROJECT / "{SAMPLE}"
    # arrived_at: the rows' time when the data has none of its own (ignored otherwise).
    rows = prepare_features(read_table(sample.read_bytes(), sample.name), cfg.dataset, arrived_at=datetime.now(UTC))
    split = estimator.split_by_time(rows, cfg)
    metric = cfg.primary_metric

    placeholder = cfg.model_copy(update={{"model": cfg.model.model_copy(update={{"entrypoint": PLACEHOLDER}})}})
    ours = estimator.score(estimator.fit(cfg, split.train), split.holdout, cfg)[metric]
    theirs = estimator.score(estimator.fit(placeholder, split.train), split.holdout, cfg)[metric]

    better = ours >= theirs if Promotion.direction(metric) == "maximize" else ours <= theirs
    assert better, f"{{metric}}: the model scores {{ours:.4f}}, a constant {{theirs:.4f}}"
'''


CONFTEST = '''"""Makes this folder importable for the tests, as mlrails makes it for the model entrypoint."""
'''


def cdk_json(config: Path) -> dict[str, Any]:
    """``cdk.json``: the kit's CDK app, synthesizing this project's config, with the kit's
    feature flags. `cdk synth` / `cdk deploy` from this folder."""
    kit = json.loads((CHECKOUT_DIR / "cdk.json").read_text())
    context = {**kit["context"], "mlrails:config": str(config.resolve())}
    return {
        "app": f"PYTHONPATH={CHECKOUT_DIR} {sys.executable} -m infra.app",
        "output": "cdk.out",
        "context": context,
    }
