"""A model file is code: the files a manifest names are pinned (S3 version + sha256) and a
model loads trusting only the exact types recorded at training, never the interpreter's
callables. Each test holds a door an attacker with write access to a model file, or to a
manifest, would try; every loader is on the same path (inference, the training run's
evaluate step, promotion and rollback)."""

from __future__ import annotations

import builtins
import functools
import json
from datetime import timedelta
from pathlib import Path

import pytest
from sklearn.dummy import DummyClassifier
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer
from skops.io import get_untrusted_types

from mlrails.adapters import manifests, s3
from mlrails.adapters.clients import client
from mlrails.errors import TamperedArtifact, UntrustedArtifact
from mlrails.local.runtime import function_url_request
from mlrails.local.synthetic import churn_frame
from mlrails.serving import artifacts
from mlrails.serving.manifest import current_key, history_key
from support.aws import DAY, api_call, put_features, run_training, training_request
from support.samples import load_event

MODEL = "churn-classifier"


def _gadget(marker: Path) -> bytes:
    """A model file that writes ``marker`` when it predicts: ``eval`` of attacker-chosen
    source, with the request's rows as its locals. It loaded and ran under the old policy,
    which trusted every type under ``builtins`` and ``functools``."""
    source = f"__import__('pathlib').Path({str(marker)!r}).touch() or tenure_months"
    steps = [
        ("run", FunctionTransformer(func=functools.partial(builtins.eval, source, {}))),
        ("model", DummyClassifier(strategy="constant", constant=1).fit([[0]] * 2, [0, 1])),
    ]
    return artifacts.dumps(Pipeline(steps))


def _forge_current(bucket: str, champion, model_uri: str, blob: bytes, *, trusted: list[str]) -> None:
    """What an attacker who could write manifests/ would publish: a manifest naming their model
    with its true digest and version, and its types as the trust list."""
    document = json.loads(champion.to_json()) | {
        "version": "66",
        "artifact_uri": model_uri,
        "trusted_types": trusted,
        "files": {model_uri: manifests.put_file(model_uri, blob)},
    }
    s3.put_json(s3.uri(bucket, current_key(MODEL)), document)


def _records():
    return load_event("inference_invocations_records")


def test_a_gadget_model_is_refused_and_the_champion_keeps_serving(champion, cloud, inference, lambda_context, tmp_path):
    assert api_call(inference, _records(), lambda_context)[1]["model_version"] == "1"
    marker, blob = tmp_path / "pwned", _gadget(tmp_path / "pwned")
    uri = s3.uri(cloud.artifacts_bucket, "models/churn-classifier/v66/model.skops")
    _forge_current(cloud.artifacts_bucket, champion, uri, blob, trusted=get_untrusted_types(data=blob))

    status, body = api_call(inference, _records(), lambda_context)

    assert status == 200 and body["model_version"] == "1"  # the loaded champion keeps serving
    assert inference.champions().reload_failures == 1
    assert not marker.exists()


def test_a_cold_function_answers_503_naming_the_refusal(champion, cloud, handler, lambda_context, tmp_path):
    marker, blob = tmp_path / "pwned", _gadget(tmp_path / "pwned")
    uri = s3.uri(cloud.artifacts_bucket, "models/churn-classifier/v66/model.skops")
    _forge_current(cloud.artifacts_bucket, champion, uri, blob, trusted=get_untrusted_types(data=blob))

    status, body = api_call(handler("inference"), _records(), lambda_context)

    assert status == 503 and body["error_code"] == "UNTRUSTED_ARTIFACT"
    assert "types that can run code, never trusted" in body["message"]
    assert "builtins.eval" in body["details"]["types"] and not marker.exists()


def test_a_model_swapped_under_an_unchanged_manifest_is_never_loaded(
    champion, cloud, handler, lambda_context, tmp_path
):
    marker = tmp_path / "pwned"
    # Overwritten in a versioned bucket: readers fetch the version the manifest recorded.
    s3.put_bytes(champion.artifact_uri, _gadget(marker))
    status, body = api_call(handler("inference"), _records(), lambda_context)
    assert status == 200 and body["model_version"] == "1" and not marker.exists()

    # The recorded version deleted, the key holding the gadget: refused, not loaded.
    bucket, key = s3.split_uri(champion.artifact_uri)
    client("s3").delete_object(Bucket=bucket, Key=key, VersionId=champion.files[champion.artifact_uri]["version_id"])
    status, body = api_call(handler("inference"), _records(), lambda_context)
    assert status == 503 and body["error_code"] == "TAMPERED_ARTIFACT" and "is gone" in body["message"]
    assert not marker.exists()


