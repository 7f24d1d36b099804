"""An environment with ``auth: iam``: SigV4 on every route, no API key or usage plan."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from aws_cdk.assertions import Template

from mlrails import openapi


@pytest.fixture(scope="module")
def iam_template(dev_service_template: Callable[[dict[str, Any]], Template]) -> Template:
    return dev_service_template({"auth": "iam", "alarm_email": "ops@example.com"})


def test_every_route_requires_iam_auth(iam_template: Template) -> None:
    iam_template.resource_count_is("AWS::ApiGateway::Method", len(openapi.ROUTES))  # /openapi.json included
    iam_template.all_resources_properties("AWS::ApiGateway::Method", {"AuthorizationType": "AWS_IAM"})
    methods = iam_template.find_resources("AWS::ApiGateway::Method").values()
    assert not any(method["Properties"].get("ApiKeyRequired") for method in methods)
    iam_template.resource_count_is("AWS::ApiGateway::ApiKey", 0)
    iam_template.resource_count_is("AWS::ApiGateway::UsagePlan", 0)


def test_alarm_email_subscribes_to_the_topic(iam_template: Template) -> None:
    iam_template.has_resource_properties(
        "AWS::SNS::Subscription",
        {
            "Protocol": "email",
            "Endpoint": "ops@example.com",
        },
    )
