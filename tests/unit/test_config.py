import pytest

from mlrails.config import parse_config
from mlrails.errors import ConfigError


def _document(cfg) -> dict:
    return cfg.model_dump(mode="json")


def test_example_config_is_valid_and_complete(cfg):
    assert cfg.project == "churn"
    assert cfg.dataset.feature_names == ["tenure_months", "monthly_charges", "support_calls", "plan", "region"]
    assert set(cfg.environments) == {"dev", "staging", "prod"}
    assert cfg.primary_metric == "roc_auc"


@pytest.mark.parametrize(("path", "value", "field"), [
    (("monitoring", "psi_threshold"), -1, "monitoring.psi_threshold"),
    (("training", "holdout_fraction"), 1.5, "training.holdout_fraction"),
    (("model", "entrypoint"), "not an entrypoint", "model.entrypoint"),
    (("retraining", "schedule"), "every day", "retraining.schedule"),
    (("monitoring", "schedule"), "cron(0 25 * * ? *)", "monitoring.schedule"),
    (("dataset", "task"), "clustering", "dataset.task"),
    (("environments",), {"Dev Env": {}}, "environments"),
])
def test_errors_name_the_field(cfg, path, value, field):
    document = _document(cfg)
    target = document
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    with pytest.raises(ConfigError) as error:
        parse_config(document)
    assert field in str(error.value)


def test_unknown_fields_are_refused_not_ignored(cfg):
    document = _document(cfg)
    document["monitoring"]["psi_treshold"] = 0.1  # a typo must not silently fall back to the default
    with pytest.raises(ConfigError, match="monitoring.psi_treshold"):
        parse_config(document)


def test_metric_must_fit_the_task(cfg):
    document = _document(cfg)
    document["promotion"]["metric"] = "rmse"
    with pytest.raises(ConfigError, match="does not fit task"):
        parse_config(document)


def test_a_feature_cannot_be_the_target(cfg):
    document = _document(cfg)
    document["dataset"]["features"].append({"name": "churned", "type": "numeric"})
    with pytest.raises(ConfigError, match="target or timestamp"):
        parse_config(document)


def test_digest_is_stable_and_tracks_content(cfg):
    same = parse_config(_document(cfg))
    assert same.digest == cfg.digest
    changed = _document(cfg)
    changed["capture"]["sample_rate"] = 0.5
    assert parse_config(changed).digest != cfg.digest


def test_regression_defaults_to_rmse(cfg):
    document = _document(cfg)
    document["dataset"]["task"] = "regression"
    document["promotion"]["metric"] = None
    document["value"]["metric"] = None  # the example judges value by roc_auc, a classification metric
    document["monitoring"]["performance"]["metric"] = None  # and the performance check by accuracy
    regression = parse_config(document)
    assert regression.performance_metric == "rmse"
    assert regression.primary_metric == "rmse"
    assert regression.promotion.direction("rmse") == "minimize"


def test_guard_metrics_must_fit_the_task_and_be_tolerances(cfg):
    document = _document(cfg)
    document["promotion"]["guards"] = {"rmse": 0.1}
    with pytest.raises(ConfigError, match="does not fit task"):
        parse_config(document)
    document["promotion"]["guards"] = {"roc_auc": -0.1}
    with pytest.raises(ConfigError, match="promotion.guards"):
        parse_config(document)
