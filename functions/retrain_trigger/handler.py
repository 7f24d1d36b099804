"""retrain_trigger: schedules, FeaturesReady, DriftDetected, PerformanceDegraded → the policy;
the deferred-retrain check → a deferred trigger's run, once due; TrainingFailed → the failed run
gives back what starting it took."""

from datetime import datetime

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from mlrails.adapters import deployed
from mlrails.adapters.idempotency import once
from mlrails.metric_names import MetricName
from mlrails.retraining import trigger

logger = Logger()
tracer = Tracer()
metrics = Metrics()


def process(event: dict) -> dict:
    settings = deployed.settings(needs_state_machine=True)
    cfg = deployed.project_config(settings.config_uri)
    failed = trigger.failed_run(event)
    if failed is not None:
        outcome = trigger.give_back(
            cfg,
            settings,
            trigger_id=failed.trigger_id,
            error=failed.error,
            requested_at=datetime.fromisoformat(failed.requested_at),
            at=deployed.event_time(event),
        )
        logger.warning(
            "training run failed", extra={"trigger_id": failed.trigger_id, "error": failed.error, "gave_back": outcome}
        )
        return {"trigger": "training_failed", "retrain": False, "reason": outcome}
    asked = trigger.incoming(event)
    if asked.trigger == "deferred":
        due = trigger.run_deferred(cfg, settings, check_id=asked.trigger_id, at=deployed.event_time(event))
        if due is None:  # the hourly check, most of the time: no decision, no metric
            return {"trigger": "deferred", "retrain": False, "reason": "no deferred trigger is due"}
        decided, decision = due
    else:
        decided = asked.trigger
        decision = trigger.handle_trigger(
            cfg,
            settings,
            trigger=asked.trigger,
            trigger_id=asked.trigger_id,
            at=deployed.event_time(event),
            new_rows=asked.new_rows,
        )
    logger.info("retrain decision", extra={"trigger": decided, "retrain": decision.retrain, "reason": decision.reason})
    metrics.add_metric(
        name=MetricName.RETRAIN_REQUESTED if decision.retrain else MetricName.RETRAIN_DECLINED,
        unit=MetricUnit.Count,
        value=1,
    )
    return {"trigger": decided, "retrain": decision.retrain, "reason": decision.reason}


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    # EventBridge events carry an id; a schedule's slot is its name and time.
    return once(
        deployed.settings(needs_state_machine=True).state_table,
        "id || join('#', [schedule, scheduled_time])",
        process,
        event,
        lambda_context=context,
    )
