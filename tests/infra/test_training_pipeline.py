"""The training run: a Standard state machine built from ``wiring.TRAINING``, started by
retrain_trigger (no longer by an EventBridge rule), publishing TrainingFailed on any failure.

The definition is an ``Fn::Join`` of JSON text and references: it is read with the references
rendered as ``<LogicalId.Attribute>`` placeholders, and resources are found by their
description or type, never by hashed logical ids.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from aws_cdk.assertions import Match, Template

from infra.support.nag import flatten_cfn_reference
from mlrails import wiring
from mlrails.config import ProjectConfig

TRANSIENT = {
    "Lambda.ServiceException",
    "Lambda.AWSLambdaException",
    "Lambda.SdkClientException",
    "Lambda.TooManyRequestsException",
}


def function_id(template: Template, name: str) -> str:
    """The logical id of the function of ``name`` (found by its description)."""
    description = wiring.function(name).description
    found = [
        logical_id
        for logical_id, fn in template.find_resources("AWS::Lambda::Function").items()
        if fn["Properties"].get("Description") == description
    ]
    assert len(found) == 1, found
    return found[0]


def role_of(template: Template, function_logical_id: str) -> str:
    fn = template.find_resources("AWS::Lambda::Function")[function_logical_id]
    return fn["Properties"]["Role"]["Fn::GetAtt"][0]


def state_machine(template: Template, owner: str = "Retraining") -> tuple[str, dict[str, Any]]:
    """The state machine of the ``owner`` construct of the Service stack (its logical id starts
    with the construct's id): the training run's by default, ``Batch`` for batch scoring's."""
    machines = {
        logical_id: resource
        for logical_id, resource in template.find_resources("AWS::StepFunctions::StateMachine").items()
        if logical_id.startswith(owner)
    }
    assert len(machines) == 1, list(machines)
    ((logical_id, resource),) = machines.items()
    return logical_id, resource["Properties"]


def role_grants(template: Template, role_id: str) -> dict[str, set[str]]:
    """What the role's policies allow: action -> the resources (flattened), conditions aside."""
    by_action: dict[str, set[str]] = {}
    for policy in template.find_resources("AWS::IAM::Policy").values():
        if {"Ref": role_id} not in policy["Properties"]["Roles"]:
            continue
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
            actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
            resources = statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
            for action in actions:
                by_action.setdefault(action, set()).update(flatten_cfn_reference(r) for r in resources)
    return by_action


def definition(template: Template, owner: str = "Retraining") -> dict[str, Any]:
    """The state machine's definition, references rendered as placeholders (JSON-safe)."""
    body = state_machine(template, owner)[1]["DefinitionString"]
    if isinstance(body, dict):
        delimiter, parts = body["Fn::Join"]
        body = delimiter.join(part if isinstance(part, str) else flatten_cfn_reference(part) for part in parts)
    return json.loads(body)


def invocation(state: dict[str, Any]) -> tuple[str, dict[str, Any]] | None:
    """(function, payload) of a Lambda task, in either of its forms: the optimized integration
    (``arn:...:states:::lambda:invoke``) or the function ARN as the resource."""
    if state.get("Type") != "Task":
        return None
    resource, parameters = state["Resource"], state.get("Parameters", {})
    if resource.endswith(":states:::lambda:invoke"):
        return parameters["FunctionName"], parameters["Payload"]
    if resource.startswith("<") and resource.endswith(".Arn>"):
        return resource, parameters
    return None


def steps_in_order(template: Template) -> list[tuple[str, dict[str, Any]]]:
    """(state name, state) from StartAt along Next to the End."""
    document = definition(template)
    states, name, path = document["States"], document["StartAt"], []
    while True:
        state = states[name]
        path.append((name, state))
        if state.get("End"):
            return path
        name = state["Next"]
        assert len(path) <= len(states), "the states loop"


def training_steps(template: Template) -> list[tuple[str, dict[str, Any]]]:
    """The path's train function steps: between holding MLflow and releasing it
    (test_tracking_on_demand.py holds those two)."""
    path = steps_in_order(template)
    assert [path[0][0], path[-1][0]] == ["HoldTracking", "ReleaseTracking"]
    return path[1:-1]


@pytest.fixture(scope="module")
def train_arn(service_template: Template) -> str:
    return f"<{function_id(service_template, wiring.TRAINING.function)}.Arn>"


@pytest.fixture(scope="module")
def switch_arn(service_template: Template) -> str:
    return f"<{function_id(service_template, wiring.TRAINING.tracking_function)}.Arn>"


def test_one_invocation_of_train_per_step_in_order(service_template: Template, train_arn: str) -> None:
    path = training_steps(service_template)
    assert [invocation(state) for _, state in path] == [
        (train_arn, {"step": step, "state.$": "$"}) for step in wiring.TRAINING.steps
    ]
    assert [state["ResultPath"] for _, state in path] == [f"$.{step}" for step in wiring.TRAINING.steps]
    # The step's result itself, not Lambda's response envelope.
    assert all(state["Resource"] == train_arn or "ResultSelector" in state for _, state in path)
    # No other Lambda task anywhere but the tracking switch's.
    invoking = [name for name, state in definition(service_template)["States"].items() if invocation(state)]
    switch = ["HoldTracking", "ReleaseTracking", "ReleaseTrackingAfterFailure"]
    assert sorted(invoking) == sorted([name for name, _ in path] + switch)


def test_only_lambdas_transient_errors_are_retried(service_template: Template) -> None:
    for name, state in training_steps(service_template):
        transient, in_progress = state["Retry"]
        assert set(transient["ErrorEquals"]) == TRANSIENT, name
        assert transient["MaxAttempts"] == wiring.TRAINING.retry_attempts
        assert transient["IntervalSeconds"] >= 1 and transient["BackoffRate"] > 1
        # A retry that meets the first invocation still running waits it out (> the 15-minute limit).
        assert in_progress["ErrorEquals"] == ["IdempotencyAlreadyInProgressError"], name
        assert in_progress["IntervalSeconds"] * in_progress["MaxAttempts"] > wiring.function("train").timeout_seconds
    # A step that raised fails the run: nothing retries task failures or everything.
    for name, state in definition(service_template)["States"].items():
        for retry in state.get("Retry", []):
            assert not {"States.ALL", "States.TaskFailed", "Lambda.Unknown"} & set(retry["ErrorEquals"]), name


def test_any_failure_publishes_training_failed_then_fails(service_template: Template, cfg: ProjectConfig) -> None:
    states = definition(service_template)["States"]
    catches = [state["Catch"] for _, state in steps_in_order(service_template)[:-1]]
    handler = catches[0][0]["Next"]
    assert handler == "ReleaseTrackingAfterFailure"  # MLflow first (test_tracking_on_demand.py)
    assert catches == [[{"ErrorEquals": ["States.ALL"], "ResultPath": "$.failure", "Next": handler}]] * len(catches)
    release = states[handler]
    assert release["Catch"] == [
        {"ErrorEquals": ["States.ALL"], "ResultPath": "$.release_failure", "Next": release["Next"]}
    ]

    publish = states[release["Next"]]
    assert publish["Type"] == "Task" and publish["Resource"].endswith(":states:::events:putEvents")
    assert "ResultPath" in publish and publish["ResultPath"] is None  # $.failure stays for the Fail state
    assert "Catch" not in publish and "Retry" not in publish
    (entry,) = publish["Parameters"]["Entries"]
    assert entry["Source"] == wiring.EVENT_SOURCE
    assert entry["DetailType"] == wiring.DetailType.TRAINING_FAILED.value == "TrainingFailed"
    assert entry["Detail"] == {
        "schema_version": wiring.SCHEMA_VERSION,
        "model": cfg.model.name,
        "environment": "dev",
        "trigger_id.$": "$.request.trigger_id",
        "error.$": "$.failure.Error",
        "cause.$": "$.failure.Cause",
        "requested_at.$": "$.time",  # which of the policy's runs failed: retrain_trigger gives it back
    }
    assert "StoreBus" in entry["EventBusName"], entry["EventBusName"]  # the project bus (Data stack)

    fail = states[publish["Next"]]
    assert fail == {**fail, "Type": "Fail", "ErrorPath": "$.failure.Error", "CausePath": "$.failure.Cause"}


def test_a_run_is_bounded_logged_and_traced(service_template: Template) -> None:
    assert definition(service_template)["TimeoutSeconds"] == wiring.TRAINING.timeout_seconds
    service_template.has_resource_properties(
        "AWS::StepFunctions::StateMachine",
        {
            "StateMachineType": "STANDARD",
            "StateMachineName": Match.absent(),
            "TracingConfiguration": {"Enabled": True},
            "LoggingConfiguration": {
                "Level": "ALL",
                "IncludeExecutionData": False,
                "Destinations": [{"CloudWatchLogsLogGroup": {"LogGroupArn": Match.any_value()}}],
            },
        },
    )
    destination = state_machine(service_template)[1]["LoggingConfiguration"]["Destinations"][0]
    (group_id, _) = destination["CloudWatchLogsLogGroup"]["LogGroupArn"]["Fn::GetAtt"]
    group = service_template.find_resources("AWS::Logs::LogGroup")[group_id]
    assert group["Properties"]["RetentionInDays"] == 30


def test_the_state_machine_may_invoke_train_and_the_switch_and_publish_only(
    service_template: Template, train_arn: str, switch_arn: str
) -> None:
    by_action = role_grants(service_template, state_machine(service_template)[1]["RoleArn"]["Fn::GetAtt"][0])
    assert by_action.pop("lambda:InvokeFunction") == {train_arn, f"{train_arn}:*", switch_arn, f"{switch_arn}:*"}
    (bus,) = by_action.pop("events:PutEvents")
    assert "StoreBus" in bus
    # What remains is log delivery and X-Ray, which have no resource-level permissions.
    assert {action.split(":")[0] for action in by_action} <= {"logs", "xray"}
    assert all(resources == {"*"} for resources in by_action.values())


def test_retrain_trigger_knows_the_state_machine(service_template: Template) -> None:
    machine_id = state_machine(service_template)[0]
    functions = service_template.find_resources("AWS::Lambda::Function")
    trigger_id = function_id(service_template, "retrain_trigger")
    for logical_id, fn in functions.items():
        variables = fn["Properties"]["Environment"]["Variables"]
        if logical_id == trigger_id:
            assert variables["MLRAILS_TRAINING_STATE_MACHINE"] == {"Ref": machine_id}
        else:
            assert "MLRAILS_TRAINING_STATE_MACHINE" not in variables, logical_id


def test_retrain_trigger_starts_executions_of_that_state_machine_only(service_template: Template) -> None:
    machine_id = state_machine(service_template)[0]
    trigger_id = function_id(service_template, "retrain_trigger")
    role_id = role_of(service_template, trigger_id)
    granted = [
        (s["Action"], s["Resource"])
        for policy in service_template.find_resources("AWS::IAM::Policy").values()
        if {"Ref": role_id} in policy["Properties"]["Roles"]
        for s in policy["Properties"]["PolicyDocument"]["Statement"]
        if any(a.startswith("states:") for a in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"]))
    ]
    assert granted == [("states:StartExecution", {"Ref": machine_id})]


def test_train_is_no_longer_an_event_target(service_template: Template) -> None:
    assert "RetrainRequestedToTrain" not in {route.name for route in wiring.ROUTES}
    assert not service_template.find_resources(
        "AWS::Events::Rule",
        {"Properties": {"EventPattern": {"detail-type": [wiring.DetailType.RETRAIN_REQUESTED.value]}}},
    )
    train_id = function_id(service_template, wiring.TRAINING.function)
    rules = service_template.find_resources("AWS::Events::Rule").values()
    targets = [target["Arn"] for rule in rules for target in rule["Properties"]["Targets"]]
    schedules = service_template.find_resources("AWS::Scheduler::Schedule").values()
    targets += [schedule["Properties"]["Target"]["Arn"] for schedule in schedules]
    assert targets and not any(train_id in json.dumps(arn) for arn in targets)
    # Nor may EventBridge or the scheduler invoke it.
    permissions = service_template.find_resources("AWS::Lambda::Permission").values()
    assert not any(train_id in json.dumps(p["Properties"]["FunctionName"]) for p in permissions)


def test_failed_and_timed_out_runs_alarm(service_template: Template) -> None:
    assert_executions_alarm(service_template, state_machine(service_template)[0])


def assert_executions_alarm(service_template: Template, machine_id: str) -> None:
    """A failed or timed-out execution of the state machine ``machine_id`` alarms, at the first."""
    for metric in ("ExecutionsFailed", "ExecutionsTimedOut"):
        service_template.has_resource_properties(
            "AWS::CloudWatch::Alarm",
            {
                "Namespace": "AWS/States",
                "MetricName": metric,
                "Dimensions": [{"Name": "StateMachineArn", "Value": {"Ref": machine_id}}],
                "Statistic": "Sum",
                "Threshold": 1,
                "ComparisonOperator": "GreaterThanOrEqualToThreshold",
                "AlarmActions": [Match.any_value()],
            },
        )
