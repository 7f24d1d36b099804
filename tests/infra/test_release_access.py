"""Each environment's release access and its inference rollout: the SSM parameters where the
smoke test finds the API and its key, the role the pipeline's steps assume in a stage the lock
pins (and only they), the inference version pinned to the lock, and the canary that moves the
live alias to a new version, rolled back by the API's alarms, in those stages only."""

from __future__ import annotations

import json
import re
import typing
from typing import Any

import pytest
from aws_cdk import App
from aws_cdk.assertions import Match, Template

from infra.app_builder import PIPELINE_STACK, build_app
from infra.constructs.canary import deployment_config_of
from infra.constructs.release_access import IAM_AUTH
from infra.stage import MlrailsStage
from infra.support.nag import flatten_cfn_reference
from infra.support.release import release_step_role_name
from mlrails import wiring
from mlrails.config import ProjectConfig, parse_config
from mlrails.config.release import Canary
from mlrails.wiring import api_parameters, release_role_name
from support.synth import Locked, stage_service

ACCOUNT = "<AWS::AccountId>"  # no account in mlrails.yaml: the CLI's default, for every stack


def inference_environment(template: Template) -> dict[str, Any]:
    description = wiring.function("inference").description
    [function] = [
        fn
        for fn in template.find_resources("AWS::Lambda::Function").values()
        if fn["Properties"].get("Description") == description
    ]
    return function["Properties"]["Environment"]["Variables"]


# ---------------------------------------------------------------- release access and the canary


@pytest.mark.parametrize("environment", ["dev", "staging", "prod"])
def test_every_environment_says_where_its_api_and_key_are(app: App, cfg: ProjectConfig, environment: str) -> None:
    template = stage_service(app, environment)
    parameters = {
        p["Properties"]["Name"]: p["Properties"]["Value"]
        for p in template.find_resources("AWS::SSM::Parameter").values()
    }
    url_name, key_name = api_parameters(cfg.project, environment)
    assert re.fullmatch(
        r"https://<InferenceApi\w+>\.execute-api\.<AWS::Region>\.<AWS::URLSuffix>/<\w+>/",
        flatten_cfn_reference(parameters[url_name]),
    )
    [key_id] = template.find_resources(
        "AWS::ApiGateway::ApiKey", {"Properties": {"Description": "Default inference client key"}}
    )
    assert parameters[key_name] == {"Ref": key_id}


