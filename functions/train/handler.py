"""train: one step of a training run (train → evaluate → finish), invoked by the training
state machine with ``{"step": <name>, "state": <the run so far>}``.

Runs as a container image: mlflow + scikit-learn + pandas exceed Lambda's zip limit.
"""

import functools
from datetime import datetime

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from mlrails import lifecycle
from mlrails.adapters import deployed
from mlrails.adapters.idempotency import once
from mlrails.errors import BadRequest
from mlrails.metric_names import MetricName
from mlrails.registry import Registry

logger = Logger()
tracer = Tracer()
metrics = Metrics()


@functools.cache
def registry() -> Registry:
    settings = deployed.settings(needs_tracking=True)
    return Registry.for_settings(settings, deployed.project_config(settings.config_uri).model.name)


def process(event: dict) -> dict:
    settings = deployed.settings(needs_tracking=True)
    cfg = deployed.project_config(settings.config_uri)
    step, state = event["step"], event["state"]
    request, at = state["request"], datetime.fromisoformat(state["time"])
    logger.append_keys(trigger_id=request["trigger_id"], step=step)
    if step == "train":
        result = lifecycle.train_step(cfg, settings, registry(), reason=request["reason"],
                                      trigger_id=request["trigger_id"], at=at)
    elif step == "evaluate":
        result = lifecycle.evaluate_step(cfg, settings, registry(), version=state["train"]["version"],
                                         placeholder_metrics=state["train"]["placeholder_metrics"])
    elif step == "finish":
        result = lifecycle.finish_step(cfg, settings, registry(), version=state["train"]["version"],
                                       evaluation=state["evaluate"], at=at)
        metrics.add_metric(name=MetricName.MODEL_PROMOTED if result["promoted"] else MetricName.MODEL_REJECTED,
                           unit=MetricUnit.Count, value=1)
    else:
        raise BadRequest(f"unknown training step {step!r}")
    logger.info("training step finished", extra={"result": result})
    return result


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    # Each step once per trigger: a retried task returns the first result, not a second model.
    return once(deployed.settings(needs_tracking=True).state_table, "[state.request.trigger_id, step]", process,
                event, lambda_context=context)
