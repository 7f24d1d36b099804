"""The compiled serving path through the real rails: promotion compiles and verifies, the
manifest records the path, inference serves it per ``serving.package``, and champions swap
between the ONNX and scikit-learn paths without a failed request."""

from __future__ import annotations

import threading
import time
from datetime import timedelta

import pandas as pd
import pytest

from mlrails.adapters import deployed, manifests, s3
from mlrails.config import ProjectConfig, Serving
from mlrails.local.cloud import deploy_config
from mlrails.promotion import rails
from mlrails.serving import champion
from mlrails.serving.protocol import parse_request
from mlrails.wiring import config_key
from support.aws import DAY, api_call, api_event
from support.samples import load_event

from .test_inference import ROWS
from .test_promotion import _train as train_and_gate

COMPILES = "mlrails.models:gradient_boosting"
DOES_NOT = "mlrails.models:hist_gradient_boosting"


def _config(cfg: ProjectConfig, entrypoint: str, package: str = "full") -> ProjectConfig:
    return cfg.model_copy(
        update={
            "model": cfg.model.model_copy(update={"entrypoint": entrypoint}),
            "promotion": cfg.promotion.model_copy(update={"min_improvement": 0.0}),
            "serving": Serving(package=package),
        }
    )


def _train(cfg, promotion_env, n: int):
    """Train version ``n`` and make it the champion (by hand if the gate preferred the old one)."""
    settings, registry = promotion_env
    at = DAY + timedelta(hours=n)
    outcome = train_and_gate(cfg, promotion_env, n)
    if not outcome.promoted:
        rails.promote(settings, registry, cfg.model.name, outcome.version, reason="test", at=at, by="test", force=True)
    return manifests.read_current(settings.artifacts_bucket, cfg.model.name)


def _deploy(cfg: ProjectConfig, cloud, monkeypatch) -> None:
    """Deploy ``cfg`` (its serving.package) and point the functions at it, as a redeploy
    would: fresh containers, which read their settings again."""
    deploy_config(cfg, cloud)
    monkeypatch.setenv("MLRAILS_CONFIG_URI", s3.uri(cloud.artifacts_bucket, config_key(cfg)))
    deployed.reset()


def _probabilities_request() -> dict:
    return api_event(
        "inference_invocations_records", body={"dataframe_records": ROWS, "params": {"probabilities": True}}
    )


def test_promotion_compiles_a_model_that_converts_and_inference_serves_the_graph(
    cfg, cloud, promotion_env, handler, monkeypatch, lambda_context
):
    settings, registry = promotion_env
    compiled_cfg = _config(cfg, COMPILES, package="onnx")

    manifest = _train(compiled_cfg, promotion_env, 1)

    assert manifest.serving == "onnx" and manifest.onnx_uri.endswith("/v1/model.onnx")
    assert manifest.serving_reason.startswith("verified on ") and "labels identical" in manifest.serving_reason
    assert s3.get_bytes(manifest.onnx_uri)  # stored beside model.skops
    [record] = rails.audit_log(settings, cfg.model.name)
    assert (record["serving"], record["serving_reason"]) == ("onnx", manifest.serving_reason)
    tags = registry.client.get_model_version(cfg.model.name, "1").tags
    assert tags["serving.path"] == "onnx" and tags["serving.reason"] == manifest.serving_reason

    _deploy(compiled_cfg, cloud, monkeypatch)
    inference = handler("inference")
    status, body = api_call(inference, _probabilities_request(), lambda_context)

    assert status == 200, body
    assert inference.champions().get().path == "onnx"
    model = rails.load_model(manifest)
    frame = pd.DataFrame(ROWS)
    assert body["predictions"] == model.predict(frame).tolist()
    for got, want in zip(body["probabilities"], model.predict_proba(frame)):
        assert got == {"0": pytest.approx(want[0], abs=1e-4), "1": pytest.approx(want[1], abs=1e-4)}


