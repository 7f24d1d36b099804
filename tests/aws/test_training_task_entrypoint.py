"""train as an ECS Fargate task (functions/train/task.py): the step from its environment, the
earlier results from runs/, its own left there; the same steps and idempotency as the function;
and auto's choice from the window's bytes (mlrails.training.compute.for_run)."""

from __future__ import annotations

import importlib.util
import json
import sys
from datetime import timedelta
from types import ModuleType

import pytest

from mlrails.adapters import s3
from mlrails.local.synthetic import churn_frame
from mlrails.training import compute
from mlrails.wiring import TASK_REQUEST, TASK_STEP, TASK_TIME, TRAINING, step_result_key
from support.aws import DAY, keys, put_features, training_request
from support.samples import REPO


@pytest.fixture
def task(monkeypatch: pytest.MonkeyPatch, mlflow_db: str) -> ModuleType:
    """functions/train/task.py, loaded as the container runs it (no Lambda function name)."""
    monkeypatch.delenv("AWS_LAMBDA_FUNCTION_NAME", raising=False)
    monkeypatch.setenv("POWERTOOLS_SERVICE_NAME", "train")
    spec = importlib.util.spec_from_file_location("train_task", REPO / "functions" / "train" / "task.py")
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, spec.name, module)
    spec.loader.exec_module(module)
    return module


def _run(task: ModuleType, monkeypatch: pytest.MonkeyPatch, request: dict, time: str) -> list[int]:
    """Each step as the state machine starts it: one task per step, its overrides set."""
    codes = []
    for step in TRAINING.steps:
        monkeypatch.setenv(TASK_STEP, step)
        monkeypatch.setenv(TASK_REQUEST, json.dumps(request))
        monkeypatch.setenv(TASK_TIME, time)
        codes.append(task.main())
    return codes


def _result(cloud, trigger_id: str, step: str) -> dict | None:
    body = s3.get_optional(s3.uri(cloud.artifacts_bucket, step_result_key(trigger_id, step)))
    return None if body is None else json.loads(body)


def test_the_task_runs_the_steps_and_leaves_each_result_for_the_next(cloud, cfg, bus, task, monkeypatch):
    put_features(cloud, cfg, churn_frame(300, DAY - timedelta(days=1), seed=5))
    state = training_request()["state"]
    trigger_id = state["request"]["trigger_id"]

    assert _run(task, monkeypatch, state["request"], state["time"]) == [0, 0, 0]

    trained, evaluated, finished = (_result(cloud, trigger_id, step) for step in TRAINING.steps)
    assert trained["version"] == "1" and evaluated["promote"] is True
    assert finished == {"promoted": True, "reason": evaluated["reason"]}
    assert len(bus.of("ModelRegistered")) == 1 and len(bus.of("ModelPromoted")) == 1

    # A retried task (every step again): the first results, not a second model.
    assert _run(task, monkeypatch, state["request"], state["time"]) == [0, 0, 0]
    assert _result(cloud, trigger_id, "train") == trained
    assert [key for key in keys(cloud.artifacts_bucket, "models/") if key.endswith("model.skops")] == [
        f"models/{cfg.model.name}/v1/model.skops"
    ]
    assert len(bus.of("ModelRegistered")) == 1 and len(bus.of("ModelPromoted")) == 1  # nothing announced twice


def test_a_failing_step_exits_with_an_error_and_leaves_no_result(cloud, cfg, task, monkeypatch):
    put_features(cloud, cfg, churn_frame(50, DAY - timedelta(days=1), seed=5))  # below min_rows
    state = training_request()["state"]
    monkeypatch.setenv(TASK_STEP, "train")
    monkeypatch.setenv(TASK_REQUEST, json.dumps(state["request"]))
    monkeypatch.setenv(TASK_TIME, state["time"])

    assert task.main() == 1
    assert _result(cloud, state["request"]["trigger_id"], "train") is None


def test_auto_chooses_by_the_bytes_of_the_windows_parquet_files(cloud, cfg):
    auto = cfg.model_copy(update={"training": cfg.training.model_copy(update={"compute": "auto", "window_days": 2})})
    put_features(cloud, cfg, churn_frame(300, DAY - timedelta(days=30), seed=5), "old")  # outside the window
    recent = put_features(cloud, cfg, churn_frame(300, DAY - timedelta(days=1), seed=6), "new")
    size = len(s3.get_bytes(s3.uri(cloud.data_bucket, recent)))

    assert compute.for_run(auto, cloud.data_bucket, 3008) == "lambda"
    # A function whose memory is below the window's expanded bytes (the recent file's alone:
    # the old partition, outside the window, does not count): Fargate.
    fits_recent_only = -(-size * compute.IN_MEMORY_EXPANSION // 2**20)  # MB, rounded up
    assert compute.for_run(auto, cloud.data_bucket, fits_recent_only) == "lambda"
    assert compute.for_run(auto, cloud.data_bucket, fits_recent_only - 1) == "fargate"
    assert compute.for_run(cfg, cloud.data_bucket, 0) == "lambda"  # compute: lambda lists nothing
