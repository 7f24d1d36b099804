"""The training compute ladder in the template (training.compute): with ``auto`` the state
machine chooses per run between today's LambdaInvoke steps and ECS Fargate tasks of the same
image, each followed by reading its result from runs/; the task definition's size is the
config's; the task runs as the train function does (role, environment, network). One variant
synthesis (``auto``: both paths) with cdk-nag; the example (``lambda``) deploys no task."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pytest
from aws_cdk.assertions import Template
from test_training_pipeline import definition, role_grants, state_machine

from infra.constructs.training_pipeline import TRANSIENT_ECS_ERRORS, TRANSIENT_LAMBDA_ERRORS
from infra.support.nag import flatten_cfn_reference
from mlrails import wiring
from mlrails.config import ProjectConfig, parse_config

SIZE = {"cpu": 8192, "memory_mb": 32768, "ephemeral_storage_gib": 50}


@dataclass(frozen=True)
class Variant:
    service: Template
    findings: list[str]


@pytest.fixture(scope="module")
def auto(cfg: ProjectConfig, fast_context: dict[str, Any], tmp_path_factory: pytest.TempPathFactory) -> Variant:
    """mlrails.yaml with ``training.compute: auto`` and a Fargate size of its own, synthesized
    with the app's validation (cdk-nag; CDK's CloudFormation checks are the session's)."""
    from infra.app_builder import build_app, validation_failures
    from infra.stage import MlrailsStage

    document = cfg.model_dump(mode="json")
    document["training"] = {**document["training"], "compute": "auto", "fargate": SIZE}
    outdir = tmp_path_factory.mktemp("cdk.out.auto")
    app = build_app(fast_context, outdir=str(outdir), config=parse_config(document), builtin_validation=False)
    try:
        app.synth()
    except RuntimeError as exc:  # unacknowledged findings: the report lists them
        if "ValidationFailed" not in str(exc):
            raise
    stage = app.node.find_child("dev")
    assert isinstance(stage, MlrailsStage)
    return Variant(Template.from_stack(stage.service), validation_failures(outdir))


def _train_function(service: Template) -> dict[str, Any]:
    description = wiring.function(wiring.TRAINING.function).description
    (fn,) = [
        fn["Properties"]
        for fn in service.find_resources("AWS::Lambda::Function").values()
        if fn["Properties"].get("Description") == description
    ]
    return fn


def _taskdefinition(service: Template) -> dict[str, Any]:
    (task,) = service.find_resources("AWS::ECS::TaskDefinition").values()
    return task["Properties"]


def test_nag_finds_nothing_unacknowledged(auto: Variant) -> None:
    assert auto.findings == []


def test_the_example_trains_on_lambda_and_deploys_no_task(service_template: Template) -> None:
    document = definition(service_template)
    assert document["States"][document["StartAt"]]["Next"] == "Train"  # after holding MLflow
    service_template.resource_count_is("AWS::ECS::TaskDefinition", 0)
    service_template.resource_count_is("AWS::ECS::Cluster", 0)


def test_auto_chooses_the_engine_the_run_was_started_with(auto: Variant) -> None:
    document = definition(auto.service)
    choice = document["States"][document["States"][document["StartAt"]]["Next"]]  # after holding MLflow
    assert choice["Type"] == "Choice"
    (rule,) = choice["Choices"]
    assert rule == {"Variable": "$.compute", "StringEquals": "fargate", "Next": "TrainOnFargate"}
    assert choice["Default"] == "Train"  # today's path, for anything else


def test_each_step_runs_as_a_fargate_task_then_its_result_is_read_into_the_state(auto: Variant) -> None:
    states, path, name = definition(auto.service)["States"], [], "TrainOnFargate"
    while name:
        path.append(name)
        name = states[name].get("Next")
    expected = []
    for step in wiring.TRAINING.steps:
        state = step.capitalize()
        expected += [f"{state}OnFargate", f"Read{state}Result", f"{state}Result"]
    assert path == [*expected, "ReleaseTracking"]

    train = _train_function(auto.service)["VpcConfig"]
    for step in wiring.TRAINING.steps:
        state = step.capitalize()
        run, read, unwrap = states[f"{state}OnFargate"], states[f"Read{state}Result"], states[f"{state}Result"]
        # Run a job: .sync waits for the task to stop; its response is no result.
        assert run["Resource"].endswith(":states:::ecs:runTask.sync") and run["ResultPath"] is None
        parameters = run["Parameters"]
        assert parameters["LaunchType"] == "FARGATE"
        network = parameters["NetworkConfiguration"]["AwsvpcConfiguration"]
        # The public subnets, with an address (no endpoint carries its image pull or its logs),
        # as the MLflow task; the train function's security group: it reaches MLflow alike and
        # admits nothing.
        assert network["AssignPublicIp"] == "ENABLED"
        assert all("publicSubnet" in json.dumps(subnet) for subnet in network["Subnets"]), network["Subnets"]
        assert network["SecurityGroups"] == [flatten_cfn_reference(s) for s in train["SecurityGroupIds"]]
        (override,) = parameters["Overrides"]["ContainerOverrides"]
        assert override["Environment"] == [
            {"Name": wiring.TASK_STEP, "Value": step},
            {"Name": wiring.TASK_REQUEST, "Value.$": "States.JsonToString($.request)"},
            {"Name": wiring.TASK_TIME, "Value.$": "$.time"},
        ]
        # The result the task left, where the Lambda path puts its own: $.<step>, unwrapped.
        assert read["Resource"].endswith(":states:::aws-sdk:s3:getObject")
        assert (
            read["Parameters"]["Key.$"] == f"States.Format('{wiring.STEP_RESULT_KEY}', $.request.trigger_id, '{step}')"
        )
        assert read["ResultSelector"] == {"result.$": "States.StringToJson($.Body)"}
        assert read["ResultPath"] == f"$.{step}"
        assert unwrap == {**unwrap, "Type": "Pass", "InputPath": f"$.{step}.result", "ResultPath": f"$.{step}"}


