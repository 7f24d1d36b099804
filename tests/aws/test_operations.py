"""Operator commands through the train function (what `mlrails promote | rollback | models`
send, locally and with `--env`), and the deployed caller's side against moto."""

from __future__ import annotations

import json
from datetime import timedelta

import boto3
import pytest

from mlrails.adapters import manifests, s3
from mlrails.adapters.operator import DeployedOperator
from mlrails.data import dataset
from mlrails.errors import BadRequest, ConfigError
from mlrails.local.runtime import function_url_request
from mlrails.local.synthetic import churn_frame
from mlrails.promotion import rails
from mlrails.promotion.operations import Operation, OperationRefused, unwrap
from mlrails.serving import artifacts
from mlrails.serving.manifest import HOLDOUT_FILE, Manifest, model_prefix
from mlrails.settings import Settings
from mlrails.training import estimator
from mlrails.wiring import operator_parameter
from support.aws import DAY, put_features, redeploy, run_training, training_request

ALICE = "arn:aws:iam::123456789012:user/alice"
REAL = "mlrails.models:gradient_boosting"


def _request(train, context, body: dict, caller: str = ALICE) -> tuple[int, dict]:
    """A request to the train function's URL, as Lambda passes it on: the caller and the time
    are the ones it verified."""
    response = train.lambda_handler(function_url_request(body, caller=caller, at=DAY + timedelta(hours=12)), context)
    return response["statusCode"], json.loads(response["body"])


def _operate(train, context, action: str, **fields):
    status, body = _request(train, context, Operation(action, **fields).to_body())
    return unwrap(status, json.dumps(body))


@pytest.fixture
def two_versions(cloud, cfg, train_handler, lambda_context):
    """v1 promoted by the gate, then v2 promoted over it (the placeholder both times: the
    first model is always promoted; the second by hand below where needed)."""
    put_features(cloud, cfg, churn_frame(600, DAY - timedelta(days=1), seed=7))
    assert run_training(train_handler, lambda_context, training_request(trigger_id="first"))["finish"]["promoted"]
    second = run_training(train_handler, lambda_context, training_request(trigger_id="second"))
    return second["train"]["version"]


def test_promote_rollback_and_models_run_in_the_train_function(cloud, cfg, train_handler, lambda_context, two_versions):
    # v2 did not beat v1 at the gate: promoting it anyway takes --force.
    refused = _request(train_handler, lambda_context, Operation("promote", version=two_versions).to_body())
    assert refused[0] == 409 and "rejected by the gate" in refused[1]["message"]
    promoted = _operate(
        train_handler, lambda_context, "promote", version=two_versions, reason="checked by hand", force=True
    )
    assert promoted["champion"] == {
        "version": "2",
        "previous_version": "1",
        "reason": "checked by hand",
        "promoted_at": (DAY + timedelta(hours=12)).isoformat(),
        "lock_sha256": None,
    }

    rolled = _operate(train_handler, lambda_context, "rollback")
    assert (rolled["champion"]["version"], rolled["champion"]["previous_version"]) == ("1", None)
    current = manifests.read_current(cloud.artifacts_bucket, cfg.model.name)
    assert (current.version, current.previous_version) == ("1", None)

    listing = _operate(train_handler, lambda_context, "models")
    aliases = {row["version"]: row["aliases"] for row in listing["versions"]}
    assert "champion" in aliases["1"] and "previous" not in aliases["2"]
    first, second = (next(row for row in listing["versions"] if row["version"] == v) for v in ("1", "2"))
    assert (first["decision"], first["forced_by"], first["gate"]["baseline"]) == ("promoted", None, None)
    # Rejected, then promoted by hand over the gate: the listing says both, and by whom.
    assert (second["decision"], second["forced_by"]) == ("rejected", ALICE)
    assert second["serving"]["path"] in ("onnx", "skops")
    assert [(r["action"], r["version"], r["by"]) for r in listing["audit"]][-2:] == [
        ("promote", "2", ALICE),
        ("rollback", "1", ALICE),
    ]
    json.dumps(listing, allow_nan=False)  # plain JSON: it travels back through Lambda


