"""The Service stack: functions, REST API, routes, schedules (alarms and the dashboard:
test_monitoring.py)."""

from __future__ import annotations

import json

import pytest
from aws_cdk import App
from aws_cdk.assertions import Match, Template

from infra.stage import MlrailsStage
from mlrails import openapi, wiring
from mlrails.config import ProjectConfig


def test_every_function_but_train_and_batch_is_zip_on_python_312(service_template: Template) -> None:
    zip_specs = [spec for spec in wiring.FUNCTIONS if spec.packaging == "zip"]
    image_specs = [spec for spec in wiring.FUNCTIONS if spec.packaging == "image"]
    assert [spec.name for spec in image_specs] == [wiring.TRAINING.function, "batch"]
    descriptions = sorted(
        fn["Properties"].get("Description", "")
        for fn in service_template.find_resources("AWS::Lambda::Function").values()
    )
    # The pipeline functions, and nothing else in this stack.
    assert descriptions == sorted(spec.description for spec in wiring.FUNCTIONS)
    for spec in zip_specs:
        service_template.has_resource_properties(
            "AWS::Lambda::Function",
            {
                "Description": spec.description,
                "Runtime": "python3.12",
                "Handler": "handler.lambda_handler",
                "Architectures": ["x86_64"],
                "TracingConfig": {"Mode": "Active"},
                "Layers": Match.any_value() if spec.layers else Match.absent(),
                "Environment": {
                    "Variables": Match.object_like(
                        {
                            "POWERTOOLS_SERVICE_NAME": spec.service_name,
                            "MLRAILS_CONFIG_URI": Match.any_value(),
                        }
                    )
                },
            },
        )
    train = wiring.function("train")
    # In the VPC: the role may manage the function's network interfaces.
    service_template.has_resource_properties(
        "AWS::IAM::Policy",
        {
            "PolicyDocument": {
                "Statement": Match.array_with(
                    [
                        Match.object_like(
                            {
                                "Action": Match.array_with(
                                    ["ec2:CreateNetworkInterface", "ec2:DeleteNetworkInterface"]
                                ),
                            }
                        )
                    ]
                )
            },
        },
    )
    service_template.has_resource_properties(
        "AWS::Lambda::Function",
        {
            "Description": train.description,
            "PackageType": "Image",
            "MemorySize": train.memory_mb,
            "Timeout": train.timeout_seconds,
            "VpcConfig": {"SubnetIds": Match.any_value(), "SecurityGroupIds": Match.any_value()},
            "Environment": {
                "Variables": Match.object_like(
                    {
                        "MLFLOW_TRACKING_URI": Match.string_like_regexp(r"^http://mlflow\..+:5000$"),
                    }
                )
            },
        },
    )


def test_every_layer_is_built_for_python_312(service_template: Template) -> None:
    service_template.resource_count_is("AWS::Lambda::LayerVersion", 3)
    service_template.all_resources_properties(
        "AWS::Lambda::LayerVersion",
        {
            "CompatibleRuntimes": ["python3.12"],
        },
    )


def test_inference_has_the_environment_memory_and_snapstart_only_when_asked(
    service_template: Template, cfg: ProjectConfig, dev_service_template
) -> None:
    inference = wiring.function("inference")
    service_template.has_resource_properties(
        "AWS::Lambda::Function",
        {
            "Description": inference.description,
            "MemorySize": cfg.environments["dev"].inference_memory_mb,
            "SnapStart": Match.absent(),  # its cache is billed idle: off by default (docs/cost.md)
        },
    )
    service_template.has_resource_properties("AWS::Lambda::Alias", {"Name": "live"})
    dev_service_template({"snapstart": True}).has_resource_properties(
        "AWS::Lambda::Function", {"Description": inference.description, "SnapStart": {"ApplyOn": "PublishedVersions"}}
    )


def test_asynchronous_functions_retry_then_dead_letter(service_template: Template) -> None:
    asynchronous = [spec for spec in wiring.FUNCTIONS if spec.asynchronous]
    service_template.resource_count_is("AWS::Lambda::EventInvokeConfig", len(asynchronous))
    service_template.all_resources_properties(
        "AWS::Lambda::EventInvokeConfig",
        {
            "MaximumRetryAttempts": 2,
            "DestinationConfig": {"OnFailure": {"Destination": Match.any_value()}},
        },
    )
    service_template.resource_count_is("AWS::SQS::Queue", len(asynchronous))
    service_template.all_resources_properties("AWS::SQS::Queue", {"SqsManagedSseEnabled": True})