def test_without_a_recorded_version_the_digest_refuses_a_swapped_file(
    champion, cloud, handler, lambda_context, tmp_path
):
    # A manifest written where the bucket kept no versions: only the sha256 pins the file.
    document = json.loads(champion.to_json())
    document["files"][champion.artifact_uri]["version_id"] = None
    s3.put_json(s3.uri(cloud.artifacts_bucket, current_key(MODEL)), document)
    s3.put_bytes(champion.artifact_uri, _gadget(tmp_path / "pwned"))

    status, body = api_call(handler("inference"), _records(), lambda_context)

    assert status == 503 and body["error_code"] == "TAMPERED_ARTIFACT"
    assert "is not the file churn-classifier v1 was recorded with" in body["message"]
    assert not (tmp_path / "pwned").exists()


def test_a_file_the_manifest_does_not_pin_is_refused(champion, cloud, handler, lambda_context):
    document = json.loads(champion.to_json()) | {"files": {}}
    s3.put_json(s3.uri(cloud.artifacts_bucket, current_key(MODEL)), document)

    status, body = api_call(handler("inference"), _records(), lambda_context)

    assert status == 503 and body["error_code"] == "TAMPERED_ARTIFACT" and "records no digest" in body["message"]


def test_the_training_run_refuses_to_evaluate_against_a_gadget_champion(
    champion, cloud, cfg, train_handler, lambda_context, tmp_path
):
    marker, blob = tmp_path / "pwned", _gadget(tmp_path / "pwned")
    uri = s3.uri(cloud.artifacts_bucket, "models/churn-classifier/v66/model.skops")
    _forge_current(cloud.artifacts_bucket, champion, uri, blob, trusted=get_untrusted_types(data=blob))
    put_features(cloud, cfg, churn_frame(600, DAY - timedelta(days=1), seed=9))

    with pytest.raises(UntrustedArtifact, match="never trusted"):
        run_training(train_handler, lambda_context, training_request(trigger_id="after-the-forgery"))
    assert not marker.exists()


def test_rollback_refuses_a_previous_champion_whose_file_was_swapped(
    cloud, cfg, train_handler, lambda_context, tmp_path
):
    put_features(cloud, cfg, churn_frame(600, DAY - timedelta(days=1), seed=7))
    for trigger in ("first", "second"):
        run_training(train_handler, lambda_context, training_request(trigger_id=trigger))
    at = DAY + timedelta(hours=12)
    train_handler.lambda_handler(
        function_url_request({"action": "promote", "version": "2", "force": True}, caller="alice", at=at),
        lambda_context,
    )
    assert manifests.read_current(cloud.artifacts_bucket, MODEL).version == "2"
    v1 = json.loads(s3.get_bytes(s3.uri(cloud.artifacts_bucket, history_key(MODEL, "1"))))
    bucket, key = s3.split_uri(v1["artifact_uri"])
    client("s3").delete_object(Bucket=bucket, Key=key, VersionId=v1["files"][v1["artifact_uri"]]["version_id"])
    s3.put_bytes(v1["artifact_uri"], _gadget(tmp_path / "pwned"))

    response = train_handler.lambda_handler(
        function_url_request({"action": "rollback"}, caller="alice", at=at), lambda_context
    )

    answer = json.loads(response["body"])
    assert response["statusCode"] == 503 and answer["error_code"] == "TAMPERED_ARTIFACT"
    assert "is gone" in answer["message"]
    assert manifests.read_current(cloud.artifacts_bucket, MODEL).version == "2"
    assert not (tmp_path / "pwned").exists()


def test_every_file_a_trained_version_names_is_pinned(champion):
    assert champion.trusted_types == []  # the placeholder needs no type beyond skops' defaults
    for uri in (champion.artifact_uri, champion.profile_uri):
        recorded = champion.recorded(uri)
        assert len(recorded["sha256"]) == 64 and recorded["version_id"]
        assert champion.verify(uri, s3.get_optional(uri, recorded["version_id"]))
    with pytest.raises(TamperedArtifact):
        champion.verify(champion.artifact_uri, b"other bytes")
