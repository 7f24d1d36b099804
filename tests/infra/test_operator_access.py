"""Operators reach a deployed environment through one IAM policy: read the SSM parameter that
names the train function, invoke that function. Nothing else, and no network path to MLflow."""

from __future__ import annotations

from aws_cdk.assertions import Template

from infra.nag import flatten_cfn_reference
from mlrails.config import ProjectConfig
from mlrails.wiring import operator_parameter

from test_training_pipeline import function_id


def test_the_parameter_names_the_train_function(service_template: Template, cfg: ProjectConfig) -> None:
    parameters = service_template.find_resources("AWS::SSM::Parameter")
    (parameter,) = [p for p in parameters.values()
                    if p["Properties"]["Name"] == operator_parameter(cfg.project, "dev")]
    assert parameter["Properties"]["Value"] == {"Ref": function_id(service_template, "train")}


def test_the_operator_policy_grants_exactly_find_and_invoke(service_template: Template) -> None:
    (policy,) = service_template.find_resources("AWS::IAM::ManagedPolicy").values()
    statements = policy["Properties"]["PolicyDocument"]["Statement"]
    granted = {(s["Action"], flatten_cfn_reference(s["Resource"])) for s in statements}
    assert all(s["Effect"] == "Allow" for s in statements)
    train = function_id(service_template, "train")
    assert {action for action, _ in granted} == {"ssm:GetParameter", "lambda:InvokeFunction"}
    assert any(action == "lambda:InvokeFunction" and train in resource for action, resource in granted)
    assert not any("*" in resource for _, resource in granted)
    assert service_template.find_outputs("*", {"Description": "Attach to the operators' role or group to allow "
                                                              "`mlrails ... --env`"})