@pytest.mark.parametrize("environment", ["staging", "prod"])
def test_a_release_stage_has_a_role_only_the_pipelines_steps_assume(
    app: App, cfg: ProjectConfig, environment: str
) -> None:
    template = stage_service(app, environment)
    [(role_id, role)] = [
        item
        for item in template.find_resources("AWS::IAM::Role").items()
        if item[1]["Properties"].get("RoleName") == release_role_name(cfg.project, environment)
    ]
    [trust] = role["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    assert flatten_cfn_reference(trust["Principal"]["AWS"]) == f"arn:<AWS::Partition>:iam::{ACCOUNT}:root"
    assert flatten_cfn_reference(trust["Condition"]["ArnEquals"]["aws:PrincipalArn"]) == (
        f"arn:<AWS::Partition>:iam::{ACCOUNT}:role/{release_step_role_name(cfg.project, environment)}"
    )
    stage = app.node.find_child(environment)
    assert isinstance(stage, MlrailsStage)
    operators = stage.service.get_logical_id(stage.service.operator_access.policy.node.default_child)
    assert role["Properties"]["ManagedPolicyArns"] == [{"Ref": operators}]
    statements = [
        statement
        for policy in template.find_resources("AWS::IAM::Policy").values()
        if {"Ref": role_id} in policy["Properties"]["Roles"]
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
    ]
    granted = {
        s["Action"]: sorted(
            flatten_cfn_reference(r) for r in (s["Resource"] if isinstance(s["Resource"], list) else [s["Resource"]])
        )
        for s in statements
    }
    [key_id] = template.find_resources(
        "AWS::ApiGateway::ApiKey", {"Properties": {"Description": "Default inference client key"}}
    )
    parameters = sorted(
        f"arn:<AWS::Partition>:ssm:<AWS::Region>:{ACCOUNT}:parameter<{logical}>"
        for logical, p in template.find_resources("AWS::SSM::Parameter").items()
        if p["Properties"]["Name"] in api_parameters(cfg.project, environment)
    )
    assert granted == {
        "ssm:GetParameter": parameters,
        # The default key's value (GetApiKey, includeValue): the smoke test calls the API with it.
        "apigateway:GET": [f"arn:<AWS::Partition>:apigateway:<AWS::Region>::/apikeys/<{key_id}>"],
    }


def test_a_training_environment_has_no_release_role(app: App, cfg: ProjectConfig) -> None:
    names = [
        r["Properties"].get("RoleName") for r in stage_service(app, "dev").find_resources("AWS::IAM::Role").values()
    ]
    assert release_role_name(cfg.project, "dev") not in names


@pytest.mark.parametrize("environment", ["staging", "prod"])
def test_a_release_stage_rolls_a_new_inference_version_out_as_a_canary(
    app: App, cfg: ProjectConfig, environment: str
) -> None:
    template = stage_service(app, environment)
    stage = app.node.find_child(environment)
    assert isinstance(stage, MlrailsStage)
    alarms = stage.service.alarms
    [group] = template.find_resources("AWS::CodeDeploy::DeploymentGroup").values()
    properties = group["Properties"]
    assert properties["DeploymentConfigName"] == "CodeDeployDefault.LambdaCanary10Percent5Minutes"
    assert cfg.release_canary == "CANARY_10PERCENT_5MINUTES"
    assert properties["AlarmConfiguration"] == {
        "Alarms": [
            {"Name": {"Ref": stage.service.get_logical_id(alarm.node.default_child)}}
            for alarm in (alarms.api_5xx_rate, alarms.api_p99_latency)
        ],
        "Enabled": True,
    }
    assert set(properties["AutoRollbackConfiguration"]["Events"]) == {
        "DEPLOYMENT_FAILURE",
        "DEPLOYMENT_STOP_ON_REQUEST",
        "DEPLOYMENT_STOP_ON_ALARM",
    }
    # The live alias moves through CodeDeploy, not straight to the new version.
    [alias] = template.find_resources("AWS::Lambda::Alias").values()
    assert "CodeDeployLambdaAliasUpdate" in alias["UpdatePolicy"]


def test_a_training_environment_switches_versions_at_once(app: App) -> None:
    template = stage_service(app, "dev")
    template.resource_count_is("AWS::CodeDeploy::DeploymentGroup", 0)
    [alias] = template.find_resources("AWS::Lambda::Alias").values()
    assert "UpdatePolicy" not in alias


def test_every_canary_the_config_accepts_is_one_codedeploy_knows() -> None:
    for name in typing.get_args(Canary):
        assert deployment_config_of(name) is not None, name


# ---------------------------------------------------------------- variants (one environment each)


@pytest.fixture(scope="module")
def without_release(cfg: ProjectConfig, fast_context: dict[str, Any], tmp_path_factory: pytest.TempPathFactory) -> App:
    """mlrails.yaml's staging alone, and no release: section."""
    document = cfg.model_dump(mode="json")
    document["environments"] = {"staging": document["environments"]["staging"]}
    document["release"] = None
    return build_app(
        fast_context,
        outdir=str(tmp_path_factory.mktemp("cdk.out.no-release")),
        config=parse_config(document),
        builtin_validation=False,
    )


def test_without_a_release_section_there_is_no_pipeline_store_or_release_role(
    without_release: App, cfg: ProjectConfig
) -> None:
    assert without_release.node.try_find_child(PIPELINE_STACK) is None
    stage = without_release.node.find_child("staging")
    assert isinstance(stage, MlrailsStage)
    template = Template.from_stack(stage.service)
    names = [r["Properties"].get("RoleName") for r in template.find_resources("AWS::IAM::Role").values()]
    assert release_role_name(cfg.project, "staging") not in names
    description = wiring.function("train").description
    [train] = [
        fn
        for fn in template.find_resources("AWS::Lambda::Function").values()
        if fn["Properties"].get("Description") == description
    ]
    assert "MLRAILS_RELEASE_STORE" not in train["Properties"]["Environment"]["Variables"]
    assert "release/sha256" not in json.dumps(Template.from_stack(stage.tracking).to_json())
    # Still: where the smoke test finds the API (a person may run it), and the canary (its
    # configuration's default), since staging serves releases whoever applies them.
    parameters = {p["Properties"]["Name"] for p in template.find_resources("AWS::SSM::Parameter").values()}
    assert set(api_parameters(cfg.project, "staging")) <= parameters
    template.has_resource_properties(
        "AWS::CodeDeploy::DeploymentGroup", {"DeploymentConfigName": "CodeDeployDefault.LambdaCanary10Percent5Minutes"}
    )


def test_with_iam_auth_the_key_parameter_says_so_and_the_role_may_call_the_api(dev_service_template) -> None:
    template: Template = dev_service_template({"auth": "iam", "models": "release"})
    values = [p["Properties"]["Value"] for p in template.find_resources("AWS::SSM::Parameter").values()]
    assert IAM_AUTH in values
    [invoke] = template.find_resources(
        "AWS::IAM::ManagedPolicy",
        {"Properties": {"Description": Match.string_like_regexp("call the scoring API")}},
    )
    [role] = [
        r
        for r in template.find_resources("AWS::IAM::Role").values()
        if str(r["Properties"].get("RoleName", "")).endswith("-dev-release")
    ]
    assert {"Ref": invoke} in role["Properties"]["ManagedPolicyArns"]
    assert "apigateway:GET" not in json.dumps(template.find_resources("AWS::IAM::Policy"))


def test_a_release_stages_inference_version_is_pinned_to_the_lock(locked: Locked) -> None:
    """A new lock is a new function version: the canary shifts the traffic to it."""
    assert inference_environment(stage_service(locked.app, "staging"))["MLRAILS_RELEASE_LOCK"] == locked.lock.digest
    assert inference_environment(stage_service(locked.app, "prod"))["MLRAILS_RELEASE_LOCK"] == locked.lock.digest
    assert "MLRAILS_RELEASE_LOCK" not in inference_environment(stage_service(locked.app, "dev"))


def test_without_a_lock_nothing_is_pinned(app: App) -> None:
    for environment in ("dev", "staging", "prod"):
        assert "MLRAILS_RELEASE_LOCK" not in inference_environment(stage_service(app, environment))
