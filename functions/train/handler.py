"""train: one step of a training run (train → evaluate → finish), invoked by the training
state machine with ``{"step": <name>, "state": <the run so far>}``; and operator commands,
requests to its IAM-authenticated function URL (see :mod:`mlrails.promotion.operations`) sent by
`mlrails promote | rollback | models | release`.

Runs as a container image: mlflow + scikit-learn + pandas exceed Lambda's zip limit. The same
image runs the steps as an ECS Fargate task too (``training.compute``): ``task.py`` beside this.
"""

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from mlrails.adapters import deployed
from mlrails.adapters.idempotency import once
from mlrails.adapters.registry import Registry
from mlrails.errors import BadRequest, MlrailsError, TamperedArtifact
from mlrails.metric_names import MetricName
from mlrails.promotion import operations
from mlrails.release import transfer
from mlrails.training import steps

logger = Logger()
tracer = Tracer()
metrics = Metrics()


def registry() -> Registry:
    """Per invocation: the server may have stopped and started again (on another address)
    since this container's last one (mlrails.tracking), and each invocation waits for it."""
    settings = deployed.settings(needs_tracking=True)
    return Registry.for_settings(settings, deployed.project_config(settings.config_uri).model.name)


def process(event: dict) -> dict:
    settings = deployed.settings(needs_tracking=True)
    cfg = deployed.project_config(settings.config_uri)
    step, state = event["step"], event["state"]
    logger.append_keys(trigger_id=state["request"]["trigger_id"], step=step)
    result = steps.run(cfg, settings, registry(), step, state)
    if step == "finish":
        metrics.add_metric(
            name=MetricName.MODEL_PROMOTED if result["promoted"] else MetricName.MODEL_REJECTED,
            unit=MetricUnit.Count,
            value=1,
        )
    logger.info("training step finished", extra={"result": result})
    return result


def operate(event: dict) -> dict:
    """A person's command, through the function URL: the caller is the IAM principal Lambda
    verified. A refusal (unknown version, nothing to roll back to) is an answer for the person,
    not a function error that would page whoever watches the alarms."""
    settings = deployed.settings(needs_tracking=True)
    action = None
    try:
        operation, caller = operations.from_url_request(event)
        action = operation.action
        logger.append_keys(operation=action, by=caller.by)
        cfg = deployed.project_config(settings.config_uri)
        if action in transfer.ACTIONS:
            result = transfer.run(operation, caller, cfg, settings, registry())
        else:
            result = operations.run(operation, caller, settings, registry(), cfg.model.name)
    except MlrailsError as exc:
        logger.warning("operation refused", extra={"error": exc.to_body()})
        if action == "apply" and isinstance(exc, (TamperedArtifact, transfer.LockRefused)):
            # A lock this environment refuses: its release pipeline stops, and someone is paged.
            metrics.add_metric(name=MetricName.RELEASE_REFUSED, unit=MetricUnit.Count, value=1)
        return operations.http_answer(exc.status, exc.to_body())
    logger.info("operation done", extra={"result": result.get("champion")})
    return operations.http_answer(200, result)


# clear_state: a warm container must not label the next invocation with this one's keys.
@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    if operations.is_url_request(event):
        return operate(event)
    if "step" not in event:
        # Operator commands used to be direct invocations naming their own caller: refused, so
        # that nobody writes the audit log in another's name (see mlrails.promotion.operations).
        raise BadRequest(
            "the train function runs training steps (invoked by the state machine) and operator "
            "commands through its function URL; this event is neither"
        )
    # Each step once per trigger: a retried task returns the first result, not a second model.
    return once(
        deployed.settings(needs_tracking=True).state_table,
        "[state.request.trigger_id, step]",
        process,
        event,
        lambda_context=context,
    )
