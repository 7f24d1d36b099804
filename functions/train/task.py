"""train, as an ECS Fargate task (``training.compute: fargate | auto``): one step of a training
run, the same code as the function's (:func:`mlrails.training.steps.run`), started by the
training state machine with ``python -m task`` in the same image.

A task returns nothing to Step Functions (``.sync`` reports only that it stopped), so the
step's input and output go around it: the state machine passes the step, the execution's
request and time in the container's environment (:data:`mlrails.wiring.TASK_STEP`...); the
task reads the earlier steps' results from runs/<trigger id>/ and leaves its own there, which
the state machine reads back into its state. Exit status 1 on any error: the state fails and
takes the TrainingFailed path, as a function error does.
"""

import json
import os
import sys

from aws_lambda_powertools import Logger

from mlrails.adapters import deployed, s3
from mlrails.adapters.idempotency import once
from mlrails.adapters.registry import Registry
from mlrails.training import steps
from mlrails.wiring import TASK_REQUEST, TASK_STEP, TASK_TIME

logger = Logger()


def process(event: dict) -> dict:
    settings = deployed.settings(needs_tracking=True)
    cfg = deployed.project_config(settings.config_uri)
    registry = Registry.for_settings(settings, cfg.model.name)
    return steps.run(cfg, settings, registry, event["step"], event["state"])


def main() -> int:
    step, request = os.environ[TASK_STEP], json.loads(os.environ[TASK_REQUEST])
    logger.append_keys(trigger_id=request["trigger_id"], step=step)
    try:
        settings = deployed.settings(needs_tracking=True)
        state = steps.task_state(settings, step, request, os.environ[TASK_TIME])
        # Each step once per trigger, on the function's key: a retried task returns the first
        # result (and leaves it again), not a second model.
        result = once(settings.state_table, "[state.request.trigger_id, step]", process, {"step": step, "state": state})
        s3.put_json(steps.result_uri(settings, request["trigger_id"], step), result)
    except Exception:
        logger.exception("training step failed")
        return 1
    logger.info("training step finished", extra={"result": result})
    return 0


if __name__ == "__main__":
    sys.exit(main())
