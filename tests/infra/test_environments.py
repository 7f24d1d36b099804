"""Environments kept apart: every function reserves the concurrency its environment's config
gives it (so one environment cannot take another's in a shared account), environments that
share an account are warned about, and a production one is refused unless the config
acknowledges it. Alarms with nobody to notify are refused the same way."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from aws_cdk import App
from aws_cdk.assertions import Annotations, Match, Template

from infra.app_builder import (
    SHARED_ACCOUNT_WARNING,
    build_app,
    refuse_unacknowledged_risks,
    shared_accounts,
    validation_failures,
)
from infra.stage import MlrailsStage
from mlrails import wiring
from mlrails.config import ProjectConfig, parse_config
from mlrails.errors import ConfigError

REASON = "tests: a reason long enough to count as one"


def with_environments(cfg: ProjectConfig, environments: dict[str, dict[str, Any]]) -> ProjectConfig:
    """``cfg`` with these environments, and no release pipeline (which must name its account when
    an environment names one: another test's concern)."""
    document = cfg.model_dump(mode="json")
    document["environments"] = environments
    document["release"] = None
    return parse_config(document)


def reserved(template: Template, description: str) -> int | None:
    [function] = template.find_resources("AWS::Lambda::Function", {"Properties": {"Description": description}}).values()
    return function["Properties"].get("ReservedConcurrentExecutions")


# ---------------------------------------------------------------- reserved concurrency


@pytest.mark.parametrize("environment", ["dev", "staging", "prod"])
def test_every_function_reserves_the_concurrency_its_environment_gives_it(
    app: App, cfg: ProjectConfig, environment: str
) -> None:
    stage = app.node.find_child(environment)
    assert isinstance(stage, MlrailsStage)
    template = Template.from_stack(stage.service)
    expected = cfg.environments[environment].reserved_concurrency
    for name, fn in stage.service.functions.items():
        assert reserved(template, fn.spec.description) == getattr(expected, name), name
    assert set(stage.service.functions) == {spec.name for spec in wiring.FUNCTIONS}


def test_prod_reserves_what_its_burst_needs_and_training_stays_small(app: App) -> None:
    stage = app.node.find_child("prod")
    assert isinstance(stage, MlrailsStage)
    template = Template.from_stack(stage.service)
    assert (
        reserved(template, wiring.function("inference").description) == 410
    )  # mlrails.yaml: throttle_burst 400 + the feedback API's 10
    assert reserved(template, wiring.function("train").description) == 3


def test_reservations_follow_the_config_and_none_reserves_nothing(
    dev_service_template: Callable[[dict[str, Any]], Template],
) -> None:
    template = dev_service_template({"reserved_concurrency": {"inference": 150, "train": 1, "feature_prep": None}})
    assert reserved(template, wiring.function("inference").description) == 150
    assert reserved(template, wiring.function("train").description) == 1
    assert reserved(template, wiring.function("feature_prep").description) is None
    assert reserved(template, wiring.function("drift_check").description) == 12  # the default


# ---------------------------------------------------------------- shared accounts


@pytest.fixture(scope="module")
def shared(cfg: ProjectConfig, fast_context: dict[str, Any], tmp_path_factory: pytest.TempPathFactory) -> App:
    """dev and staging in the CLI's default account; staging acknowledges it, dev does not."""
    config = with_environments(
        cfg,
        {
            "dev": {"acknowledge": {"no_alarm_email": REASON}},
            "staging": {"acknowledge": {"no_alarm_email": REASON, "shared_account": REASON}},
        },
    )
    return build_app(
        fast_context, outdir=str(tmp_path_factory.mktemp("cdk.out.shared")), config=config, builtin_validation=False
    )


def test_environments_sharing_an_account_are_warned_about_unless_acknowledged(shared: App) -> None:
    dev, staging = shared.node.find_child("dev"), shared.node.find_child("staging")
    assert isinstance(dev, MlrailsStage) and isinstance(staging, MlrailsStage)
    Annotations.from_stack(dev.service).has_warning(
        "/dev/Service", Match.string_like_regexp(f"same account as staging.*{SHARED_ACCOUNT_WARNING}")
    )
    Annotations.from_stack(staging.service).has_no_warning("*", Match.string_like_regexp("same account"))


def test_an_unacknowledged_shared_account_fails_make_synth(shared: App) -> None:
    # infra.app fails the synth on every unacknowledged finding of the validation report.
    failures = validation_failures(shared.synth().directory)
    assert f"Construct Annotations: Annotation::{SHARED_ACCOUNT_WARNING} at dev/Service" in failures
    assert not [failure for failure in failures if "staging" in failure]


@pytest.mark.parametrize("production", ["prod", "production"])
def test_a_production_environment_sharing_an_account_is_refused(cfg: ProjectConfig, production: str) -> None:
    own = {"acknowledge": {"no_alarm_email": REASON}}
    config = with_environments(cfg, {"dev": own, production: own})
    with pytest.raises(ConfigError, match=rf"environments.{production}: deploys to the same account as dev"):
        refuse_unacknowledged_risks(config)
    refuse_unacknowledged_risks(with_environments(cfg, {"dev": own, "qa": own}))  # not production: a warning


def test_a_production_environment_sharing_an_account_fails_the_synth(
    cfg: ProjectConfig, fast_context: dict[str, Any]
) -> None:
    document = cfg.model_dump(mode="json")
    document["environments"]["prod"]["acknowledge"]["shared_account"] = None
    with pytest.raises(ConfigError, match=r"environments.prod: deploys to the same account as dev, staging") as error:
        build_app(fast_context, config=parse_config(document), builtin_validation=False)
    assert "environments.prod.acknowledge.shared_account" in str(error.value)


def test_accounts_are_compared_as_deployed(cfg: ProjectConfig) -> None:
    own = {"acknowledge": {"no_alarm_email": REASON}}
    separate = with_environments(cfg, {"dev": own, "prod": {**own, "account": "123456789012"}})
    assert shared_accounts(separate) == {}
    refuse_unacknowledged_risks(separate)  # prod in an account of its own needs no acknowledgement
    same = with_environments(
        cfg, {"dev": {**own, "account": "123456789012"}, "prod": {**own, "account": "123456789012"}}
    )
    assert shared_accounts(same) == {"dev": ["prod"], "prod": ["dev"]}
    with pytest.raises(ConfigError, match=r"environments.prod: .*account 123456789012"):
        refuse_unacknowledged_risks(same)


# ---------------------------------------------------------------- someone to notify


def test_alarms_without_a_subscriber_fail_the_synth(dev_service_template: Callable[[dict[str, Any]], Template]) -> None:
    with pytest.raises(ConfigError, match=r"environments.dev: its alarms notify nobody") as error:
        dev_service_template({"acknowledge": {}})
    assert "environments.dev.alarm_email" in str(error.value)
    assert "environments.dev.acknowledge.no_alarm_email" in str(error.value)


def test_an_alarm_email_needs_no_acknowledgement(cfg: ProjectConfig) -> None:
    refuse_unacknowledged_risks(with_environments(cfg, {"dev": {"alarm_email": "ops@example.com"}}))
