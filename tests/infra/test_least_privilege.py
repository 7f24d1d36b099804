"""Each function's role allows what its handler does, by key prefix, and no more.

Statements are read one by one (action, resource) from the role's policies: never whole
documents, never hashed logical ids (the function is found by its description)."""

from __future__ import annotations

import pytest
from aws_cdk.assertions import Template

from infra.nag import flatten_cfn_reference
from mlrails import wiring

WRITE_ACTIONS = ("s3:PutObject", "s3:DeleteObject*", "s3:Abort*")


def permissions(template: Template, function_name: str) -> set[tuple[str, str]]:
    """(action, resource) pairs the function's role is allowed, resources rendered as strings."""
    description = wiring.function(function_name).description
    functions = [fn for fn in template.find_resources("AWS::Lambda::Function").values()
                 if fn["Properties"].get("Description") == description]
    assert len(functions) == 1
    role_id = functions[0]["Properties"]["Role"]["Fn::GetAtt"][0]
    pairs: set[tuple[str, str]] = set()
    for policy in template.find_resources("AWS::IAM::Policy").values():
        if {"Ref": role_id} not in policy["Properties"]["Roles"]:
            continue
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
            assert statement["Effect"] == "Allow"
            actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
            resources = statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
            pairs |= {(a, flatten_cfn_reference(r)) for a in actions for r in resources}
    return pairs


def prefixes_with(pairs: set[tuple[str, str]], action: str) -> set[str]:
    """Key prefixes (``raw/``...) the pairs allow ``action`` on."""
    return {resource.rsplit("/", 2)[-2] + "/" for a, resource in pairs
            if a == action and resource.endswith("/*") and resource.count("/") >= 2}


def test_inference_reads_models_and_writes_only_captures_and_feedback(service_template: Template) -> None:
    pairs = permissions(service_template, "inference")
    assert prefixes_with(pairs, "s3:PutObject") == {"capture/", "feedback/"}
    assert prefixes_with(pairs, "s3:GetObject*") == {"config/", "manifests/", "models/"}
    assert not prefixes_with(pairs, "s3:DeleteObject*")
    assert not any(action.startswith(("dynamodb:", "events:")) for action, _ in pairs)


def test_feature_prep_moves_raw_files_and_writes_features(service_template: Template) -> None:
    pairs = permissions(service_template, "feature_prep")
    assert prefixes_with(pairs, "s3:GetObject*") == {"raw/", "config/"}
    assert prefixes_with(pairs, "s3:PutObject") == {"features/", "quarantine/"}
    assert prefixes_with(pairs, "s3:DeleteObject*") == {"raw/"}
    assert any(action == "events:PutEvents" for action, _ in pairs)


def test_drift_check_reads_captures_and_writes_reports(service_template: Template) -> None:
    pairs = permissions(service_template, "drift_check")
    assert prefixes_with(pairs, "s3:GetObject*") == {"capture/", "config/", "manifests/", "models/"}
    assert prefixes_with(pairs, "s3:PutObject") == {"reports/"}
    assert any(action == "dynamodb:UpdateItem" for action, _ in pairs)


def test_retrain_trigger_touches_no_data(service_template: Template) -> None:
    pairs = permissions(service_template, "retrain_trigger")
    assert prefixes_with(pairs, "s3:GetObject*") == {"config/"}
    assert not any(action in WRITE_ACTIONS for action, _ in pairs)
    assert {"events:PutEvents", "dynamodb:PutItem"} <= {action for action, _ in pairs}


def test_train_reads_features_and_writes_models(service_template: Template) -> None:
    pairs = permissions(service_template, "train")
    assert prefixes_with(pairs, "s3:GetObject*") == {"features/", "config/", "models/", "manifests/", "mlflow/"}
    assert prefixes_with(pairs, "s3:PutObject") == {"models/", "manifests/", "mlflow/"}


@pytest.mark.parametrize("name", [spec.name for spec in wiring.FUNCTIONS])
def test_no_function_may_write_raw_data(service_template: Template, name: str) -> None:
    pairs = permissions(service_template, name)
    assert "raw/" not in prefixes_with(pairs, "s3:PutObject")
    assert not any(action in ("s3:*", "*") or resource == "*" and action.startswith("s3:")
                   for action, resource in pairs)
