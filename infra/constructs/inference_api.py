"""The inference function behind two API Gateway REST APIs: scoring and feedback.

The scoring API serves :data:`mlrails.openapi.SCORING_ROUTES` (``POST /invocations``,
``GET /ping``, ``GET /version``, ``GET /openapi.json``); the feedback API serves
``POST /feedback`` alone, with a credential of its own. Labels decide what the promotion gate
and the performance check believe, so the key that scores must not label. A usage plan
applies to whole API stages (a key of the plan opens every key-requiring method of the stage;
method-level settings only throttle), so a key valid for one route only takes a stage, and a
stage of its own API, where a second stage of one API would carry every route again. With
``auth: api_key`` each API has its usage plan (throttle, daily quota) and key; with
``auth: iam`` both take SigV4, and a managed policy per API grants ``execute-api:Invoke`` on
its own routes only (attach the feedback one to whatever sends labels). The function checks
again which API a request came through (``MLRAILS_FEEDBACK_API_ID``) and records the
credential with each label.

CORS is off unless the environment lists ``cors_origins``: then API Gateway answers the
preflight for those origins on the scoring API (labels come from back-end systems, not
browsers) and the function adds the response headers. Each stage throttles, logs access as
JSON, and traces with X-Ray. The function serves from a SnapStart-enabled published version
through the ``live`` alias, and signs prediction ids with a generated secret
(:mod:`mlrails.serving.prediction_ids`).
"""

from __future__ import annotations

from aws_cdk import Annotations, CfnOutput, Duration, RemovalPolicy
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct

from infra.constructs.data_store import DataStore
from infra.constructs.pipeline_function import FunctionContext, PipelineFunction
from infra.support.access import Access, grant_prefix
from infra.support.nag import acknowledge
from mlrails import openapi, wiring
from mlrails.config import Environment, ProjectConfig
from mlrails.wiring import Prefix

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
    """``handler`` (the function), ``alias``, ``api`` (scoring), ``feedback_api``, the
    ``prediction_id_key`` secret and, with API-key auth, ``api_key`` and ``feedback_api_key``;
    with IAM auth, ``invoke_policy`` and ``feedback_policy``."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        context: FunctionContext,
        environment: Environment,
        release_lock: str | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        iam_auth = environment.auth == "iam"
        name = f"mlrails-{context.cfg.project}-{context.environment_name}"
        # API Gateway's metrics are keyed by API name (default: the construct id, the same in
        # every environment): a distinct name keeps each environment's alarms and dashboard to
        # its own traffic.
        self.api = _rest_api(
            self,
            "Api",
            name=name,
            iam_auth=iam_auth,
            context=context,
            cors_origins=environment.cors_origins,
            description=f"mlrails {context.cfg.project} ({context.environment_name}): model inference",
            throttle=(environment.throttle_rate, environment.throttle_burst),
        )
        self.feedback_api = _rest_api(
            self,
            "FeedbackApi",
            name=f"{name}-feedback",
            iam_auth=iam_auth,
            context=context,
            cors_origins=[],
            description=f"mlrails {context.cfg.project} ({context.environment_name}): ground truth for predictions",
            throttle=(environment.feedback_throttle_rate, environment.feedback_throttle_burst),
        )

        # Signs prediction ids so that /feedback knows, without a lookup, that this service issued
        # an id. Kept when the stack goes (ids awaiting their labels would no longer verify).
        self.prediction_id_key = secretsmanager.Secret(
            self,
            "PredictionIdKey",
            description=f"mlrails {context.cfg.project} ({context.environment_name}): signs prediction ids",
            generate_secret_string=secretsmanager.SecretStringGenerator(password_length=64, exclude_punctuation=True),
            removal_policy=RemovalPolicy.RETAIN,
        )
        acknowledge(
            self.prediction_id_key,
            "AwsSolutions-SMG4",
            "The key signs prediction ids that are labelled days later: a rotation would refuse every "
            "label for a prediction served before it. Inference reads it once per container.",
        )

        self.handler = PipelineFunction(
            self,
            "Handler",
            spec=wiring.inference_function(context.cfg),
            context=context,
            memory_mb=environment.inference_memory_mb,
            snap_start=environment.snapstart,
            prediction_id_secret=self.prediction_id_key.secret_arn,
            feedback_api_id=self.feedback_api.rest_api_id,
            # In a `models: release` environment, the digest of the lock it serves: a new lock is
            # a new version behind the alias (a canary's, infra/constructs/canary.py).
            release_lock=release_lock,
        )
        Annotations.of(self.handler.function).acknowledge_warning(
            "@aws-cdk/aws-lambda:snapStartRequirePublish",
            "SnapStart applies to the published version behind the alias, which is what API Gateway invokes.",
        )
        self.alias = lambda_.Alias(self, "Live", alias_name=ALIAS_NAME, version=self.handler.function.current_version)
        # GetSecretValue only (not CDK's grant_read, which adds DescribeSecret): all the function calls.
        iam.Grant.add_to_principal(
            grantee=self.handler.function,
            actions=["secretsmanager:GetSecretValue"],
            resource_arns=[self.prediction_id_key.secret_arn],
        )

        integration = apigw.LambdaIntegration(self.alias)
        routes = _add_routes(self.api, openapi.SCORING_ROUTES, integration)
        feedback_routes = _add_routes(self.feedback_api, openapi.FEEDBACK_ROUTES, integration)

        self.api_key: apigw.IApiKey | None = None
        self.feedback_api_key: apigw.IApiKey | None = None
        self.invoke_policy: iam.ManagedPolicy | None = None
        self.feedback_policy: iam.ManagedPolicy | None = None
        if not iam_auth:
            self.api_key = _usage_plan_and_key(
                self,
                "",
                self.api,
                description="Default inference client key",
                plan_description="Default clients of the inference API",
                throttle=(environment.throttle_rate, environment.throttle_burst),
                quota=environment.daily_quota,
            )
            # Its own plan on its own API: the scoring key is in no plan of the feedback API, so API
            # Gateway refuses it there (403) before the function runs.
            self.feedback_api_key = _usage_plan_and_key(
                self,
                "Feedback",
                self.feedback_api,
                description="Feedback (labelling) client key",
                plan_description="Systems that send ground truth to POST /feedback",
                throttle=(environment.feedback_throttle_rate, environment.feedback_throttle_burst),
                quota=environment.feedback_daily_quota,
            )
            for method in routes + feedback_routes:
                acknowledge(
                    method,
                    "AwsSolutions-APIG4",
                    "Clients authenticate with an API key under a usage plan (throttle + quota); "
                    "set `auth: iam` on the environment for IAM (SigV4) authorization.",
                )
                acknowledge(
                    method,
                    "AwsSolutions-COG4",
                    "Machine-to-machine API: API key (or IAM with `auth: iam`), no Cognito user pool.",
                )
        else:
            self.invoke_policy = iam.ManagedPolicy(
                self,
                "InvokePolicy",
                description=f"{name}: call the scoring API (every route but /feedback)",
                statements=[
                    iam.PolicyStatement(
                        actions=["execute-api:Invoke"],
                        resources=[
                            self.api.arn_for_execute_api(method, path, STAGE_NAME)
                            for path, method in openapi.SCORING_ROUTES
                        ],
                    )
                ],
            )
            self.feedback_policy = iam.ManagedPolicy(
                self,
                "FeedbackPolicy",
                description=f"{name}: send labels to POST /feedback, nothing else",
                statements=[
                    iam.PolicyStatement(
                        actions=["execute-api:Invoke"],
                        resources=[
                            self.feedback_api.arn_for_execute_api(method, path, STAGE_NAME)
                            for path, method in openapi.FEEDBACK_ROUTES
                        ],
                    )
                ],
            )
            CfnOutput(
                self,
                "InvokePolicyArn",
                value=self.invoke_policy.managed_policy_arn,
                description="Attach to the callers that score (not /feedback)",
            )
            CfnOutput(
                self,
                "FeedbackPolicyArn",
                value=self.feedback_policy.managed_policy_arn,
                description="Attach to the systems that send labels (POST /feedback only)",
            )
            for method in routes + feedback_routes:
                acknowledge(
                    method,
                    "AwsSolutions-COG4",
                    "Machine-to-machine API authorized with IAM (SigV4); no Cognito user pool.",
                )
        CfnOutput(self, "InvocationsUrl", value=self.api.url_for_path("/invocations"))
        CfnOutput(self, "FeedbackUrl", value=self.feedback_api.url_for_path("/feedback"))

    def grant_store(self, store: DataStore, cfg: ProjectConfig) -> None:
        """serving.champion: the manifest (absent = a 503, so a listable 404), the model version it
        records; capture.stream: the stream (it writes capture/); feedback.receive: feedback/."""
        fn = self.handler.function
        grant_prefix(store.artifacts_bucket, fn, Access.READ, Prefix.MANIFESTS)
        grant_prefix(store.artifacts_bucket, fn, Access.GET | Access.GET_VERSION, Prefix.MODELS)
        grant_prefix(store.data_bucket, fn, Access.PUT, Prefix.FEEDBACK)
        store.capture.grant_put_records(fn)


def _rest_api(
    scope: Construct,
    construct_id: str,
    *,
    name: str,
    description: str,
    iam_auth: bool,
    context: FunctionContext,
    throttle: tuple[float, int],
    cors_origins: list[str],
) -> apigw.RestApi:
    """A REST API of the service: regional, one throttled stage with JSON access logs and
    X-Ray, every method behind the environment's auth, the gateway's own errors in the API's
    error shape."""
    access_logs = logs.LogGroup(
        scope, f"{construct_id}AccessLogs" if construct_id != "Api" else "AccessLogs", retention=context.log_retention
    )
    api = apigw.RestApi(
        scope,
        construct_id,
        rest_api_name=name,
        description=description,
        endpoint_types=[apigw.EndpointType.REGIONAL],
        cloud_watch_role=False,
        deploy_options=apigw.StageOptions(
            stage_name=STAGE_NAME,
            throttling_rate_limit=throttle[0],
            throttling_burst_limit=throttle[1],
            access_log_destination=apigw.LogGroupLogDestination(access_logs),
            access_log_format=apigw.AccessLogFormat.json_with_standard_fields(
                caller=True,
                http_method=True,
                ip=True,
                protocol=True,
                request_time=True,
                resource_path=True,
                response_length=True,
                status=True,
                user=True,
            ),
            tracing_enabled=True,
        ),
        default_cors_preflight_options=apigw.CorsOptions(
            allow_origins=cors_origins,
            allow_methods=["GET", "POST", "OPTIONS"],
            allow_headers=apigw.Cors.DEFAULT_HEADERS,
            max_age=Duration.minutes(10),
        )
        if cors_origins
        else None,
        default_method_options=apigw.MethodOptions(
            authorization_type=apigw.AuthorizationType.IAM if iam_auth else apigw.AuthorizationType.NONE,
            api_key_required=not iam_auth,
        ),
    )
    for response_type, (error_code, validation) in GATEWAY_ERRORS.items():
        api.add_gateway_response(
            response_type.response_type,
            type=response_type,
            response_headers={
                "Content-Type": "'application/json'",
                **({"Retry-After": f"'{RETRY_AFTER_SECONDS}'"} if response_type.response_type in RETRYABLE else {}),
            },
            templates={"application/json": gateway_error_template(error_code, validation=validation)},
        )
    stage = api.deployment_stage
    acknowledge(
        stage,
        "AwsSolutions-APIG3",
        "No WAF by default: a web ACL costs a fixed monthly fee, against the kit's near-zero idle cost; "
        "every route requires auth and is throttled per stage and per key.",
    )
    acknowledge(
        stage,
        "AwsSolutions-APIG6",
        "Execution logging needs the account-wide API Gateway CloudWatch role (one per account and "
        "region, shared by every stage); JSON access logs and X-Ray cover each request.",
    )
    return api


def _add_routes(
    api: apigw.RestApi, routes: tuple[tuple[str, str], ...], integration: apigw.LambdaIntegration
) -> list[apigw.Method]:
    """``routes`` on ``api``, each to the function; returns the methods (preflights excluded)."""
    # The function validates requests (mlrails.serving.protocol) and answers in the API's error shape:
    # API Gateway's validator, which cdk-nag (APIG2) wants, checks only that a JSON body is
    # JSON. The empty schema accepts any JSON value.
    validator = api.add_request_validator(
        "RequestValidator", validate_request_body=True, validate_request_parameters=True
    )
    any_json = api.add_model(
        "AnyJson",
        content_type="application/json",
        description="Any JSON document",
        schema=apigw.JsonSchema(schema=apigw.JsonSchemaVersion.DRAFT4),
    )
    for path, method in routes:
        api.root.add_resource(path.removeprefix("/")).add_method(
            method,
            integration,
            request_validator=validator,
            request_models={"application/json": any_json} if method == "POST" else None,
        )
    for preflight in (method for method in api.methods if method.http_method == "OPTIONS"):
        for rule in ("AwsSolutions-APIG4", "AwsSolutions-COG4"):
            acknowledge(
                preflight,
                rule,
                "CORS preflight for the configured cors_origins: browsers send it without credentials; "
                "a mock integration answers with headers only, nothing reaches the function.",
            )
    return [method for method in api.methods if method.http_method != "OPTIONS"]


def _usage_plan_and_key(
    scope: Construct,
    prefix: str,
    api: apigw.RestApi,
    *,
    description: str,
    plan_description: str,
    throttle: tuple[float, int],
    quota: int,
) -> apigw.IApiKey:
    """A usage plan on ``api``'s stage alone, and a key in it (its id as an output)."""
    plan = api.add_usage_plan(
        f"{prefix}UsagePlan",
        description=plan_description,
        throttle=apigw.ThrottleSettings(rate_limit=throttle[0], burst_limit=throttle[1]),
        quota=apigw.QuotaSettings(limit=quota, period=apigw.Period.DAY),
    )
    plan.add_api_stage(stage=api.deployment_stage)
    key = api.add_api_key(f"{prefix}ApiKey", description=description)
    plan.add_api_key(key)
    CfnOutput(
        scope,
        f"{prefix}ApiKeyId",
        value=key.key_id,
        description="aws apigateway get-api-key --include-value --api-key <id>",
    )
    return key