def test_event_and_schedule_targets_are_asynchronous() -> None:
    """What EventBridge or the scheduler invokes gets retries and a dead-letter queue."""
    targets = {route.target for route in wiring.ROUTES} | {spec.target for spec in wiring.SCHEDULES}
    assert all(wiring.function(name).asynchronous for name in targets), targets


def test_rest_api_routes_require_an_api_key(service_template: Template) -> None:
    for path, method in openapi.ROUTES:  # /openapi.json too: the document is behind the same key
        service_template.has_resource_properties("AWS::ApiGateway::Resource", {"PathPart": path.removeprefix("/")})
        service_template.has_resource_properties(
            "AWS::ApiGateway::Method",
            {
                "HttpMethod": method,
                "ApiKeyRequired": True,
                "RequestValidatorId": Match.any_value(),
                "Integration": {"Type": "AWS_PROXY", "Uri": Match.any_value()},
            },
        )
    service_template.resource_count_is("AWS::ApiGateway::Method", len(openapi.ROUTES))  # no OPTIONS: CORS off
    service_template.has_resource_properties(
        "AWS::ApiGateway::RequestValidator",
        {
            "ValidateRequestBody": True,
            "ValidateRequestParameters": True,
        },
    )


def test_api_gateway_checks_only_that_a_json_body_is_json(service_template: Template) -> None:
    """The function validates requests and answers in the API's error shape; API Gateway's
    validator (kept for cdk-nag APIG2) only refuses a body that is not JSON at all."""
    service_template.resource_count_is("AWS::ApiGateway::Model", 2)  # one per API: scoring and feedback
    service_template.has_resource_properties(
        "AWS::ApiGateway::Model",
        {
            "ContentType": "application/json",
            "Schema": {"$schema": "http://json-schema.org/draft-04/schema#"},  # no type, properties, required
        },
    )
    posts = service_template.find_resources("AWS::ApiGateway::Method", {"Properties": {"HttpMethod": "POST"}})
    assert len(posts) == 2
    assert all(set(m["Properties"]["RequestModels"]) == {"application/json"} for m in posts.values())


# What API Gateway substitutes into a gateway response, for rendering the templates here:
# ``messageString`` and ``validationErrorString`` are JSON strings, quotes included.
GATEWAY_CONTEXT = {
    "$context.error.messageString": json.dumps('Invalid request body: "x" is not JSON'),
    "$context.error.validationErrorString": json.dumps('[Invalid JSON: Unexpected character ("x")]'),
}
# Response type -> error code; the two defaults name the actual type.
GATEWAY_ERROR_CODES = {
    "BAD_REQUEST_BODY": "BAD_REQUEST",
    "BAD_REQUEST_PARAMETERS": "BAD_REQUEST",
    "MISSING_AUTHENTICATION_TOKEN": "MISSING_AUTHENTICATION_TOKEN",
    "INVALID_API_KEY": "INVALID_API_KEY",
    "ACCESS_DENIED": "ACCESS_DENIED",
    "THROTTLED": "THROTTLED",
    "QUOTA_EXCEEDED": "QUOTA_EXCEEDED",
    "REQUEST_TOO_LARGE": "PAYLOAD_TOO_LARGE",
    "UNSUPPORTED_MEDIA_TYPE": "UNSUPPORTED_MEDIA_TYPE",
    "DEFAULT_4XX": "RESOURCE_NOT_FOUND",
    "DEFAULT_5XX": "INTEGRATION_TIMEOUT",
}


