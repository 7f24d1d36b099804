"""The training task locally (``training.compute: fargate``, or ``auto`` choosing it): the
container's entrypoint, functions/train/task.py, run as ECS runs it — ``python -m task`` in the
function's folder, in a process of its own, with the train function's environment and the
step's overrides — only without Docker. The process reaches this runtime's moto through its
server mode (:meth:`mlrails.local.cloud.LocalCloud.endpoint`) and the local MLflow's SQLite
file directly; its result comes back the way the state machine reads it: from runs/."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any, TextIO

from mlrails.adapters import s3
from mlrails.errors import MlrailsError
from mlrails.local.cloud import LocalCloud
from mlrails.wiring import TASK_REQUEST, TASK_STEP, TASK_TIME, TRAINING, function, step_result_key


class TaskFailed(MlrailsError):
    """The training task exited with an error status (on AWS: the state's States.TaskFailed)."""


def run_step(cloud: LocalCloud, functions_dir: Path, step: str, state: dict[str, Any], log: TextIO) -> dict[str, Any]:
    """Run ``step`` of the run whose state is ``state`` as the training task; its result."""
    endpoint = cloud.endpoint()
    env = {**os.environ, **cloud.environment_for(function(TRAINING.function))}
    # Not a Lambda function: Powertools keys idempotency records by the function's name when
    # there is one, and ECS sets none.
    env.pop("AWS_LAMBDA_FUNCTION_NAME", None)
    env.update(
        {
            TASK_STEP: step,
            TASK_REQUEST: json.dumps(state["request"]),
            TASK_TIME: state["time"],
            "AWS_ENDPOINT_URL": endpoint,
            "MLFLOW_S3_ENDPOINT_URL": endpoint,
        }
    )
    done = subprocess.run(
        [sys.executable, "-m", "task"],
        cwd=functions_dir / TRAINING.function,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    log.write(done.stdout + done.stderr)
    if done.returncode != 0:
        last = (done.stdout.strip().splitlines() or ["no output"])[-1]
        raise TaskFailed(f"the training task's step '{step}' exited with status {done.returncode}: {last}")
    trigger_id = state["request"]["trigger_id"]
    return s3.get_json(s3.uri(cloud.names.artifacts_bucket, step_result_key(trigger_id, step)))