def test_models_shows_both_sides_of_each_gate_decision_and_the_serving_path(
    cloud, cfg, train_handler, lambda_context, monkeypatch
):
    # v1, a real model, against the placeholder baseline; then, with a day's more rows, v2 (the
    # placeholder) against champion v1: each gate scores both sides on the challenger's holdout.
    metric, settings = cfg.primary_metric, Settings.from_env()
    redeploy(cloud, cfg.model_copy(update={"model": cfg.model.model_copy(update={"entrypoint": REAL})}), monkeypatch)
    put_features(cloud, cfg, churn_frame(600, DAY - timedelta(days=2), seed=7), "2026/02/28/crm-export")
    promoted = run_training(train_handler, lambda_context, training_request(trigger_id="real"))
    redeploy(cloud, cfg, monkeypatch)
    put_features(cloud, cfg, churn_frame(600, DAY - timedelta(days=1), seed=8))
    rejected = run_training(train_handler, lambda_context, training_request(trigger_id="placeholder"))
    assert promoted["finish"]["promoted"] and not rejected["finish"]["promoted"]

    listing = _operate(train_handler, lambda_context, "models")
    v1, v2 = (next(row for row in listing["versions"] if row["version"] == v) for v in ("1", "2"))

    def candidate(version: str) -> Manifest:
        return Manifest.from_json(s3.get_bytes(rails.candidate_uri(settings, cfg.model.name, version)))

    def beside(version: str, name: str) -> bytes:
        """A file training left beside version ``version``'s model."""
        uri = s3.uri(cloud.artifacts_bucket, f"{model_prefix(cfg.model.name, version)}{name}")
        return manifests.read_file(candidate(version), uri)

    def holdout(version: str):
        return dataset.read_parquet(beside(version, HOLDOUT_FILE))

    # v2's gate: the placeholder and champion v1, both on v2's holdout, which is not where v1's
    # own score comes from (an older slice): only the gate's pair compares the two.
    gate = v2["gate"]
    assert (gate["promote"], gate["baseline"], gate["champion_version"]) == (False, "champion", "1")
    assert gate["metric"] == metric
    assert gate["metrics"] == pytest.approx(estimator.score(rails.load_model(candidate("2")), holdout("2"), cfg))
    assert gate["baseline_metrics"] == pytest.approx(
        estimator.score(rails.load_model(candidate("1")), holdout("2"), cfg)
    )
    assert gate["baseline_metrics"][metric] != pytest.approx(v1["metrics"][metric])
    assert gate == rejected["evaluate"]
    assert (v2["decision"], v2["forced_by"], v2["serving"]) == ("rejected", None, None)
    # v1's gate: it and the placeholder fit on the same rows, both on v1's holdout; promoted.
    gate = v1["gate"]
    assert (gate["promote"], gate["baseline"], gate["champion_version"]) == (True, "placeholder", None)
    assert gate["metrics"] == pytest.approx(v1["metrics"])  # no labelled traffic: the same holdout
    placeholder = artifacts.loads(beside("1", "placeholder.skops"), ())  # a dummy: default skops trust
    assert gate["baseline_metrics"] == pytest.approx(estimator.score(placeholder, holdout("1"), cfg))
    assert gate == promoted["evaluate"] and v1["decision"] == "promoted"
    champion = manifests.read_current(cloud.artifacts_bucket, cfg.model.name)
    assert v1["serving"] == {"path": champion.serving, "reason": champion.serving_reason}
    # The audit record of each gate decision carries the same comparison.
    assert [(r["action"], r["gate"]) for r in listing["audit"]] == [
        ("promote", promoted["evaluate"]),
        ("reject", rejected["evaluate"]),
    ]
    json.dumps(listing, allow_nan=False)


def test_refusals_are_answers_not_function_errors(cloud, cfg, train_handler, lambda_context, two_versions):
    status, unknown = _request(train_handler, lambda_context, {"action": "promote", "version": "9"})
    assert status == 409 and unknown["error_code"] == "PROMOTION_ERROR" and "v9 has no candidate" in unknown["message"]
    with pytest.raises(OperationRefused, match="v9 has no candidate"):
        unwrap(status, json.dumps(unknown))

    status, malformed = _request(train_handler, lambda_context, {"action": "delete"})
    assert status == 400 and "action must be one of" in malformed["message"]
    assert manifests.read_current(cloud.artifacts_bucket, cfg.model.name).version == "1"


def test_the_audit_log_names_the_verified_caller_not_the_body(cloud, cfg, train_handler, lambda_context, two_versions):
    # Who and when come from the request context; a body that says otherwise is refused.
    status, forged = _request(
        train_handler, lambda_context, {"action": "rollback", "by": "gate", "at": "2020-01-01T00:00:00+00:00"}
    )
    assert status == 400 and "unknown operation field(s) ['at', 'by']" in forged["message"]
    _request(train_handler, lambda_context, {"action": "promote", "version": two_versions, "force": True}, caller=ALICE)
    record = rails.audit_log(Settings.from_env(), cfg.model.name)[-1]
    assert (record["by"], record["at"]) == (ALICE, (DAY + timedelta(hours=12)).isoformat())


