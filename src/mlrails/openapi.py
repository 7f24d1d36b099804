"""The inference API's OpenAPI document: every route, body, answer and error, with the
project's own feature columns. Served at ``GET /openapi.json`` by the inference function, so it
sits behind the same API key or IAM auth as every other route (no public Swagger UI).

:data:`ROUTES` is the one list of routes: the CDK app creates exactly these API Gateway
methods, and a test calls each through the handler. :data:`FEEDBACK_ROUTES` are served by an
API of their own, with its own credential (labels are what the promotion gate and the
performance check believe): the scoring API has the others, :data:`SCORING_ROUTES`.
"""

from __future__ import annotations

from typing import Any

from mlrails.config import ProjectConfig
from mlrails.feedback.intake import LABEL_OUT_OF_DOMAIN, MAX_ITEMS, UNKNOWN_PREDICTION_ID
from mlrails.serving.protocol import MAX_BODY_BYTES, MAX_ROWS

ROUTES: tuple[tuple[str, str], ...] = (
    ("/invocations", "POST"),
    ("/feedback", "POST"),
    ("/ping", "GET"),
    ("/version", "GET"),
    ("/openapi.json", "GET"),
)
FEEDBACK_ROUTES: tuple[tuple[str, str], ...] = (("/feedback", "POST"),)
SCORING_ROUTES = tuple(route for route in ROUTES if route not in FEEDBACK_ROUTES)

_ERROR = {"$ref": "#/components/schemas/Error"}


def _json(schema: dict[str, Any]) -> dict[str, Any]:
    return {"application/json": {"schema": schema}}


def _errors(*statuses: int) -> dict[str, Any]:
    meaning = {
        400: "Malformed input; `details` names the column and row (or the feedback item)",
        403: "Missing or invalid API key, or a request IAM does not allow (answered by API Gateway)",
        422: "Some feedback items were refused (FEEDBACK_REFUSED); the others were stored",
        413: f"Body over {MAX_BODY_BYTES:,} bytes",
        415: "Content type other than application/json (or text/csv for /invocations)",
        429: "Throttled, or the API key's daily quota is used up (answered by API Gateway)",
        503: "No model promoted yet (MODEL_NOT_READY)",
    }
    return {
        str(status): {
            "description": meaning[status],
            "content": _json({"$ref": "#/components/schemas/FeedbackRefused"} if status == 422 else _ERROR),
        }
        for status in statuses
    }


def _row_schema(cfg: ProjectConfig) -> dict[str, Any]:
    properties = {
        f.name: {"type": "number" if f.type == "numeric" else "string", "nullable": f.nullable}
        for f in cfg.dataset.features
    }
    return {
        "type": "object",
        "properties": properties,
        "required": [f.name for f in cfg.dataset.features],
        "additionalProperties": False,
    }


def _invocations_body(cfg: ProjectConfig) -> dict[str, Any]:
    rows = {"type": "array", "items": {"$ref": "#/components/schemas/Row"}, "maxItems": MAX_ROWS}
    values = {"type": "array", "items": {"type": "array", "items": {}}, "maxItems": MAX_ROWS}
    columns = {"type": "array", "items": {"type": "string", "enum": cfg.dataset.feature_names}}
    shapes = {
        "dataframe_split": {
            "type": "object",
            "required": ["columns", "data"],
            "properties": {"columns": columns, "data": values, "index": {"type": "array"}},
        },
        "dataframe_records": rows,
        "instances": rows,
        "inputs": {"oneOf": [rows, {"type": "object", "additionalProperties": {"type": "array"}}]},
    }
    params = {
        "type": "object",
        "properties": {
            "probabilities": {"type": "boolean", "description": "Add each row's class probabilities to the answer"}
        },
    }
    return {
        "oneOf": [
            {
                "type": "object",
                "required": [name],
                "properties": {name: shape, "params": params},
                "additionalProperties": False,
            }
            for name, shape in shapes.items()
        ]
    }


