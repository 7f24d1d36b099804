"""CORS is off by default (no preflight route, no origins handed to the function); an
environment's ``cors_origins`` turns it on for exactly those origins. Synthesizing with the
origins set also runs cdk-nag on that variant (an unacknowledged finding fails the template)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from aws_cdk.assertions import Match, Template

from mlrails import openapi

ORIGINS = ["https://app.example.com", "https://admin.example.com"]


@pytest.fixture(scope="module")
def cors_template(dev_service_template: Callable[[dict[str, Any]], Template]) -> Template:
    return dev_service_template({"cors_origins": ORIGINS, "daily_quota": 5000})


def _inference_variables(template: Template) -> dict[str, Any]:
    [fn] = template.find_resources(
        "AWS::Lambda::Function", {"Properties": {"Description": "Serves the champion model behind the REST API"}}
    ).values()
    return fn["Properties"]["Environment"]["Variables"]


def test_cors_is_off_by_default(service_template: Template) -> None:
    assert not service_template.find_resources("AWS::ApiGateway::Method", {"Properties": {"HttpMethod": "OPTIONS"}})
    assert "MLRAILS_CORS_ORIGINS" not in _inference_variables(service_template)


def test_configured_origins_get_a_preflight_on_every_route_and_nothing_else(cors_template: Template) -> None:
    preflights = cors_template.find_resources("AWS::ApiGateway::Method", {"Properties": {"HttpMethod": "OPTIONS"}})
    # Each route of the scoring API and its root: labels come from back-end systems, so the
    # feedback API has no preflight.
    assert len(preflights) == len(openapi.SCORING_ROUTES) + 1
    for method in preflights.values():
        properties = method["Properties"]
        assert properties["Integration"]["Type"] == "MOCK"  # answered by API Gateway, never the function
        [response] = properties["Integration"]["IntegrationResponses"]
        allowed = response["ResponseParameters"]["method.response.header.Access-Control-Allow-Origin"]
        assert allowed == f"'{ORIGINS[0]}'"
        # The other origin is echoed by the response template only when it is the request's.
        assert ORIGINS[1] in response["ResponseTemplates"]["application/json"]
    assert _inference_variables(cors_template)["MLRAILS_CORS_ORIGINS"] == ",".join(ORIGINS)


def test_routes_keep_their_auth_with_cors_on_and_the_quota_is_configurable(cors_template: Template) -> None:
    routes = [
        m
        for m in cors_template.find_resources("AWS::ApiGateway::Method").values()
        if m["Properties"]["HttpMethod"] != "OPTIONS"
    ]
    assert len(routes) == len(openapi.ROUTES)
    assert all(m["Properties"]["ApiKeyRequired"] is True for m in routes)
    cors_template.has_resource_properties(
        "AWS::ApiGateway::UsagePlan",
        {
            "Quota": {"Limit": 5000, "Period": "DAY"},
            "Throttle": Match.object_like({"RateLimit": Match.any_value()}),
        },
    )
