"""The OpenAPI document the inference function serves (behind the API's auth, like every
route), kept in step with the routes it answers; CORS headers only for configured origins."""

from __future__ import annotations

import base64
import copy
import json

import pytest

from mlrails import openapi
from mlrails.serving.protocol import FORMATS
from support.aws import api_call, api_event
from support.samples import load_event

ALLOWED = "https://app.example.com"


def routed(path: str, method: str) -> dict:
    """A sample API event for another route."""
    event = copy.deepcopy(load_event("inference_ping" if method == "GET" else "inference_feedback"))
    event["path"] = event["resource"] = event["requestContext"]["resourcePath"] = path
    event["httpMethod"] = event["requestContext"]["httpMethod"] = method
    return event


def with_origin(event: dict, origin: str) -> dict:
    event["headers"]["Origin"] = origin
    event["multiValueHeaders"]["Origin"] = [origin]
    return event


def test_the_document_describes_every_route_the_function_answers(cloud, handler, lambda_context):
    inference = handler("inference")

    status, document = api_call(inference, load_event("inference_openapi"), lambda_context)

    assert status == 200 and document["openapi"].startswith("3.")
    documented = {(path, method.upper()) for path, operations in document["paths"].items() for method in operations}
    assert documented == set(openapi.ROUTES)
    for path, method in openapi.ROUTES:  # answered by a route of the handler, whatever the status
        response = inference.lambda_handler(routed(path, method), lambda_context)
        assert response["statusCode"] != 404, (path, method)
    status, error = api_call(inference, routed("/docs", "GET"), lambda_context)  # no Swagger UI
    assert status == 404 and error["error_code"] == "NOT_FOUND"


def test_the_document_names_the_project_features_formats_and_auth(cfg, cloud, handler, lambda_context):
    document = api_call(handler("inference"), load_event("inference_openapi"), lambda_context)[1]

    row = document["components"]["schemas"]["Row"]
    assert set(row["properties"]) == set(cfg.dataset.feature_names)
    body = document["paths"]["/invocations"]["post"]["requestBody"]["content"]
    assert {next(iter(shape["required"])) for shape in body["application/json"]["schema"]["oneOf"]} == set(FORMATS)
    assert "text/csv" in body
    assert set(document["components"]["securitySchemes"]) == {"apiKey", "sigv4"}
    assert {"400", "413", "415", "503"} <= set(document["paths"]["/invocations"]["post"]["responses"])
    # /feedback: its own credential (403 otherwise) and per-item refusals (422).
    answers = document["paths"]["/feedback"]["post"]["responses"]
    assert {"400", "403", "413", "422"} <= set(answers)
    assert answers["422"]["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/FeedbackRefused"}
    refused = document["components"]["schemas"]["FeedbackRefused"]["properties"]["details"]["properties"]["refused"]
    assert refused["items"]["properties"]["reason"]["enum"] == ["UNKNOWN_PREDICTION_ID", "LABEL_OUT_OF_DOMAIN"]


def test_no_cors_headers_unless_origins_are_configured(cloud, handler, lambda_context):
    inference = handler("inference")

    response = inference.lambda_handler(with_origin(load_event("inference_ping"), ALLOWED), lambda_context)

    assert response["statusCode"] == 200
    assert not any(name.lower().startswith("access-control") for name in response["multiValueHeaders"])


@pytest.mark.parametrize("origin, allowed", [(ALLOWED, True), ("https://elsewhere.example.com", False)])
def test_configured_origins_get_cors_headers_on_answers_and_errors(
    origin, allowed, cloud, handler, monkeypatch, lambda_context
):
    monkeypatch.setenv("MLRAILS_CORS_ORIGINS", f"{ALLOWED},https://admin.example.com")
    inference = handler("inference")
    bad = api_event("inference_feedback", body={"items": []})

    for event, status in ((load_event("inference_ping"), 200), (bad, 400)):
        response = inference.lambda_handler(with_origin(event, origin), lambda_context)
        assert response["statusCode"] == status
        headers = response["multiValueHeaders"]
        assert headers.get("Access-Control-Allow-Origin") == ([origin] if allowed else None)
        body = response["body"]
        answer = json.loads(base64.b64decode(body) if response.get("isBase64Encoded") else body)
        assert answer  # the body is the route's answer or the error shape either way
