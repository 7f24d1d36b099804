"""train: RetrainRequested → fit, register in MLflow, gate against the champion, promote.

Runs as a container image: mlflow + scikit-learn + pandas exceed Lambda's zip limit.
"""

import functools

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from mlrails.adapters import deployed
from mlrails.adapters.idempotency import once
from mlrails.lifecycle import train_and_promote
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
    detail = event["detail"]
    outcome = train_and_promote(cfg, settings, registry(), reason=detail["reason"],
                                trigger_id=detail["trigger_id"], at=deployed.event_time(event))
    logger.info("training finished", extra={"version": outcome.version, "promoted": outcome.promoted,
                                           "reason": outcome.reason, "metrics": outcome.metrics})
    metrics.add_metric(name="ModelsPromoted" if outcome.promoted else "ModelsRejected", unit=MetricUnit.Count, value=1)
    return {"version": outcome.version, "promoted": outcome.promoted, "reason": outcome.reason,
            "metrics": outcome.metrics, "rows": outcome.rows}


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    # One run per trigger: a redelivered RetrainRequested does not train twice.
    return once(deployed.settings(needs_tracking=True).state_table, "detail.trigger_id", process, event,
                lambda_context=context)
