"""The inference function behind an API Gateway REST API.

Routes: those of :data:`mlrails.openapi.ROUTES` (``POST /invocations``, ``POST /feedback``,
``GET /ping``, ``GET /version``, ``GET /openapi.json``), every one behind the same auth: an
API key + usage plan (throttle and daily quota) by default, IAM when the environment says
``auth: iam``. CORS is off unless the environment lists ``cors_origins``: then API Gateway
answers the preflight for those origins and the function adds the response headers. The
stage throttles, logs access as JSON, and traces with X-Ray. The function
serves from a SnapStart-enabled published version through the ``live`` alias.
"""

from __future__ import annotations

from aws_cdk import Annotations, CfnOutput, Duration
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct

from infra.constructs.pipeline_function import FunctionContext, PipelineFunction
from infra.nag import acknowledge
from mlrails import openapi, wiring
from mlrails.config import Environment

STAGE_NAME = "v1"
ALIAS_NAME = "live"

# Errors API Gateway answers itself (before or instead of the function) in the API's error
# shape, ``{"error_code", "message", "details"}``: response type -> error code, and whether
# the details carry API Gateway's validation message. The codes match mlrails.errors where
# the same error exists there (BAD_REQUEST, PAYLOAD_TOO_LARGE, UNSUPPORTED_MEDIA_TYPE).
GATEWAY_ERRORS: dict[apigw.ResponseType, tuple[str, bool]] = {
    apigw.ResponseType.BAD_REQUEST_BODY: ("BAD_REQUEST", True),
    apigw.ResponseType.BAD_REQUEST_PARAMETERS: ("BAD_REQUEST", True),
    apigw.ResponseType.MISSING_AUTHENTICATION_TOKEN: ("MISSING_AUTHENTICATION_TOKEN", False),
    apigw.ResponseType.INVALID_API_KEY: ("INVALID_API_KEY", False),
    apigw.ResponseType.ACCESS_DENIED: ("ACCESS_DENIED", False),
    apigw.ResponseType.THROTTLED: ("THROTTLED", False),
    apigw.ResponseType.QUOTA_EXCEEDED: ("QUOTA_EXCEEDED", False),
    apigw.ResponseType.REQUEST_TOO_LARGE: ("PAYLOAD_TOO_LARGE", False),
    apigw.ResponseType.UNSUPPORTED_MEDIA_TYPE: ("UNSUPPORTED_MEDIA_TYPE", False),
    # Every other type: its own name (RESOURCE_NOT_FOUND, INTEGRATION_TIMEOUT, ...).
    apigw.ResponseType.DEFAULT_4_XX: ("$context.error.responseType", False),
    apigw.ResponseType.DEFAULT_5_XX: ("$context.error.responseType", False),
}


# A SnapStart version that went 14 days without an invocation (or whose environment Lambda
# recycled) is Inactive: Lambda refuses the next invocation (SnapStartNotReadyException) while
# it makes a new snapshot, and API Gateway, which never retries, answers 500. AWS's documented
# handling is to wait until the version is Active and invoke again, so API Gateway's own 5xx
# answers (a refused invocation, a throttle, a timeout; never the function's answers) tell the
# client when to retry. A keep-warm schedule would cost invocations and hide the failure.
RETRY_AFTER_SECONDS = 10
# By name: each access to a ResponseType constant is a new object. INTEGRATION_FAILURE and
# INTEGRATION_TIMEOUT, not configured here, fall back to DEFAULT_5XX.
RETRYABLE = {apigw.ResponseType.DEFAULT_5_XX.response_type}


def gateway_error_template(error_code: str, *, validation: bool) -> str:
    """The body of a gateway response. These templates are not VTL, only variable
    substitution: ``messageString`` and ``validationErrorString`` are already quoted JSON
    strings (``$context.error.message`` is not, and breaks on a quote)."""
    details = '{"validation": $context.error.validationErrorString}' if validation else "null"
    return f'{{"error_code": "{error_code}", "message": $context.error.messageString, "details": {details}}}'


