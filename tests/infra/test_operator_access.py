"""Operators reach a deployed environment through one IAM policy: read the SSM parameter that
holds the train function's URL, call that URL (IAM-authenticated, so the function knows who
called). Not a direct invocation, which runs training steps; no network path to MLflow."""

from __future__ import annotations

from aws_cdk.assertions import Template
from test_training_pipeline import function_id

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


def test_the_operator_policy_grants_exactly_find_and_call_the_url(service_template: Template) -> None:
    (policy,) = service_template.find_resources("AWS::IAM::ManagedPolicy").values()
    statements = policy["Properties"]["PolicyDocument"]["Statement"]
    assert all(s["Effect"] == "Allow" for s in statements)
    granted = {s["Action"]: (flatten_cfn_reference(s["Resource"]), s.get("Condition")) for s in statements}
    train = function_id(service_template, "train")
    assert set(granted) == {"ssm:GetParameter", "lambda:InvokeFunctionUrl", "lambda:InvokeFunction"}
    assert granted["lambda:InvokeFunctionUrl"][1] == {"StringEquals": {"lambda:FunctionUrlAuthType": "AWS_IAM"}}
    # A direct invocation (a forged training step, a command naming its own caller): refused.
    assert granted["lambda:InvokeFunction"][1] == {"Bool": {"lambda:InvokedViaFunctionUrl": "true"}}
    assert all(train in granted[a][0] for a in ("lambda:InvokeFunctionUrl", "lambda:InvokeFunction"))
    assert not any("*" in resource for resource, _ in granted.values())
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