def test_a_model_that_does_not_convert_is_served_by_scikit_learn_and_the_onnx_package_says_so(
    cfg, cloud, promotion_env, handler, monkeypatch, lambda_context
):
    manifest = _train(_config(cfg, DOES_NOT), promotion_env, 1)

    assert manifest.serving == "skops" and manifest.onnx_uri is None
    assert manifest.serving_reason.startswith("ONNX conversion failed: ")
    assert not list(s3.list_keys(cloud.artifacts_bucket, "models/churn-classifier/v1/model.onnx"))

    _deploy(_config(cfg, DOES_NOT, package="onnx"), cloud, monkeypatch)
    status, body = api_call(handler("inference"), load_event("inference_invocations_records"), lambda_context)

    assert status == 503 and body["error_code"] == "PACKAGE_CANNOT_SERVE"
    assert "serving.package 'onnx'" in body["message"] and "deploy serving.package 'full' or 'image'" in body["message"]
    assert body["details"] == {"model_version": "1", "serving": "skops", "package": "onnx"}

    _deploy(_config(cfg, DOES_NOT, package="full"), cloud, monkeypatch)
    inference = handler("inference")
    assert api_call(inference, load_event("inference_invocations_records"), lambda_context)[0] == 200
    assert inference.champions().get().path == "skops"


def test_the_full_package_serves_a_compiled_champion_by_scikit_learn(
    cfg, cloud, promotion_env, handler, monkeypatch, lambda_context
):
    manifest = _train(_config(cfg, COMPILES), promotion_env, 1)
    _deploy(_config(cfg, COMPILES, package="full"), cloud, monkeypatch)
    inference = handler("inference")

    status, _ = api_call(inference, load_event("inference_invocations_records"), lambda_context)

    assert manifest.serving == "onnx" and status == 200
    assert inference.champions().get().path == "skops"  # the full package ships no onnxruntime


def test_champions_swap_between_paths_without_a_failed_request(cfg, cloud, promotion_env):
    """skops (v1, the placeholder) -> ONNX (v2) -> skops (rollback to v1), while requests keep
    coming from four threads: each gets an answer from a whole champion."""
    settings, registry = promotion_env
    first = _train(_config(cfg, "mlrails.models:placeholder"), promotion_env, 1)
    cache = champion.ChampionCache(settings.artifacts_bucket, cfg.model.name, ttl_seconds=0, package="image")
    batch = parse_request(
        load_event("inference_invocations_records")["body"].encode(), "application/json", first.signature
    )
    answers, failures, stop = [], [], threading.Event()

    def keep_asking() -> None:
        while not stop.is_set():
            try:
                serving = cache.get()
                predictions, _ = champion.predict(serving, batch)
                answers.append((serving.manifest.version, serving.path, len(predictions)))
            except Exception as exc:
                failures.append(exc)

    threads = [threading.Thread(target=keep_asking) for _ in range(4)]
    for thread in threads:
        thread.start()
    try:
        second = _train(_config(cfg, COMPILES), promotion_env, 2)
        swapped = _wait_for(answers, ("2", "onnx"))
        rails.rollback(settings, registry, cfg.model.name, at=DAY + timedelta(hours=3), by="test")
        _wait_for(answers, ("1", "skops"), after=swapped)
    finally:
        stop.set()
        for thread in threads:
            thread.join()

    assert failures == []
    assert second.serving == "onnx"
    assert {a[:2] for a in answers} == {("1", "skops"), ("2", "onnx")}
    assert all(rows == 3 for _, _, rows in answers)
    assert cache.reload_failures == 0


def _wait_for(answers: list, version_path: tuple[str, str], after: int = 0, timeout: float = 60) -> int:
    """Until a request after index ``after`` is answered by ``version_path``; returns its index."""
    deadline = time.monotonic() + timeout
    while True:
        found = [i for i in range(after, len(answers)) if answers[i][:2] == version_path]
        if found:
            return found[0]
        assert time.monotonic() < deadline, f"{version_path} never served"
        time.sleep(0.01)


def test_the_onnx_package_keeps_serving_its_compiled_champion_when_one_it_cannot_serve_is_promoted(
    cfg, cloud, promotion_env, handler, monkeypatch, lambda_context
):
    _train(_config(cfg, COMPILES), promotion_env, 1)
    _deploy(_config(cfg, COMPILES, package="onnx"), cloud, monkeypatch)
    inference = handler("inference")
    assert api_call(inference, load_event("inference_invocations_records"), lambda_context)[0] == 200

    _train(_config(cfg, DOES_NOT), promotion_env, 2)
    status, body = api_call(inference, load_event("inference_invocations_records"), lambda_context)

    assert status == 200 and body["model_version"] == "1"  # the loaded compiled champion keeps serving
    assert inference.champions().reload_failures == 1
