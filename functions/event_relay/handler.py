"""event_relay: S3 ``Object Created`` under outbox/ of the artifacts bucket → the event the
object holds, on the project bus; the object deleted (see :mod:`mlrails.outbox`: how the train
function publishes with no route to EventBridge)."""

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from mlrails.adapters import bus, deployed
from mlrails.adapters.idempotency import once
from mlrails.metric_names import MetricName

logger = Logger()
tracer = Tracer()
metrics = Metrics()


def process(event: dict) -> dict:
    settings = deployed.settings()
    # The rule matches this environment's artifacts bucket only.
    result = bus.relay(settings.artifacts_bucket, event["detail"]["object"]["key"], settings.bus_name)
    if result.status == bus.RelayStatus.MALFORMED:
        # Kept where it is (outbox/ expires), for whoever fixes the writer; never retried.
        logger.error("outbox object not published", extra=result.to_dict())
        metrics.add_metric(name=MetricName.OUTBOX_MALFORMED, unit=MetricUnit.Count, value=1)
    elif result.status == bus.RelayStatus.GONE:
        logger.info("outbox object no longer exists: relayed already", extra=result.to_dict())
    else:
        logger.info("event relayed", extra=result.to_dict())
        metrics.add_metric(name=MetricName.EVENTS_RELAYED, unit=MetricUnit.Count, value=1)
    return result.to_dict()


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    # Once per object: S3 may notify twice and EventBridge retries; the writer never reuses a key.
    return once(deployed.settings().state_table, "detail.object.key", process, event, lambda_context=context)
