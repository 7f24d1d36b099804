"""One step of a training run, whichever engine runs it: the train function (Lambda) or the
training task (ECS Fargate, same image). Both pass the execution's state as Step Functions
keeps it — ``{"request": <RetrainRequested detail>, "time": <ISO time>, <step>: <result>...}`` —
and get the same result, so the next step sees identical input on either path."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from mlrails.adapters import s3
from mlrails.adapters.registry import Registry
from mlrails.config import ProjectConfig
from mlrails.errors import BadRequest
from mlrails.settings import Settings
from mlrails.training import lifecycle
from mlrails.wiring import TRAINING, step_result_key


def run(cfg: ProjectConfig, settings: Settings, registry: Registry, step: str, state: dict[str, Any]) -> dict[str, Any]:
    """Run ``step`` of the run whose state so far is ``state``; its result (plain JSON)."""
    request, at = state["request"], datetime.fromisoformat(state["time"])
    if step == "train":
        return lifecycle.train_step(
            cfg, settings, registry, reason=request["reason"], trigger_id=request["trigger_id"], at=at
        )
    if step == "evaluate":
        return lifecycle.evaluate_step(
            cfg,
            settings,
            registry,
            version=state["train"]["version"],
            trained_through=state["train"]["trained_through"],
            at=at,
        )
    if step == "finish":
        return lifecycle.finish_step(
            cfg, settings, registry, version=state["train"]["version"], evaluation=state["evaluate"], at=at
        )
    raise BadRequest(f"unknown training step {step!r}")


def task_state(settings: Settings, step: str, request: dict[str, Any], time: str) -> dict[str, Any]:
    """The state a task's ``step`` sees: the execution's request and time, and the results the
    steps before it left under runs/ (the state machine read the same files into its state)."""
    if step not in TRAINING.steps:
        raise BadRequest(f"unknown training step {step!r}")
    state: dict[str, Any] = {"request": request, "time": time}
    for earlier in TRAINING.steps[: TRAINING.steps.index(step)]:
        state[earlier] = s3.get_json(result_uri(settings, request["trigger_id"], earlier))
    return state


def result_uri(settings: Settings, trigger_id: str, step: str) -> str:
    """Where a task leaves ``step``'s result: the artifacts bucket, under runs/."""
    return s3.uri(settings.artifacts_bucket, step_result_key(trigger_id, step))