class InferenceApi(Construct):
    """``handler`` (the function), ``alias``, ``api`` and, with API-key auth, ``api_key``."""

    def __init__(self, scope: Construct, construct_id: str, *, context: FunctionContext,
                 environment: Environment) -> None:
        super().__init__(scope, construct_id)
        self.handler = PipelineFunction(
            self, "Handler", spec=wiring.inference_function(context.cfg), context=context,
            memory_mb=environment.inference_memory_mb, snap_start=True,
        )
        Annotations.of(self.handler.function).acknowledge_warning(
            "@aws-cdk/aws-lambda:snapStartRequirePublish",
            "SnapStart applies to the published version behind the alias, which is what API Gateway invokes.",
        )
        self.alias = lambda_.Alias(self, "Live", alias_name=ALIAS_NAME, version=self.handler.function.current_version)

        iam_auth = environment.auth == "iam"
        access_logs = logs.LogGroup(self, "AccessLogs", retention=context.log_retention)
        self.api = apigw.RestApi(
            self, "Api",
            # API Gateway's metrics are keyed by API name (default: the construct id, the same in
            # every environment): a distinct name keeps each environment's alarms and dashboard
            # to its own traffic.
            rest_api_name=f"mlrails-{context.cfg.project}-{context.environment_name}",
            description=f"mlrails {context.cfg.project} ({context.environment_name}): model inference",
            endpoint_types=[apigw.EndpointType.REGIONAL],
            cloud_watch_role=False,
            deploy_options=apigw.StageOptions(
                stage_name=STAGE_NAME,
                throttling_rate_limit=environment.throttle_rate,
                throttling_burst_limit=environment.throttle_burst,
                access_log_destination=apigw.LogGroupLogDestination(access_logs),
                access_log_format=apigw.AccessLogFormat.json_with_standard_fields(
                    caller=True, http_method=True, ip=True, protocol=True, request_time=True,
                    resource_path=True, response_length=True, status=True, user=True,
                ),
                tracing_enabled=True,
            ),
            default_cors_preflight_options=apigw.CorsOptions(
                allow_origins=environment.cors_origins, allow_methods=["GET", "POST", "OPTIONS"],
                allow_headers=apigw.Cors.DEFAULT_HEADERS, max_age=Duration.minutes(10),
            ) if environment.cors_origins else None,
            default_method_options=apigw.MethodOptions(
                authorization_type=apigw.AuthorizationType.IAM if iam_auth else apigw.AuthorizationType.NONE,
                api_key_required=not iam_auth,
            ),
        )
        # The function validates requests (mlrails.protocol) and answers in the API's error shape:
        # API Gateway's validator, which cdk-nag (APIG2) wants, checks only that a JSON body is
        # JSON. The empty schema accepts any JSON value.
        validator = self.api.add_request_validator(
            "RequestValidator", validate_request_body=True, validate_request_parameters=True)
        any_json = self.api.add_model(
            "AnyJson", content_type="application/json", description="Any JSON document",
            schema=apigw.JsonSchema(schema=apigw.JsonSchemaVersion.DRAFT4),
        )
        integration = apigw.LambdaIntegration(self.alias)
        for path, method in openapi.ROUTES:
            self.api.root.add_resource(path.removeprefix("/")).add_method(
                method, integration, request_validator=validator,
                request_models={"application/json": any_json} if method == "POST" else None,
            )
        for response_type, (error_code, validation) in GATEWAY_ERRORS.items():
            self.api.add_gateway_response(
                response_type.response_type, type=response_type,
                response_headers={"Content-Type": "'application/json'",
                                  **({"Retry-After": f"'{RETRY_AFTER_SECONDS}'"} if response_type.response_type in RETRYABLE else {})},
                templates={"application/json": gateway_error_template(error_code, validation=validation)},
            )

        routes = [method for method in self.api.methods if method.http_method != "OPTIONS"]
        for preflight in (method for method in self.api.methods if method.http_method == "OPTIONS"):
            for rule in ("AwsSolutions-APIG4", "AwsSolutions-COG4"):
                acknowledge(preflight, rule,
                            "CORS preflight for the configured cors_origins: browsers send it without credentials; "
                            "a mock integration answers with headers only, nothing reaches the function.")

        self.api_key: apigw.IApiKey | None = None
        if not iam_auth:
            plan = self.api.add_usage_plan(
                "UsagePlan",
                description="Default clients of the inference API",
                throttle=apigw.ThrottleSettings(rate_limit=environment.throttle_rate,
                                                burst_limit=environment.throttle_burst),
                quota=apigw.QuotaSettings(limit=environment.daily_quota, period=apigw.Period.DAY),
            )
            plan.add_api_stage(stage=self.api.deployment_stage)
            self.api_key = self.api.add_api_key("ApiKey", description="Default inference client key")
            plan.add_api_key(self.api_key)
            CfnOutput(self, "ApiKeyId", value=self.api_key.key_id,
                      description="aws apigateway get-api-key --include-value --api-key <id>")
            for method in routes:
                acknowledge(method, "AwsSolutions-APIG4",
                            "Clients authenticate with an API key under a usage plan (throttle + quota); "
                            "set `auth: iam` on the environment for IAM (SigV4) authorization.")
                acknowledge(method, "AwsSolutions-COG4",
                            "Machine-to-machine API: API key (or IAM with `auth: iam`), no Cognito user pool.")
        else:
            for method in routes:
                acknowledge(method, "AwsSolutions-COG4",
                            "Machine-to-machine API authorized with IAM (SigV4); no Cognito user pool.")
        stage = self.api.deployment_stage
        acknowledge(stage, "AwsSolutions-APIG3",
                    "No WAF by default: a web ACL costs a fixed monthly fee, against the kit's near-zero idle cost; "
                    "every route requires auth and is throttled per stage and per key.")
        acknowledge(stage, "AwsSolutions-APIG6",
                    "Execution logging needs the account-wide API Gateway CloudWatch role (one per account and "
                    "region, shared by every stage); JSON access logs and X-Ray cover each request.")
        CfnOutput(self, "InvocationsUrl", value=self.api.url_for_path("/invocations"))
