"""Release rails through the train function on moto: the store is write-once and content
addressed, apply refuses a store that does not hold what the lock pins, a retried apply does
nothing twice, and inference pinned to a lock serves that lock while another rolls out."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import timedelta

import pytest

from mlrails.adapters import manifests, s3
from mlrails.adapters.clients import client
from mlrails.local.cloud import release_bucket
from mlrails.local.runtime import function_url_request
from mlrails.local.synthetic import churn_frame
from mlrails.promotion.lock import ModelLock, release_key, sha256, stored_digests
from mlrails.promotion.operations import Operation, unwrap
from mlrails.serving.champion import ChampionCache
from support.aws import DAY, put_features, run_training, training_request

ALICE = "arn:aws:iam::123456789012:user/alice"


def _request(train, context, body: dict) -> tuple[int, dict]:
    response = train.lambda_handler(function_url_request(body, caller=ALICE, at=DAY + timedelta(hours=12)), context)
    return response["statusCode"], json.loads(response["body"])


@pytest.fixture
def locked(cloud, cfg, train_handler, lambda_context) -> ModelLock:
    """A champion trained here, and its lock (its files now in the release store)."""
    put_features(cloud, cfg, churn_frame(600, DAY - timedelta(days=1), seed=7))
    assert run_training(train_handler, lambda_context, training_request(trigger_id="first"))["finish"]["promoted"]
    status, body = _request(train_handler, lambda_context, Operation("lock").to_body())
    return ModelLock.from_json(unwrap(status, json.dumps(body))["lock"])


def _apply(train, context, lock: ModelLock) -> tuple[int, dict]:
    return _request(train, context, Operation("apply", lock=lock.to_json(), commit="abc123").to_body())


def test_the_store_holds_each_pinned_file_once_and_never_overwrites_it(cfg, locked):
    store = release_bucket(cfg)
    keys = set(s3.list_keys(store, "release/sha256/"))
    assert keys == {release_key(digest) for digest in stored_digests(locked)}
    key = release_key(locked.files["model.skops"])
    before = s3.get_bytes(s3.uri(store, key))
    assert s3.put_once(s3.uri(store, key), b"another model") is False
    assert s3.get_bytes(s3.uri(store, key)) == before and sha256(before) == locked.files["model.skops"]


def test_apply_registers_a_deep_copy_once_and_a_retry_changes_nothing(
    cloud, cfg, train_handler, lambda_context, locked
):
    status, applied = _apply(train_handler, lambda_context, locked)
    assert status == 200 and applied["applied"] is True
    copy = applied["champion"]
    assert copy["version"] == "2" and copy["lock_sha256"] == locked.digest
    current = manifests.read_current(cloud.artifacts_bucket, cfg.model.name)
    # The copy's files are this environment's own, with the lock's bytes.
    assert all(uri.startswith(f"s3://{cloud.artifacts_bucket}/models/{cfg.model.name}/v2/") for uri in current.files)
    assert sorted(r["sha256"] for r in current.files.values()) == sorted(locked.files.values())
    audit = json.loads(
        s3.get_bytes(s3.uri(cloud.artifacts_bucket, list(s3.list_keys(cloud.artifacts_bucket, "audit/"))[-1]))
    )
    assert audit["action"] == "promote" and audit["by"] == f"release abc123 ({ALICE})"

    assert _apply(train_handler, lambda_context, locked) == (200, {"applied": False, "champion": copy})


def test_a_store_that_lacks_or_swapped_a_file_is_refused_before_anything_is_registered(
    cfg, train_handler, lambda_context, locked
):
    store = release_bucket(cfg)
    profile = release_key(locked.files["profile.json"])
    client("s3").delete_object(Bucket=store, Key=profile)
    status, refused = _apply(train_handler, lambda_context, locked)
    assert (status, refused["error_code"]) == (409, "LOCK_REFUSED") and "not in the release store" in refused["message"]

    # Someone with write access around the store's policy (moto has no bucket policy): the
    # bytes under a digest are not that digest's.
    client("s3").put_object(Bucket=store, Key=profile, Body=b"{}")
    status, refused = _apply(train_handler, lambda_context, locked)
    assert (status, refused["error_code"]) == (503, "TAMPERED_ARTIFACT")
    assert "profile.json is not the file the lock" in refused["message"]

    # A lock edited to name the swapped file's digest: the manifest it pins recorded another.
    forged = replace(locked, files={**locked.files, "profile.json": sha256(b"{}")})
    s3.put_once(s3.uri(store, release_key(sha256(b"{}"))), b"{}")
    status, refused = _apply(train_handler, lambda_context, forged)
    assert refused["error_code"] == "TAMPERED_ARTIFACT" and "does not match its lock" in refused["message"]


def test_a_lock_of_another_model_is_refused(train_handler, lambda_context, locked):
    status, refused = _apply(train_handler, lambda_context, replace(locked, model_name="another-model"))
    assert status == 409 and "this environment serves churn-classifier" in refused["message"]


def test_inference_pinned_to_a_lock_serves_it_while_another_lock_rolls_out(cloud, cfg, champion):
    bucket, name = cloud.artifacts_bucket, cfg.model.name
    ours, theirs = "aa" * 32, "bb" * 32
    old = replace(champion, lock_sha256=ours)
    manifests.write_for_lock(bucket, old)
    # The newer lock is applied: current names v7 of the other lock.
    manifests.write(bucket, replace(champion, version="7", lock_sha256=theirs))

    assert ChampionCache(bucket, name, 0, "image", pin=ours).get().manifest.version == champion.version
    assert ChampionCache(bucket, name, 0, "image", pin=theirs).get().manifest.version == "7"
    assert ChampionCache(bucket, name, 0, "image").get().manifest.version == "7"  # a training environment
    # A person's emergency promotion (no lock) is served by every version.
    manifests.write(bucket, replace(champion, version="8", lock_sha256=None))
    assert ChampionCache(bucket, name, 0, "image", pin=ours).get().manifest.version == "8"


def test_a_release_environment_trains_and_gates_but_never_promotes_by_itself(
    cloud, cfg, train_handler, lambda_context, monkeypatch
):
    from mlrails.adapters import deployed

    monkeypatch.setenv("MLRAILS_ENVIRONMENT", "staging")  # models: release, the default for staging
    deployed.reset()
    put_features(cloud, cfg, churn_frame(600, DAY - timedelta(days=1), seed=7))
    finished = run_training(train_handler, lambda_context, training_request(trigger_id="first"))["finish"]

    assert finished["promoted"] is False and "takes its models from the release lock" in finished["reason"]
    assert "`mlrails release propose --from staging --version 1`" in finished["reason"]
    assert manifests.read_current(cloud.artifacts_bucket, cfg.model.name) is None
    audit = [s3.get_json(s3.uri(cloud.artifacts_bucket, k)) for k in s3.list_keys(cloud.artifacts_bucket, "audit/")]
    assert [(r["action"], r["version"]) for r in audit] == [("recommend", "1")]
