"""retrain_trigger: schedules, FeaturesReady, DriftDetected, PerformanceDegraded → the policy;
TrainingFailed → the failed run gives back what starting it took."""

from datetime import datetime

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from mlrails.adapters import deployed
from mlrails.adapters.idempotency import once
from mlrails.events import parse_detail
from mlrails.metric_names import MetricName
from mlrails.retraining.trigger import give_back, handle_trigger
from mlrails.wiring import DetailType

logger = Logger()
tracer = Tracer()
metrics = Metrics()

_TRIGGERS = {
    DetailType.FEATURES_READY: "new_data",
    DetailType.DRIFT_DETECTED: "drift",
    DetailType.PERFORMANCE_DEGRADED: "performance",
}


def process(event: dict) -> dict:
    settings = deployed.settings(needs_state_machine=True)
    cfg = deployed.project_config(settings.config_uri)
    if event.get("detail-type") == DetailType.TRAINING_FAILED:
        failed = parse_detail(event["detail-type"], event["detail"])
        outcome = give_back(
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
    if "schedule" in event:
        # The slot, not Scheduler's per-attempt execution id: a retried invocation is the same trigger.
        trigger, trigger_id, rows = "schedule", f"{event['schedule']}-{event['scheduled_time']}", 0
    else:
        trigger, trigger_id = _TRIGGERS[DetailType(event["detail-type"])], event["id"]
        rows = int(event["detail"].get("rows", 0))
    decision = handle_trigger(
        cfg, settings, trigger=trigger, trigger_id=trigger_id, at=deployed.event_time(event), new_rows=rows
    )
    logger.info("retrain decision", extra={"trigger": trigger, "retrain": decision.retrain, "reason": decision.reason})
    metrics.add_metric(
        name=MetricName.RETRAIN_REQUESTED if decision.retrain else MetricName.RETRAIN_DECLINED,
        unit=MetricUnit.Count,
        value=1,
    )
    return {"trigger": trigger, "retrain": decision.retrain, "reason": decision.reason}


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
