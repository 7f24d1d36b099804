"""Operator commands through the train function (what `mlrails promote | rollback | models`
send, locally and with `--env`), and the deployed caller's side against moto."""

from __future__ import annotations

import json
from datetime import timedelta

import boto3
import pytest

from mlrails.adapters import manifests
from mlrails.adapters.operator import DeployedOperator, answer
from mlrails.errors import ConfigError
from mlrails.operations import Operation, OperationRefused, unwrap
from mlrails.synthetic import churn_frame
from mlrails.wiring import operator_parameter

from .conftest import DAY, put_features, run_training, training_request


def _operate(train, context, action: str, **fields):
    return train.lambda_handler(Operation(action, (DAY + timedelta(hours=12)).isoformat(), "alice",
                                          **fields).to_event(), context)


@pytest.fixture
def two_versions(cloud, cfg, train_handler, lambda_context):
    """v1 promoted by the gate, then v2 promoted over it (the placeholder both times: the
    first model is always promoted; the second by hand below where needed)."""
    put_features(cloud, cfg, churn_frame(600, DAY - timedelta(days=1), seed=7))
    assert run_training(train_handler, lambda_context, training_request(trigger_id="first"))["finish"]["promoted"]
    second = run_training(train_handler, lambda_context, training_request(trigger_id="second"))
    return second["train"]["version"]


def test_promote_rollback_and_models_run_in_the_train_function(cloud, cfg, train_handler, lambda_context,
                                                               two_versions):
    promoted = _operate(train_handler, lambda_context, "promote", version=two_versions, reason="checked by hand")
    assert promoted["champion"] == {"version": "2", "previous_version": "1", "reason": "checked by hand",
                                    "promoted_at": (DAY + timedelta(hours=12)).isoformat()}

    rolled = _operate(train_handler, lambda_context, "rollback")
    assert (rolled["champion"]["version"], rolled["champion"]["previous_version"]) == ("1", "2")
    current = manifests.read_current(cloud.artifacts_bucket, cfg.model.name)
    assert (current.version, current.previous_version) == ("1", "2")

    listing = _operate(train_handler, lambda_context, "models")
    aliases = {row["version"]: row["aliases"] for row in listing["versions"]}
    assert "champion" in aliases["1"] and "previous" in aliases["2"]
    assert [(r["action"], r["version"], r["by"]) for r in listing["audit"]][-2:] == [
        ("promote", "2", "alice"), ("rollback", "1", "alice")]
    json.dumps(listing, allow_nan=False)  # plain JSON: it travels back through Lambda


def test_refusals_are_answers_not_function_errors(cloud, cfg, train_handler, lambda_context, two_versions):
    unknown = _operate(train_handler, lambda_context, "promote", version="9")
    assert unknown["error"]["error_code"] == "PROMOTION_ERROR" and "v9 has no candidate" in unknown["error"]["message"]
    with pytest.raises(OperationRefused, match="v9 has no candidate"):
        unwrap(unknown)

    malformed = train_handler.lambda_handler({"operation": {"action": "delete", "at": "x", "by": "eve"}},
                                             lambda_context)
    assert malformed["error"]["error_code"] == "BAD_REQUEST" and "action must be one of" in malformed["error"]["message"]
    assert manifests.read_current(cloud.artifacts_bucket, cfg.model.name).version == "1"


@pytest.mark.parametrize(("body", "message"), [
    ({"action": "promote", "at": "2026-03-02T10:00:00+00:00", "by": "a"}, "promote needs operation.version"),
    ({"action": "models", "at": "yesterday", "by": "a"}, "not an ISO time"),
    ({"action": "models", "at": "2026-03-02T10:00:00+00:00", "by": ""}, "operation.by must be"),
    ({"action": "models", "at": "2026-03-02T10:00:00+00:00", "by": "a", "force": True}, "unknown operation field"),
])
def test_operation_events_are_validated(body, message):
    from mlrails.errors import BadRequest

    with pytest.raises(BadRequest, match=message):
        Operation.from_event({"operation": body})


def test_round_trip_keeps_every_field():
    operation = Operation("promote", "2026-03-02T10:00:00+00:00", "arn:aws:iam::1:user/alice", "3", "why not")
    assert Operation.from_event(json.loads(json.dumps(operation.to_event()))) == operation


def test_the_deployed_caller_finds_the_function_and_its_identity(aws, cfg):
    session = boto3.Session(region_name="us-east-1")
    remote = DeployedOperator(cfg.project, "prod", session=session)
    with pytest.raises(ConfigError, match="not deployed .* run `cdk deploy` first"):
        remote.function_name()
    session.client("ssm").put_parameter(Name=operator_parameter(cfg.project, "prod"), Value="prod-Service-Train",
                                        Type="String")
    assert remote.function_name() == "prod-Service-Train"
    assert remote.caller().startswith("arn:aws:")


def test_the_callers_side_reads_lambda_answers():
    assert answer(None, b'{"champion": {"version": "2"}}') == {"champion": {"version": "2"}}
    with pytest.raises(OperationRefused, match="already the champion"):
        answer(None, b'{"error": {"error_code": "PROMOTION_ERROR", "message": "v2 is already the champion"}}')
    crash = json.dumps({"errorMessage": "Task timed out after 900.00 seconds", "errorType": "Sandbox.Timedout"})
    with pytest.raises(OperationRefused, match="failed: Task timed out"):
        answer("Unhandled", crash.encode())
