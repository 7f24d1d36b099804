"""drift_check: on its schedule, the capture window vs the champion's reference profile."""

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from mlrails.adapters import deployed
from mlrails.adapters.idempotency import once
from mlrails.drift.check import check_drift, html_uri
from mlrails.metric_names import MODEL_DIMENSION, MetricName, per_item

logger = Logger()
tracer = Tracer()
metrics = Metrics()


def process(event: dict) -> dict:
    settings = deployed.settings()
    cfg = deployed.project_config(settings.config_uri)
    outcome = check_drift(cfg, settings, at=deployed.event_time(event))
    if outcome.report is not None and outcome.report.status != "insufficient_data":
        metrics.add_dimension(name=MODEL_DIMENSION, value=cfg.model.name)
        metrics.add_metric(
            name=MetricName.DRIFTED_FEATURE_SHARE, unit=MetricUnit.Percent, value=100 * outcome.report.drifted_share
        )
        metrics.add_metric(name=MetricName.DRIFT_WINDOW_ROWS, unit=MetricUnit.Count, value=outcome.report.rows)
        for name, result in outcome.report.features.items():
            metrics.add_metric(name=per_item(MetricName.PSI, name), unit=MetricUnit.NoUnit, value=result.psi)
            if result.score is not None:  # the feature's deciding measure (Wasserstein, Jensen-Shannon, ...)
                metrics.add_metric(
                    name=per_item(MetricName.DRIFT_SCORE, name), unit=MetricUnit.NoUnit, value=result.score
                )
        if outcome.emitted:  # the alarm counts these: one per DriftDetected event
            metrics.add_metric(name=MetricName.DRIFT_DETECTED, unit=MetricUnit.Count, value=1)
    logger.info(
        "drift check",
        extra={
            "status": outcome.status,
            "report": outcome.report_uri,
            "page": outcome.report_uri and html_uri(outcome.report_uri),
            "consecutive": outcome.consecutive_windows,
            "emitted": outcome.emitted,
        },
    )
    return {
        "status": outcome.status,
        "report_uri": outcome.report_uri,
        "consecutive_windows": outcome.consecutive_windows,
        "drift_detected": outcome.emitted,
    }


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    # One check per scheduled slot, however often the scheduler retries it.
    return once(deployed.settings().state_table, "[schedule, scheduled_time]", process, event, lambda_context=context)
