"""The wiring is the single source both the CDK app and the local runtime read."""

from pathlib import Path

from mlrails.adapters import git
from mlrails.wiring import (
    FUNCTIONS,
    ROUTES,
    SCHEDULES,
    TRAINING,
    ResourceNames,
    config_key,
    function_environment,
)

REPO = Path(__file__).resolve().parents[2]
NAMES = ResourceNames("data", "artifacts", "bus", "table", "capture")


def test_every_function_has_a_handler_and_zip_functions_name_built_layers():
    for spec in FUNCTIONS:
        assert (REPO / "functions" / spec.name / "handler.py").is_file()
        assert spec.packaging == "image" or (REPO / "layers" / spec.layers[-1] / "requirements.in").is_file()


def test_every_route_and_schedule_targets_a_function():
    names = {spec.name for spec in FUNCTIONS}
    assert {r.target for r in ROUTES} | {s.target for s in SCHEDULES} <= names
    # every function is reached: inference by the API, train by the training pipeline, batch
    # by the batch state machine, the others by a route or a schedule
    assert {r.target for r in ROUTES} | {s.target for s in SCHEDULES} == names - {
        "inference",
        TRAINING.function,
        "batch",
    }


def test_raw_route_matches_the_data_bucket_under_raw():
    raw = next(r for r in ROUTES if r.target == "feature_prep")
    pattern = raw.pattern(NAMES)
    assert raw.bus == "default"
    assert pattern["detail"]["bucket"]["name"] == ["data"]
    assert pattern["detail"]["object"]["key"] == [{"prefix": "raw/"}]


def test_environment_points_at_the_content_addressed_config(cfg):
    env = function_environment(cfg, "dev", NAMES, FUNCTIONS[0])
    assert env["MLRAILS_CONFIG_URI"] == f"s3://artifacts/{config_key(cfg)}"
    assert cfg.digest in env["MLRAILS_CONFIG_URI"]
    assert "MLFLOW_TRACKING_URI" not in env


def test_the_function_next_to_mlflow_sends_it_no_telemetry(cfg):
    train = next(spec for spec in FUNCTIONS if spec.name == TRAINING.function)
    env = function_environment(cfg, "dev", NAMES, train, tracking_uri="http://mlflow.internal:5000")
    assert env["MLFLOW_TRACKING_URI"] == "http://mlflow.internal:5000" and env["MLFLOW_DISABLE_TELEMETRY"] == "true"


def test_the_train_function_records_the_code_version(cfg):
    train = next(spec for spec in FUNCTIONS if spec.name == TRAINING.function)
    env = function_environment(cfg, "dev", NAMES, train, git_commit="abc123")
    assert env["MLRAILS_GIT_COMMIT"] == "abc123"
    commit = git.commit(REPO)
    assert commit is None or len(commit.removesuffix("+dirty")) == 40  # a clean tarball has no git
    assert git.commit(Path("/")) is None


def test_the_deferred_retrain_check_runs_whenever_a_trigger_can_be_deferred(cfg):
    check = next(spec for spec in SCHEDULES if spec.name == "DeferredRetrain")
    assert (check.target, check.expression(cfg)) == ("retrain_trigger", "rate(1 hour)")

    def retraining(**rules):
        return cfg.model_copy(update={"retraining": cfg.retraining.model_copy(update=rules)})

    assert check.enabled(cfg)  # mlrails.yaml: a 12 h cooldown and max_retrains
    assert check.enabled(retraining(cooldown_hours=0))
    assert check.enabled(retraining(max_retrains=None, triggers=()))  # the first model's bootstrap defers too
    assert not check.enabled(retraining(cooldown_hours=0, max_retrains=None))  # nothing ever defers


def test_a_release_role_name_fits_iam_and_stays_apart():
    from mlrails.wiring import ROLE_NAME_LIMIT, release_role_name

    assert release_role_name("churn", "prod") == "mlrails-churn-prod-release"
    long_a, long_b = "a" * 39 + "x", "a" * 39 + "y"
    names = {release_role_name(project, "production") for project in (long_a, long_b)}
    assert len(names) == 2 and all(len(name) <= ROLE_NAME_LIMIT for name in names)
