"""feature_prep: S3 ``Object Created`` under raw/ → Parquet features, or quarantine."""

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from mlrails.adapters import deployed
from mlrails.adapters.idempotency import once
from mlrails.data.ingest import IngestStatus, ingest, raw_object
from mlrails.metric_names import MetricName

logger = Logger()
tracer = Tracer()
metrics = Metrics()


def process(event: dict) -> dict:
    settings = deployed.settings()
    key, version_id = raw_object(event)
    result = ingest(
        deployed.project_config(settings.config_uri),
        settings,
        key=key,
        version_id=version_id,
        at=deployed.event_time(event),
    )
    if result.status == IngestStatus.GONE:
        logger.warning("raw file version no longer exists: already handled, or deleted", extra=result.to_dict())
        metrics.add_metric(name=MetricName.FILES_GONE, unit=MetricUnit.Count, value=1)
    elif result.status == IngestStatus.QUARANTINED:
        logger.warning("raw file quarantined", extra=result.to_dict())
        metrics.add_metric(name=MetricName.FILES_QUARANTINED, unit=MetricUnit.Count, value=1)
    else:
        logger.info("raw file processed", extra=result.to_dict())
        metrics.add_metric(name=MetricName.FEATURE_ROWS, unit=MetricUnit.Count, value=result.rows)
    return result.to_dict()


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    # One run per object write (its version, and the sequencer that orders writes to a key):
    # S3 may notify twice (multipart) and EventBridge retries.
    return once(
        deployed.settings().state_table,
        '[detail.bucket.name, detail.object.key, detail.object."version-id", detail.object.sequencer]',
        process,
        event,
        lambda_context=context,
    )