def test_both_paths_retry_only_transient_errors_and_fail_to_training_failed(auto: Variant) -> None:
    states = definition(auto.service)["States"]
    # MLflow released first, then TrainingFailed (test_training_pipeline.py).
    catch = [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.failure", "Next": "ReleaseTrackingAfterFailure"}]
    for step in wiring.TRAINING.steps:
        state = step.capitalize()
        on_lambda, run, read = states[state], states[f"{state}OnFargate"], states[f"Read{state}Result"]
        assert on_lambda["Catch"] == run["Catch"] == read["Catch"] == catch
        assert set(on_lambda["Retry"][0]["ErrorEquals"]) == set(TRANSIENT_LAMBDA_ERRORS)
        (retry,) = run["Retry"]
        # A task that ran and exited non-zero (States.TaskFailed) is a failed step: not retried.
        assert set(retry["ErrorEquals"]) == set(TRANSIENT_ECS_ERRORS)
        assert retry["MaxAttempts"] == wiring.TRAINING.retry_attempts
        assert read["Retry"][0]["ErrorEquals"] == ["States.TaskFailed"]
    assert states["ReleaseTrackingAfterFailure"]["Next"] == "PublishTrainingFailed"
    assert states["PublishTrainingFailed"]["Next"] == "Failed"


def test_the_task_definition_has_the_configured_size_and_the_train_functions_image_and_environment(
    auto: Variant,
) -> None:
    task = _taskdefinition(auto.service)
    assert (task["Cpu"], task["Memory"]) == (str(SIZE["cpu"]), str(SIZE["memory_mb"]))
    assert task["EphemeralStorage"] == {"SizeInGiB": SIZE["ephemeral_storage_gib"]}
    assert task["RequiresCompatibilities"] == ["FARGATE"] and task["NetworkMode"] == "awsvpc"
    (container,) = task["ContainerDefinitions"]
    assert container["EntryPoint"] == ["python", "-m", "task"] and container["WorkingDirectory"] == "/var/task"
    assert container["LogConfiguration"]["LogDriver"] == "awslogs"
    train = _train_function(auto.service)
    # One image: the same asset the function runs (its ECR tag is the asset's hash).
    assert (
        flatten_cfn_reference(container["Image"]).rsplit(":", 1)[-1]
        == flatten_cfn_reference(train["Code"]["ImageUri"]).rsplit(":", 1)[-1]
    )
    environment = {variable["Name"]: variable["Value"] for variable in container["Environment"]}
    assert environment == train["Environment"]["Variables"]
    # Its events too go through the outbox (the function's role may not put events on the bus).
    assert "MLRAILS_EVENTS_OUTBOX" in environment


def test_the_task_assumes_the_train_functions_role(auto: Variant) -> None:
    task, train = _taskdefinition(auto.service), _train_function(auto.service)
    role_id = train["Role"]["Fn::GetAtt"][0]
    # The same grants, not a copy of them: and the one role the bucket policy lets write models/.
    assert task["TaskRoleArn"] == {"Fn::GetAtt": [role_id, "Arn"]}
    trust = auto.service.find_resources("AWS::IAM::Role")[role_id]["Properties"]["AssumeRolePolicyDocument"]
    principals = {s["Principal"]["Service"] for s in trust["Statement"]}
    assert principals == {"lambda.amazonaws.com", "ecs-tasks.amazonaws.com"}
    # The execution role (image pull, logs) is another.
    assert task["ExecutionRoleArn"]["Fn::GetAtt"][0] != role_id


def test_the_state_machine_reads_results_under_runs_only_and_may_run_the_task(auto: Variant) -> None:
    _, machine = state_machine(auto.service)
    grants = role_grants(auto.service, machine["RoleArn"]["Fn::GetAtt"][0])
    (results,) = grants["s3:getObject"]
    assert results.endswith(f"/{wiring.Prefix.RUNS.value}*"), results
    assert "ecs:RunTask" in grants and "ecs:StopTask" in grants and "iam:PassRole" in grants


def test_the_train_role_may_read_and_leave_results_and_the_trigger_may_list_features(auto: Variant) -> None:
    train_role = _train_function(auto.service)["Role"]["Fn::GetAtt"][0]
    grants = role_grants(auto.service, train_role)
    runs = {r for r in grants["s3:PutObject"] if r.endswith(f"/{wiring.Prefix.RUNS.value}*")}
    assert len(runs) == 1 and runs <= grants["s3:GetObject"]
    trigger = next(
        fn["Properties"]["Role"]["Fn::GetAtt"][0]
        for fn in auto.service.find_resources("AWS::Lambda::Function").values()
        if fn["Properties"].get("Description") == wiring.function("retrain_trigger").description
    )
    # auto sizes the window's features: a listing of features/, nothing read.
    listed = [
        statement["Condition"]["StringLike"]["s3:prefix"]
        for policy in auto.service.find_resources("AWS::IAM::Policy").values()
        if {"Ref": trigger} in policy["Properties"]["Roles"]
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
        if statement["Action"] == "s3:ListBucket"
    ]
    assert [f"{wiring.Prefix.FEATURES.value}*"] in listed
    assert not any(
        r.endswith(f"/{wiring.Prefix.FEATURES.value}*")
        for r in role_grants(auto.service, trigger).get("s3:GetObject", ())
    )
