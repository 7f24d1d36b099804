"""MLflow on demand: no task deployed; the training run holds it through the tracking switch
before its first step (asking again while the task starts) and releases it after its last step
or a failure; the switch runs outside the VPC with the service's scale and the leases' item
only; an hourly sweep stops what nobody holds."""

from __future__ import annotations

import json

from aws_cdk.assertions import Match, Template
from test_training_pipeline import definition, function_id, role_of, steps_in_order

from infra.support.nag import flatten_cfn_reference
from mlrails import wiring


def test_the_server_is_deployed_with_no_task(tracking_template: Template) -> None:
    tracking_template.has_resource_properties("AWS::ECS::Service", {"DesiredCount": 0, "EnableExecuteCommand": True})


def test_a_run_holds_mlflow_first_and_releases_it_last(service_template: Template) -> None:
    path = steps_in_order(service_template)
    (hold_name, hold), (release_name, release) = path[0], path[-1]
    assert (hold_name, release_name) == ("HoldTracking", "ReleaseTracking")
    switch = f"<{function_id(service_template, wiring.TRAINING.tracking_function)}.Arn>"
    for state in (hold, release):
        assert state["Parameters"]["FunctionName"] == switch
        assert state["ResultPath"] is None  # the run's state stays as it was
    holder = "States.Format('training:{}', $.request.trigger_id)"
    assert hold["Parameters"]["Payload"] == {
        "action": "hold",
        "holder.$": holder,
        "minutes": wiring.TRAINING.timeout_seconds // 60,
        "wait": True,
        "time.$": "$$.State.EnteredTime",
    }
    assert release["Parameters"]["Payload"] == {
        "action": "release",
        "holder.$": holder,
        "time.$": "$$.State.EnteredTime",
    }
    # While the task starts the switch answers TrackingStarting: asked again, for ten minutes.
    starting = next(r for r in hold["Retry"] if r["ErrorEquals"] == ["TrackingStarting"])
    assert starting["IntervalSeconds"] * starting["MaxAttempts"] == 600 and starting["BackoffRate"] == 1
    # A server that never starts fails the run, through the release.
    assert hold["Catch"] == [
        {"ErrorEquals": ["States.ALL"], "ResultPath": "$.failure", "Next": "ReleaseTrackingAfterFailure"}
    ]
    # A release that fails after a run that succeeded leaves the hold to expire; the run succeeded.
    states = definition(service_template)["States"]
    (left,) = release["Catch"]
    assert states[left["Next"]]["Type"] == "Succeed"


def test_the_switch_runs_outside_the_vpc_and_may_scale_only_mlflow(service_template: Template) -> None:
    switch = function_id(service_template, wiring.TRAINING.tracking_function)
    properties = service_template.find_resources("AWS::Lambda::Function")[switch]["Properties"]
    assert "VpcConfig" not in properties  # ECS's API over the internet: no endpoint to pay for
    server = properties["Environment"]["Variables"]["MLRAILS_TRACKING_SERVER"]
    assert "Fn::ImportValue" in json.dumps(server)  # the Tracking stack's service

    role = role_of(service_template, switch)
    granted: dict[str, list] = {}
    for policy in service_template.find_resources("AWS::IAM::Policy").values():
        if {"Ref": role} not in policy["Properties"]["Roles"]:
            continue
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
            actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
            for action in actions:
                granted.setdefault(action, []).append((statement["Resource"], statement.get("Condition")))
    ecs = {action: grants for action, grants in granted.items() if action.startswith("ecs:")}
    assert set(ecs) == {"ecs:DescribeServices", "ecs:UpdateService", "ecs:ListTasks", "ecs:DescribeTasks"}
    assert ecs["ecs:UpdateService"] == [(server, None)]  # this one service
    ((_, condition),) = ecs["ecs:ListTasks"]
    assert "ecs:cluster" in condition["ArnEquals"]
    ((tasks, _),) = ecs["ecs:DescribeTasks"]
    assert ":task/" in flatten_cfn_reference(tasks)
    # and its dead-letter queue (the sweep is asynchronous), its config, its logs and traces
    assert {action.split(":")[0] for action in granted} <= {"ecs", "dynamodb", "s3", "sqs", "logs", "xray"}


def test_an_hourly_sweep_stops_what_nobody_holds(service_template: Template) -> None:
    switch = function_id(service_template, wiring.TRAINING.tracking_function)
    service_template.has_resource_properties(
        "AWS::Scheduler::Schedule",
        {
            "ScheduleExpression": "rate(1 hour)",
            "Target": Match.object_like(
                {"Arn": {"Fn::GetAtt": [switch, "Arn"]}, "Input": Match.string_like_regexp('"TrackingIdle"')}
            ),
        },
    )


def test_the_cli_finds_the_switch_by_its_parameter(service_template: Template) -> None:
    switch = function_id(service_template, wiring.TRAINING.tracking_function)
    service_template.has_resource_properties(
        "AWS::SSM::Parameter",
        {"Name": wiring.tracking_switch_parameter("churn", "dev"), "Value": {"Fn::GetAtt": [switch, "Arn"]}},
    )
