"""inference: the champion behind API Gateway (POST /invocations, /feedback; GET /ping, /version,
/openapi.json).

The model comes from the deployment manifest in S3, never from MLflow: predictions go on
when MLflow is down.
"""

import functools

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.event_handler import APIGatewayRestResolver, CORSConfig, Response, content_types
from aws_lambda_powertools.event_handler.exceptions import NotFoundError
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

import mlrails
from mlrails import openapi
from mlrails.adapters import deployed, secrets
from mlrails.capture import stream
from mlrails.errors import MlrailsError, RouteNotFound
from mlrails.feedback import intake, receive
from mlrails.metric_names import MetricName
from mlrails.serving import champion, prediction_ids
from mlrails.serving.protocol import parse_request
from mlrails.settings import cors_origins

logger = Logger()
tracer = Tracer()
metrics = Metrics()


def _cors(origins: tuple[str, ...]) -> CORSConfig | None:
    # Off unless the environment lists origins: then only those get CORS headers (Powertools
    # echoes a listed Origin, errors included); API Gateway answers the preflight.
    return CORSConfig(allow_origin=origins[0], extra_origins=list(origins[1:]), max_age=600) if origins else None


app = APIGatewayRestResolver(cors=_cors(cors_origins()))


@functools.cache
def champions() -> champion.ChampionCache:
    settings = deployed.settings()
    cfg = deployed.project_config(settings.config_uri)
    return champion.cache_for(settings, cfg.model.name, cfg.serving.package)


def _body() -> bytes:
    return (app.current_event.decoded_body or "").encode()


def _id_key() -> bytes:
    return secrets.secret_bytes(deployed.settings(needs_api=True).prediction_id_secret)


@app.get("/ping")
def ping() -> dict:
    return {"status": "ok"}


@app.get("/version")
def version() -> dict:
    manifest = champions().get().manifest
    return {
        "model_name": manifest.model_name,
        "model_version": manifest.version,
        "run_id": manifest.run_id,
        "trained_at": manifest.trained_at,
        "promoted_at": manifest.promoted_at,
        # The lock it was released with (None: trained here, or a person's emergency promotion).
        "lock_sha256": manifest.lock_sha256,
        "kit_version": mlrails.__version__,
    }


@app.get("/openapi.json")
def openapi_document() -> dict:
    return openapi.document(deployed.project_config(deployed.settings().config_uri), mlrails.__version__)


@app.post("/invocations")
@tracer.capture_method
def invocations() -> dict:
    serving = champions().get()
    batch = parse_request(_body(), app.current_event.headers.get("content-type"), serving.signature)
    settings = deployed.settings(needs_capture_stream=True)
    cfg = deployed.project_config(settings.config_uri)
    predictions, probabilities = champion.predict(serving, batch, monitored=cfg.monitoring_needs_probabilities)
    ids = prediction_ids.issue(_id_key(), batch.rows)
    lost = stream.capture(
        settings.capture_stream,
        cfg.capture,
        batch=batch,
        predictions=predictions,
        probabilities=probabilities,
        ids=ids,
        model_name=serving.manifest.model_name,
        model_version=serving.manifest.version,
        at=deployed.event_time(app.current_event.raw_event),
    )
    metrics.add_metric(name=MetricName.PREDICTED_ROWS, unit=MetricUnit.Count, value=batch.rows)
    if lost:
        metrics.add_metric(name=MetricName.CAPTURE_FAILURES, unit=MetricUnit.Count, value=lost)
    answer = {
        "predictions": predictions,
        "prediction_ids": ids,
        "model_name": serving.manifest.model_name,
        "model_version": serving.manifest.version,
    }
    if batch.return_probabilities and probabilities is not None:
        answer["probabilities"] = probabilities
    return answer


@app.post("/feedback")
def post_feedback() -> dict:
    received = receive.receive(
        _body(),
        app.current_event.raw_event.get("requestContext") or {},
        settings=deployed.settings(needs_api=True),
        champion=lambda: champions().get().manifest,
        id_key=_id_key(),
        at=deployed.event_time(app.current_event.raw_event),
    )
    if received.accepted:
        metrics.add_metric(name=MetricName.FEEDBACK_LABELS, unit=MetricUnit.Count, value=received.accepted)
    if received.refused:
        metrics.add_metric(name=MetricName.FEEDBACK_REFUSED, unit=MetricUnit.Count, value=len(received.refused))
        raise intake.refusal_error(received.accepted, received.refused)
    return {"accepted": received.accepted}


@app.exception_handler(Exception)
def unexpected_error(error: Exception) -> Response:
    # Still JSON in our error shape: a caller never has to parse two formats.
    logger.exception("unexpected error")
    body = {"error_code": "INTERNAL_ERROR", "message": "the request could not be served", "details": None}
    return Response(status_code=500, content_type=content_types.APPLICATION_JSON, body=body)


@app.exception_handler(MlrailsError)
def known_error(error: MlrailsError) -> Response:
    if error.status >= 500:
        logger.error("request failed", extra={"error": error.to_body()})
    else:
        logger.info("request rejected", extra={"error": error.to_body()})
    return Response(status_code=error.status, content_type=content_types.APPLICATION_JSON, body=error.to_body())


@app.not_found
def no_such_route(error: NotFoundError) -> Response:
    # Without it the catch-all above would turn an unknown path into a 500.
    return known_error(
        RouteNotFound(f"no route {app.current_event.http_method} {app.current_event.path}; see GET /openapi.json")
    )


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    return app.resolve(event, context)
