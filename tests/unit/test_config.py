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


@pytest.mark.parametrize(
    ("path", "value", "field"),
    [
        (("monitoring", "psi_threshold"), -1, "monitoring.psi_threshold"),
        (("training", "holdout_fraction"), 1.5, "training.holdout_fraction"),
        (("model", "entrypoint"), "not an entrypoint", "model.entrypoint"),
        (("retraining", "schedule"), "every day", "retraining.schedule"),
        (("monitoring", "schedule"), "cron(0 25 * * ? *)", "monitoring.schedule"),
        (("dataset", "task"), "clustering", "dataset.task"),
        (("environments",), {"Dev Env": {}}, "environments"),
    ],
)
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
    with pytest.raises(ConfigError, match=r"monitoring\.psi_treshold"):
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
    with pytest.raises(ConfigError, match=r"promotion\.guards"):
        parse_config(document)


# ---------------------------------------------------------------- environments: isolation, alarms


def _with_dev(cfg, **fields) -> dict:
    document = _document(cfg)
    document["environments"]["dev"].update(fields)
    return document


def test_reserved_concurrency_names_every_function(cfg):
    from mlrails import wiring
    from mlrails.config import ReservedConcurrency

    # infra/constructs/pipeline_function.py looks each function up by name: a function added to
    # the wiring without a reservation here fails the synth, never deploys unreserved.
    assert set(ReservedConcurrency.model_fields) == {spec.name for spec in wiring.FUNCTIONS}
    assert ReservedConcurrency().model_dump() == {  # the README's table
        "inference": 110,
        "feature_prep": 10,
        "drift_check": 12,
        "performance_check": 2,
        "retrain_trigger": 2,
        "train": 3,
        "tracking_switch": 3,
        "event_relay": 2,
        "batch": None,
    }


def test_the_example_stages_fit_one_default_account_together(cfg):
    # Lambda's default quota is 1,000 per account and region, 100 of which stay unreserved.
    assert sum(env.reserved_concurrency.total() for env in cfg.environments.values()) == 732 <= 1000 - 100


@pytest.mark.parametrize("value", [0, -1, 1001, 2.5])
def test_a_reservation_is_between_one_and_the_default_quota(cfg, value):
    document = _with_dev(cfg, reserved_concurrency={"drift_check": value})
    with pytest.raises(ConfigError, match=r"environments.dev.reserved_concurrency.drift_check"):
        parse_config(document)


def test_no_reservation_is_none(cfg):
    parsed = parse_config(_with_dev(cfg, reserved_concurrency={"feature_prep": None, "train": 1}))
    reservations = parsed.environments["dev"].reserved_concurrency
    assert reservations.feature_prep is None and reservations.train == 1
    assert reservations.total() == 110 + 12 + 2 + 2 + 1 + 3 + 2


def test_the_drift_fanout_must_fit_the_drift_check_reservation(cfg):
    document = _with_dev(cfg, reserved_concurrency={"drift_check": 11})
    with pytest.raises(
        ConfigError, match=r"reserved_concurrency.drift_check 11 is below monitoring.fanout_max_concurrency 10 \+ 2"
    ):
        parse_config(document)
    document["monitoring"]["fanout_max_concurrency"] = 9
    assert parse_config(document).environments["dev"].reserved_concurrency.drift_check == 11
    unreserved = _with_dev(cfg, reserved_concurrency={"drift_check": None})
    assert parse_config(unreserved).environments["dev"].reserved_concurrency.drift_check is None


def test_the_api_burst_must_fit_the_inference_reservation(cfg):
    with pytest.raises(
        ConfigError,
        match=r"environments.dev: .*throttle_burst 101 \+ feedback_throttle_burst 10 "
        r"exceeds reserved_concurrency.inference 110",
    ):
        parse_config(_with_dev(cfg, throttle_burst=101))
    parse_config(_with_dev(cfg, throttle_burst=101, reserved_concurrency={"inference": 111}))
    # The feedback API's burst counts too: both APIs invoke the function.
    with pytest.raises(ConfigError, match=r"feedback_throttle_burst 11 exceeds reserved_concurrency.inference 110"):
        parse_config(_with_dev(cfg, feedback_throttle_burst=11))
    parse_config(_with_dev(cfg, throttle_burst=5000, reserved_concurrency={"inference": None}))  # unreserved


@pytest.mark.parametrize("field", ["shared_account", "no_alarm_email"])
@pytest.mark.parametrize("value", [True, "yes"])
def test_an_acknowledgement_is_a_reason_not_a_yes(cfg, field, value):
    with pytest.raises(ConfigError, match=rf"environments.dev.acknowledge.{field}"):
        parse_config(_with_dev(cfg, acknowledge={field: value}))


def test_the_example_acknowledges_its_shared_account_and_missing_alarm_email(cfg):
    # Every stage of the example shares the CLI's default account and has no alarm_email, on
    # purpose (mlrails.yaml says why): the synth accepts both only because these are given.
    for environment in cfg.environments.values():
        assert environment.account is None and environment.alarm_email is None
        assert environment.acknowledge.shared_account and environment.acknowledge.no_alarm_email


def test_the_feedback_api_has_its_own_throttle_and_quota(cfg):
    dev = cfg.environments["dev"]
    assert (dev.feedback_throttle_rate, dev.feedback_throttle_burst, dev.feedback_daily_quota) == (5, 10, 10_000)
    custom = parse_config(_with_dev(cfg, feedback_throttle_rate=1, feedback_throttle_burst=2, feedback_daily_quota=500))
    assert custom.environments["dev"].feedback_daily_quota == 500
