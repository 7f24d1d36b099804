"""performance_check: on its schedule, the champion's settled predictions against the labels
fed back for them → quality metrics, business KPI, PerformanceDegraded; and, with
training.feedback_rows, each settled day's labelled predictions → training rows + FeaturesReady."""

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from mlrails.adapters import deployed
from mlrails.adapters.idempotency import once
from mlrails.metric_names import MODEL_DIMENSION, MetricName, per_item
from mlrails.performance.check import PerformanceOutcome, check_performance, export_settled_days

logger = Logger()
tracer = Tracer()
metrics = Metrics()


def publish_metrics(outcome: PerformanceOutcome, model: str) -> None:
    """Label counts always (an alarm on missing labels needs them); scores when there are some."""
    metrics.add_dimension(name=MODEL_DIMENSION, value=model)
    metrics.add_metric(name=MetricName.LABELLED_ROWS, unit=MetricUnit.Count, value=outcome.labelled)
    if outcome.coverage is not None:
        metrics.add_metric(name=MetricName.LABEL_COVERAGE, unit=MetricUnit.Percent, value=100 * outcome.coverage)
    if outcome.value is not None:
        metrics.add_metric(name=MetricName.MODEL_QUALITY, unit=MetricUnit.NoUnit, value=outcome.value)
    for name, value in outcome.metrics.items():
        metrics.add_metric(name=per_item(MetricName.QUALITY_METRIC, name), unit=MetricUnit.NoUnit, value=value)
    if outcome.business_kpi is not None:
        metrics.add_metric(name=MetricName.BUSINESS_KPI, unit=MetricUnit.NoUnit, value=outcome.business_kpi)
    if outcome.emitted:
        metrics.add_metric(name=MetricName.PERFORMANCE_DEGRADED, unit=MetricUnit.Count, value=1)


def process(event: dict) -> dict:
    settings = deployed.settings()
    cfg = deployed.project_config(settings.config_uri)
    at = deployed.event_time(event)
    outcome = check_performance(cfg, settings, at=at)
    exported = export_settled_days(cfg, settings, at=at)
    if outcome.status != "no_model":
        publish_metrics(outcome, cfg.model.name)
    logger.info(
        "performance check",
        extra={
            "status": outcome.status,
            "metric": outcome.metric,
            "value": outcome.value,
            "labelled": outcome.labelled,
            "report": outcome.report_uri,
            "emitted": outcome.emitted,
            "feedback_rows_added": sum(e.added for e in exported),
        },
    )
    return {
        "status": outcome.status,
        "metric": outcome.metric,
        "value": outcome.value,
        "threshold": outcome.threshold,
        "allowance": outcome.allowance,
        "labelled": outcome.labelled,
        "report_uri": outcome.report_uri,
        "performance_degraded": outcome.emitted,
        "feedback_rows": [
            {"day": e.day.isoformat(), "features_uri": e.features_uri, "rows": e.rows, "added": e.added}
            for e in exported
        ],
    }


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    # One check per scheduled slot, however often the scheduler retries it.
    return once(deployed.settings().state_table, "[schedule, scheduled_time]", process, event, lambda_context=context)