@pytest.mark.parametrize("response_type", sorted(GATEWAY_ERROR_CODES))
def test_api_gateway_errors_have_the_api_error_shape(service_template: Template, response_type: str) -> None:
    responses = [
        r["Properties"]
        for r in service_template.find_resources("AWS::ApiGateway::GatewayResponse").values()
        if r["Properties"]["ResponseType"] == response_type
    ]
    # One on each API (scoring and feedback), the same.
    apis = {json.dumps(r["RestApiId"]) for r in responses}
    assert len(responses) == len(apis) == 2, f"no gateway response for {response_type} on each API"
    assert all(
        {k: v for k, v in r.items() if k != "RestApiId"} == {k: v for k, v in responses[0].items() if k != "RestApiId"}
        for r in responses
    )
    response = responses[0]
    retry = {"gatewayresponse.header.Retry-After": "'10'"} if response_type == "DEFAULT_5XX" else {}
    assert response["ResponseParameters"] == {"gatewayresponse.header.Content-Type": "'application/json'", **retry}
    assert "StatusCode" not in response  # API Gateway's own status (403, 429, 413...) stays
    template = response["ResponseTemplates"]["application/json"]
    # The defaults stand for many types: rendered here as one of them.
    context = {**GATEWAY_CONTEXT, "$context.error.responseType": GATEWAY_ERROR_CODES[response_type]}
    for variable, value in sorted(context.items(), key=lambda item: -len(item[0])):
        template = template.replace(variable, value)
    assert "$" not in template, template
    body = json.loads(template)
    assert set(body) == {"error_code", "message", "details"}
    assert body["error_code"] == GATEWAY_ERROR_CODES[response_type]
    assert body["message"] == 'Invalid request body: "x" is not JSON'
    if response_type.startswith("BAD_REQUEST"):
        assert body["details"] == {"validation": '[Invalid JSON: Unexpected character ("x")]'}
    else:
        assert body["details"] is None


def test_an_inactive_snapstart_version_is_answered_with_a_retry_hint(service_template: Template) -> None:
    """The inference function serves from a version behind the alias (a SnapStart one where an
    environment asks: when that version went Inactive, Lambda refuses the invocation until its
    new snapshot is ready and API Gateway answers 500, a gateway response, DEFAULT_5XX): the
    client is told to retry. No schedule invokes the function to keep it warm."""
    inference = wiring.function("inference").description
    service_template.has_resource_properties("AWS::Lambda::Alias", {"Name": "live"})
    service_template.has_resource_properties(
        "AWS::ApiGateway::GatewayResponse",
        {
            "ResponseType": "DEFAULT_5XX",
            "ResponseParameters": Match.object_like({"gatewayresponse.header.Retry-After": "'10'"}),
        },
    )
    serving = set(service_template.find_resources("AWS::Lambda::Alias")) | set(
        service_template.find_resources("AWS::Lambda::Function", {"Properties": {"Description": inference}})
    )
    for schedule in service_template.find_resources("AWS::Scheduler::Schedule").values():
        target = json.dumps(schedule["Properties"]["Target"])
        assert not any(f'"{logical_id}"' in target for logical_id in serving), "a keep-warm schedule"


def test_usage_plan_throttles_and_limits_a_quota(service_template: Template, cfg: ProjectConfig) -> None:
    env = cfg.environments["dev"]
    service_template.has_resource_properties(
        "AWS::ApiGateway::UsagePlan",
        {
            "Throttle": {"RateLimit": env.throttle_rate, "BurstLimit": env.throttle_burst},
            "Quota": {"Limit": Match.any_value(), "Period": "DAY"},
            "ApiStages": [Match.object_like({"Stage": Match.any_value()})],
        },
    )
    # And the feedback API's plan and key (test_feedback_api.py).
    service_template.resource_count_is("AWS::ApiGateway::ApiKey", 2)
    service_template.resource_count_is("AWS::ApiGateway::UsagePlanKey", 2)


def test_stage_throttles_logs_access_and_traces(service_template: Template, cfg: ProjectConfig) -> None:
    env = cfg.environments["dev"]
    service_template.has_resource_properties(
        "AWS::ApiGateway::Stage",
        {
            "TracingEnabled": True,
            "AccessLogSetting": {"DestinationArn": Match.any_value(), "Format": Match.any_value()},
            "MethodSettings": Match.array_with(
                [
                    Match.object_like(
                        {
                            "HttpMethod": "*",
                            "ResourcePath": "/*",
                            "ThrottlingRateLimit": env.throttle_rate,
                            "ThrottlingBurstLimit": env.throttle_burst,
                        }
                    )
                ]
            ),
        },
    )


def test_prod_stage_uses_its_own_throttle(app: App) -> None:
    prod = Template.from_stack(stage_of(app, "prod").service)
    prod.has_resource_properties("AWS::ApiGateway::UsagePlan", {"Throttle": {"RateLimit": 200, "BurstLimit": 400}})
    prod.has_resource_properties(
        "AWS::Lambda::Function",
        {
            "Description": wiring.function("inference").description,
            "MemorySize": 2048,
        },
    )