def document(cfg: ProjectConfig, kit_version: str) -> dict[str, Any]:
    """The OpenAPI 3.0 document of ``cfg``'s inference API."""
    prediction = {
        "type": "object",
        "required": ["predictions", "prediction_ids", "model_name", "model_version"],
        "properties": {
            "predictions": {"type": "array", "items": {}},
            "prediction_ids": {
                "type": "array",
                "items": {"type": "string"},
                "description": "One per row: what POST /feedback refers to",
            },
            "model_name": {"type": "string"},
            "model_version": {"type": "string"},
            "probabilities": {"type": "array", "items": {"type": "object", "additionalProperties": {"type": "number"}}},
        },
    }
    label = {
        "type": "object",
        "required": ["prediction_id", "label"],
        "additionalProperties": False,
        "properties": {
            "prediction_id": {"type": "string", "minLength": 1},
            "label": {"oneOf": [{"type": "number"}, {"type": "string"}, {"type": "boolean"}]},
        },
    }
    paths = {
        "/invocations": {
            "post": {
                "summary": f"Score up to {MAX_ROWS:,} rows with the champion model",
                "description": "MLflow's scoring formats (application/json), or text/csv with a header row. "
                "A configured sample of requests is captured for monitoring.",
                "requestBody": {
                    "required": True,
                    "content": {
                        **_json(_invocations_body(cfg)),
                        "text/csv": {"schema": {"type": "string", "description": "A header row naming the features"}},
                    },
                },
                "responses": {
                    "200": {
                        "description": "One prediction and one prediction id per row",
                        "content": _json(prediction),
                    },
                    **_errors(400, 403, 413, 415, 429, 503),
                },
            }
        },
        "/feedback": {
            "post": {
                "summary": "Ground truth for earlier predictions, by prediction id",
                "description": "Served by the feedback API: its own URL (the FeedbackUrl output) and its own "
                "credential (the feedback usage plan's key, or IAM with the feedback policy); the "
                "scoring credential is refused (403). Each item is checked: the prediction_id must "
                'be one this service issued, the label one of the serving model\'s classes ("1" '
                "names the class 1) or, for a regression, a finite number. All accepted: 200; "
                "otherwise 422 listing each refused item, the accepted ones stored all the same.",
                "requestBody": {
                    "required": True,
                    "content": _json(
                        {
                            "oneOf": [
                                label,
                                {
                                    "type": "object",
                                    "required": ["items"],
                                    "additionalProperties": False,
                                    "properties": {
                                        "items": {"type": "array", "items": label, "minItems": 1, "maxItems": MAX_ITEMS}
                                    },
                                },
                            ]
                        }
                    ),
                },
                "responses": {
                    "200": {
                        "description": "Every label stored",
                        "content": _json({"type": "object", "properties": {"accepted": {"type": "integer"}}}),
                    },
                    **_errors(400, 403, 413, 415, 422, 429, 503),
                },
            }
        },
        "/ping": {
            "get": {
                "summary": "Liveness",
                "responses": {
                    "200": {
                        "description": "Up",
                        "content": _json(
                            {"type": "object", "properties": {"status": {"type": "string", "enum": ["ok"]}}}
                        ),
                    },
                    **_errors(403, 429),
                },
            }
        },
        "/version": {
            "get": {
                "summary": "The serving champion",
                "responses": {
                    "200": {
                        "description": (
                            "Model name, version, run id, trained/promoted at, "
                            "the release lock's sha256 (or null), kit version"
                        ),
                        "content": _json(
                            {"type": "object", "additionalProperties": {"type": "string", "nullable": True}}
                        ),
                    },
                    **_errors(403, 429, 503),
                },
            }
        },
        "/openapi.json": {
            "get": {
                "summary": "This document",
                "responses": {
                    "200": {"description": "OpenAPI 3.0", "content": _json({"type": "object"})},
                    **_errors(403, 429),
                },
            }
        },
    }
    return {
        "openapi": "3.0.3",
        "info": {"title": f"mlrails {cfg.project}: {cfg.model.name} inference", "version": kit_version},
        # The environment's `auth` setting decides which one applies.
        "security": [{"apiKey": []}, {"sigv4": []}],
        "paths": paths,
        "components": {
            "securitySchemes": {
                "apiKey": {
                    "type": "apiKey",
                    "in": "header",
                    "name": "x-api-key",
                    "description": "`auth: api_key` (default): a key of the API's usage plan",
                },
                "sigv4": {
                    "type": "apiKey",
                    "in": "header",
                    "name": "Authorization",
                    "x-amazon-apigateway-authtype": "awsSigv4",
                    "description": "`auth: iam`: requests signed with AWS Signature Version 4",
                },
            },
            "schemas": {
                "Row": _row_schema(cfg),
                "Error": {
                    "type": "object",
                    "required": ["error_code", "message", "details"],
                    "properties": {
                        "error_code": {"type": "string"},
                        "message": {"type": "string"},
                        "details": {"type": "object", "nullable": True},
                    },
                },
                "FeedbackRefused": {
                    "type": "object",
                    "required": ["error_code", "message", "details"],
                    "properties": {
                        "error_code": {"type": "string", "enum": ["FEEDBACK_REFUSED"]},
                        "message": {"type": "string"},
                        "details": {
                            "type": "object",
                            "required": ["accepted", "refused"],
                            "properties": {
                                "accepted": {"type": "integer", "description": "Items stored"},
                                "refused": {
                                    "type": "array",
                                    "items": {
                                        "type": "object",
                                        "required": ["item", "reason", "message"],
                                        "properties": {
                                            "item": {"type": "integer", "description": "Index in the request's items"},
                                            "reason": {
                                                "type": "string",
                                                "enum": [UNKNOWN_PREDICTION_ID, LABEL_OUT_OF_DOMAIN],
                                            },
                                            "message": {"type": "string"},
                                        },
                                    },
                                },
                            },
                        },
                    },
                },
            },
        },
    }
