"""Operators reach a deployed environment through one IAM policy: read the SSM parameter that
holds the train function's URL, call that URL (IAM-authenticated, so the function knows who
called). Not a direct invocation, which runs training steps; no network path to MLflow."""

from __future__ import annotations

from aws_cdk.assertions import Template
from test_training_pipeline import function_id, state_machine

from infra.support.nag import flatten_cfn_reference
from mlrails.config import ProjectConfig
from mlrails.wiring import operator_parameter


def test_the_parameter_holds_the_train_functions_iam_url(service_template: Template, cfg: ProjectConfig) -> None:
    train = function_id(service_template, "train")
    ((url_id, url),) = service_template.find_resources("AWS::Lambda::Url").items()
    assert url["Properties"]["AuthType"] == "AWS_IAM"
    assert url["Properties"]["TargetFunctionArn"] == {"Fn::GetAtt": [train, "Arn"]}
    parameters = service_template.find_resources("AWS::SSM::Parameter")
    (parameter,) = [p for p in parameters.values() if p["Properties"]["Name"] == operator_parameter(cfg.project, "dev")]
    assert parameter["Properties"]["Value"] == {"Fn::GetAtt": [url_id, "FunctionUrl"]}


def test_the_operator_policy_grants_exactly_the_url_the_switch_a_port_forward_and_batch_jobs(
    service_template: Template,
) -> None:
    (policy,) = service_template.find_resources("AWS::IAM::ManagedPolicy").values()
    statements = policy["Properties"]["PolicyDocument"]["Statement"]
    assert all(s["Effect"] == "Allow" for s in statements)
    granted: dict[str, list[tuple[list[str], object]]] = {}
    for s in statements:
        resources = s["Resource"] if isinstance(s["Resource"], list) else [s["Resource"]]
        granted.setdefault(s["Action"], []).append(([flatten_cfn_reference(r) for r in resources], s.get("Condition")))
    train, switch = function_id(service_template, "train"), function_id(service_template, "tracking_switch")
    assert set(granted) == {
        "ssm:GetParameter",
        "lambda:InvokeFunctionUrl",
        "lambda:InvokeFunction",
        "ssm:StartSession",
        "states:StartExecution",
        "states:DescribeExecution",
        "s3:GetObject",
    }
    ((url, url_condition),) = granted["lambda:InvokeFunctionUrl"]
    assert train in url[0] and url_condition == {"StringEquals": {"lambda:FunctionUrlAuthType": "AWS_IAM"}}
    # The train function only through its URL (a direct invocation would be a forged training
    # step, or a command naming its own caller); the tracking switch directly (hold, release).
    invoke = {
        resource: condition for resources, condition in granted["lambda:InvokeFunction"] for resource in resources
    }
    assert {k for k in invoke if train in k} and {k for k in invoke if switch in k}
    for resource, condition in invoke.items():
        assert condition == ({"Bool": {"lambda:InvokedViaFunctionUrl": "true"}} if train in resource else None)
    parameters = [resource for resources, _ in granted["ssm:GetParameter"] for resource in resources]
    assert len(parameters) == 3 and not any("*" in p for p in parameters)
    # A port forward to MLflow's tasks (ECS Exec) with AWS's port-forwarding document, nothing else.
    ((session, _),) = granted["ssm:StartSession"]
    assert len(session) == 2
    assert any(":task/" in r and r.endswith("/*") for r in session)
    assert any(r.endswith(":document/AWS-StartPortForwardingSession") for r in session)
    # `mlrails batch --env`: start the batch state machine (not the training one), follow its
    # executions, read a job's summary, nothing else of the data bucket.
    batch, _ = state_machine(service_template, "Batch")
    assert granted["states:StartExecution"] == [([f"<{batch}>"], None)]
    ((executions, _),) = granted["states:DescribeExecution"]
    assert executions == [f"arn:<AWS::Partition>:states:<AWS::Region>:<AWS::AccountId>:execution:<{batch}.Name>:*"]
    ((summaries, _),) = granted["s3:GetObject"]
    assert len(summaries) == 1 and summaries[0].endswith("/batch/*/summary.json")
    assert service_template.find_outputs(
        "*", {"Description": "Attach to the operators' role or group to allow `mlrails ... --env`"}
    )


def test_only_the_state_machine_may_invoke_the_train_function(service_template: Template) -> None:
    train = function_id(service_template, "train")
    invokers = []
    for policy in service_template.find_resources("AWS::IAM::Policy").values():
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
            actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
            resources = statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
            if "lambda:InvokeFunction" in actions and any(train in flatten_cfn_reference(r) for r in resources):
                invokers.extend(flatten_cfn_reference(role) for role in policy["Properties"]["Roles"])
    assert len(invokers) == 1 and "StateMachine" in invokers[0], invokers