def test_schedules_follow_the_config(service_template: Template, cfg: ProjectConfig) -> None:
    enabled = [spec for spec in wiring.SCHEDULES if spec.enabled(cfg)]
    service_template.resource_count_is("AWS::Scheduler::Schedule", len(enabled))
    for spec in enabled:
        service_template.has_resource_properties(
            "AWS::Scheduler::Schedule",
            {
                "ScheduleExpression": spec.expression(cfg),
                "State": "ENABLED",
                "Target": Match.object_like(
                    {
                        "Input": Match.serialized_json(dict(spec.payload)),
                        "DeadLetterConfig": {"Arn": Match.any_value()},
                        "RetryPolicy": Match.object_like({"MaximumRetryAttempts": 3}),
                    }
                ),
            },
        )
    assert {s.expression(cfg) for s in enabled} == {"rate(1 day)", "rate(7 days)", "rate(1 hour)"}


def test_raw_uploads_route_to_feature_prep(service_template: Template) -> None:
    service_template.has_resource_properties(
        "AWS::Events::Rule",
        {
            "EventPattern": {
                "source": ["aws.s3"],
                "detail-type": ["Object Created"],
                "detail": {"bucket": {"name": [Match.any_value()]}, "object": {"key": [{"prefix": "raw/"}]}},
            },
            "Targets": [
                Match.object_like(
                    {
                        "Arn": Match.any_value(),
                        "DeadLetterConfig": {"Arn": Match.any_value()},
                        "RetryPolicy": Match.object_like({"MaximumRetryAttempts": 3}),
                    }
                )
            ],
        },
    )
    # The default bus: no EventBusName on the S3 rules (raw/ files and the outbox's events).
    s3_rules = service_template.find_resources(
        "AWS::Events::Rule", {"Properties": {"EventPattern": {"source": ["aws.s3"]}}}
    )
    assert [rule["Properties"].get("EventBusName") for rule in s3_rules.values()] == [None, None]


def _function(template: Template, name: str) -> tuple[str, dict]:
    """The logical id and properties of the function ``name`` (found by its description)."""
    ((logical_id, found),) = [
        (logical_id, fn["Properties"])
        for logical_id, fn in template.find_resources("AWS::Lambda::Function").items()
        if fn["Properties"].get("Description") == wiring.function(name).description
    ]
    return logical_id, found


def test_outbox_objects_route_to_the_relay_outside_the_vpc(service_template: Template) -> None:
    """The train function, in the isolated subnets, leaves its events in the artifacts bucket's
    outbox/; S3's Object Created (default bus) invokes the relay, which needs no VPC to reach
    EventBridge."""
    relay_id, relay = _function(service_template, "event_relay")
    assert "VpcConfig" not in relay and relay["MemorySize"] <= 256
    assert "MLRAILS_EVENTS_OUTBOX" not in relay["Environment"]["Variables"]  # it publishes straight to the bus
    _, train = _function(service_template, "train")
    assert "VpcConfig" in train
    assert "ArtifactsBucket" in json.dumps(train["Environment"]["Variables"]["MLRAILS_EVENTS_OUTBOX"])
    (rule,) = [
        rule["Properties"]
        for rule in service_template.find_resources("AWS::Events::Rule").values()
        if rule["Properties"]["Targets"][0]["Arn"] == {"Fn::GetAtt": [relay_id, "Arn"]}
    ]
    pattern = rule["EventPattern"]
    assert "EventBusName" not in rule
    assert (pattern["source"], pattern["detail-type"]) == (["aws.s3"], ["Object Created"])
    assert pattern["detail"]["object"] == {"key": [{"prefix": "outbox/"}]}
    (bucket,) = pattern["detail"]["bucket"]["name"]
    assert "ArtifactsBucket" in json.dumps(bucket)
    (target,) = rule["Targets"]
    assert target["RetryPolicy"]["MaximumRetryAttempts"] == 3 and "DeadLetterConfig" in target


def test_drift_detected_routes_to_retrain_trigger_on_the_project_bus(service_template: Template) -> None:
    service_template.has_resource_properties(
        "AWS::Events::Rule",
        {
            "EventBusName": Match.any_value(),
            "EventPattern": {"source": ["mlrails"], "detail-type": ["DriftDetected"]},
            "Targets": [Match.object_like({"DeadLetterConfig": {"Arn": Match.any_value()}})],
        },
    )
    service_template.resource_count_is("AWS::Events::Rule", len(wiring.ROUTES))


def stage_of(app: App, name: str) -> MlrailsStage:
    stage = app.node.find_child(name)
    assert isinstance(stage, MlrailsStage)
    return stage
