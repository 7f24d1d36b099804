"""tracking_switch: starts the MLflow server for whoever holds it and stops it when nobody
does (see :mod:`mlrails.tracking`). Invoked by the training state machine (hold before the
first step, release after the last or a failure), by operator commands and `mlrails ui`
(through the caller's own credentials), and by the hourly idle sweep.

Holds and releases are idempotent by nature (a lease set twice is one lease; a release of
nothing forgets nothing): no idempotency record. A malformed event is refused with
``BadRequest``; ``TrackingStarting`` asks the caller to hold again shortly.
"""

from aws_lambda_powertools import Logger, Tracer
from aws_lambda_powertools.utilities.typing import LambdaContext

from mlrails.adapters import deployed
from mlrails.adapters.state import StateTable
from mlrails.adapters.tracking_server import TrackingServer
from mlrails.tracking import switch

logger = Logger()
tracer = Tracer()


# clear_state: a warm container must not label the next invocation with this one's keys.
@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    settings = deployed.settings(needs_tracking_server=True)
    result = switch.run(
        event, StateTable(settings.state_table), TrackingServer(settings.tracking_server), deployed.event_time(event)
    )
    if result["scaled"]:
        logger.info("tracking server scaled", extra={"result": result})
    return result