def test_a_direct_invocation_runs_no_command(cloud, train_handler, lambda_context, two_versions):
    # The old way in, naming its own caller (a direct lambda:InvokeFunction, which operators
    # are no longer granted): refused, nothing promoted.
    with pytest.raises(BadRequest, match="neither"):
        train_handler.lambda_handler(
            {"operation": {"action": "rollback", "at": "2026-03-02T10:00:00+00:00", "by": "gate"}}, lambda_context
        )
    # A URL request without a verified caller (no IAM authorizer in its context): refused too.
    unsigned = function_url_request({"action": "rollback"}, caller="", at=DAY)
    response = train_handler.lambda_handler(unsigned, lambda_context)
    assert response["statusCode"] == 400 and "no verified caller" in json.loads(response["body"])["message"]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"action": "promote"}, "promote needs operation.version"),
        ({"action": "models", "by": "gate"}, "unknown operation field"),
        ({"action": "promote", "version": "2", "force": "yes"}, "force must be true or false"),
        ({"action": "models", "reason": 3}, "reason must be a string"),
        (["models"], "is a JSON object"),
    ],
)
def test_operation_bodies_are_validated(body, message):
    with pytest.raises(BadRequest, match=message):
        Operation.from_body(body)


def test_round_trip_keeps_every_field():
    operation = Operation("promote", "3", "why not")
    assert Operation.from_body(json.loads(json.dumps(operation.to_body()))) == operation


def test_the_deployed_caller_signs_a_request_to_the_url(aws, cfg):
    session = boto3.Session(region_name="us-east-1")
    remote = DeployedOperator(cfg.project, "prod", session=session)
    with pytest.raises(ConfigError, match=r"not deployed .* run `cdk deploy` first"):
        remote.url()
    # MLflow is held through the tracking switch before a command: found by its own parameter.
    with pytest.raises(ConfigError, match=r"no SSM parameter /mlrails/churn/prod/tracking-switch"):
        remote.switch({"action": "hold", "holder": "operator:x", "minutes": 20})
    url = "https://abcdefghijklmnopqrstuvwxyz012345.lambda-url.eu-west-1.on.aws/"
    session.client("ssm").put_parameter(Name=operator_parameter(cfg.project, "prod"), Value=url, Type="String")
    request = remote.signed(Operation("rollback"))
    assert request.url == url and request.method == "POST"
    assert json.loads(request.body) == {
        "action": "rollback",
        "version": None,
        "reason": "manual promotion",
        "force": False,
        "lock": None,
        "commit": None,
    }
    # SigV4 for Lambda in the URL's region: what the function URL's IAM authentication checks.
    assert "/eu-west-1/lambda/aws4_request" in request.headers["Authorization"]


def test_the_callers_side_reads_the_urls_answers():
    assert unwrap(200, b'{"champion": {"version": "2"}}') == {"champion": {"version": "2"}}
    with pytest.raises(OperationRefused, match="already the champion"):
        unwrap(409, b'{"error_code": "PROMOTION_ERROR", "message": "v2 is already the champion"}')
    with pytest.raises(OperationRefused, match="answered 403"):
        unwrap(403, b'{"Message": "Forbidden"}')  # a signature IAM did not accept
    with pytest.raises(OperationRefused, match="answered 502: Internal Server Error"):
        unwrap(502, b"Internal Server Error")  # the function crashed


def test_the_lock_of_the_champion_pins_its_files_lineage_and_gate_evidence(
    cloud, cfg, train_handler, lambda_context, two_versions
):
    from mlrails.adapters import s3 as storage
    from mlrails.promotion.lock import ModelLock, sha256
    from mlrails.serving.manifest import history_key

    lock = ModelLock.from_json(_operate(train_handler, lambda_context, "lock")["lock"])

    current = manifests.read_current(cloud.artifacts_bucket, cfg.model.name)
    assert (lock.version, lock.run_id, lock.source_environment) == ("1", current.run_id, "test")
    stored = storage.get_bytes(storage.uri(cloud.artifacts_bucket, history_key(cfg.model.name, "1")))
    assert lock.manifest_sha256 == sha256(stored)
    assert lock.files == {uri.rsplit("/", 1)[1]: record["sha256"] for uri, record in current.files.items()}
    assert "model.skops" in lock.files and lock.training_data["sha256"] and lock.config_sha256 == cfg.digest
    assert lock.gate is not None and lock.gate["metric"] == cfg.primary_metric

    rejected = ModelLock.from_json(_operate(train_handler, lambda_context, "lock", version=two_versions)["lock"])
    assert rejected.version == "2" and rejected.gate is not None  # a trained version's lock, its rejection's evidence
    status, refused = _request(train_handler, lambda_context, {"action": "lock", "version": "9"})
    assert status == 409 and refused["error_code"] == "NOTHING_TO_PROPOSE"
