"""Everything stateful the functions share: data + artifacts buckets (and their access-log
bucket), the state table, the project event bus, and the validated config in S3."""

from __future__ import annotations

import json

from aws_cdk import DefaultStackSynthesizer, Duration, RemovalPolicy, Stack, Token
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_events as events
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_s3_deployment as s3deploy
from constructs import Construct

from infra.constructs.capture_delivery import CaptureDelivery
from infra.support.access import model_writer_role_name, never_deleted, only_writers, role_arn
from infra.support.buckets import secure_bucket
from infra.support.nag import acknowledge, acknowledge_resource_wildcard
from mlrails import wiring
from mlrails.config import ProjectConfig
from mlrails.wiring import Prefix

# Keys a person may need after an incident: kept long enough to investigate, then expired.
NONCURRENT_DATA_DAYS = 30
NONCURRENT_ARTIFACT_DAYS = 90
CAPTURE_DAYS = 90
ACCESS_LOG_DAYS = 365
# The relay deletes each outbox object once its event is on the bus: what stays is an event it
# refused (malformed, logged with the reason) or could not relay (its dead-letter queue keeps
# the notification as long).
OUTBOX_DAYS = 14


class DataStore(Construct):
    """Buckets, state table, event bus and the deployed config of one environment."""

    def __init__(self, scope: Construct, construct_id: str, *, cfg: ProjectConfig, environment_name: str) -> None:
        super().__init__(scope, construct_id)
        self.access_logs_bucket = secure_bucket(
            self,
            "AccessLogsBucket",
            access_logs=None,
            log_prefix="",
            lifecycle_rules=[
                s3.LifecycleRule(
                    expiration=Duration.days(ACCESS_LOG_DAYS),
                    noncurrent_version_expiration=Duration.days(NONCURRENT_DATA_DAYS),
                )
            ],
        )
        # cdk-nag accepts it unlogged (S1) as the target of the other buckets' access logs.

        self.data_bucket = secure_bucket(
            self,
            "DataBucket",
            access_logs=self.access_logs_bucket,
            log_prefix="data/",
            # raw/ arrivals reach feature_prep through EventBridge (the RawObjectCreated route).
            event_bridge=True,
            lifecycle_rules=[
                s3.LifecycleRule(
                    id="NoncurrentVersions",
                    noncurrent_version_expiration=Duration.days(NONCURRENT_DATA_DAYS),
                    abort_incomplete_multipart_upload_after=Duration.days(7),
                ),
                s3.LifecycleRule(
                    id="CaptureExpiry", prefix=Prefix.CAPTURE.value, expiration=Duration.days(CAPTURE_DAYS)
                ),
            ],
        )
        # Captures reach capture/ through Firehose, not an S3 PUT per request (mlrails.capture).
        self.capture = CaptureDelivery(self, "CaptureDelivery", bucket=self.data_bucket)
        self.artifacts_bucket = secure_bucket(
            self,
            "ArtifactsBucket",
            access_logs=self.access_logs_bucket,
            log_prefix="artifacts/",
            # outbox/ events reach event_relay through EventBridge (the OutboxObjectCreated route).
            event_bridge=True,
            # No default retention: only what asks for a lock (the audit log) is locked.
            object_lock=True,
            lifecycle_rules=[
                # Models stay current (rollback needs the previous champion); only overwritten
                # versions expire.
                s3.LifecycleRule(
                    id="NoncurrentVersions",
                    noncurrent_version_expiration=Duration.days(NONCURRENT_ARTIFACT_DAYS),
                    abort_incomplete_multipart_upload_after=Duration.days(7),
                ),
                s3.LifecycleRule(
                    id="OutboxExpiry",
                    prefix=Prefix.OUTBOX.value,
                    expiration=Duration.days(OUTBOX_DAYS),
                    noncurrent_version_expiration=Duration.days(1),
                ),
            ],
        )

        self.state_table = dynamodb.TableV2(
            self,
            "StateTable",
            # mlrails.adapters.state / idempotency: one item per key, Powertools' expiry attribute.
            partition_key=dynamodb.Attribute(name="pk", type=dynamodb.AttributeType.STRING),
            time_to_live_attribute="expires_at",
            billing=dynamodb.Billing.on_demand(),
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True
            ),
            # The retraining and promotion state (and Powertools' idempotency records): RETAIN
            # outlives a stack delete, deletion protection also refuses a DeleteTable (console,
            # CLI, a script), and PITR undoes a bad write.
            deletion_protection=True,
            removal_policy=RemovalPolicy.RETAIN,
        )

        self.bus = events.EventBus(self, "Bus", description=f"mlrails {cfg.project}: {wiring.EVENT_SOURCE} events")

        # The functions read the validated config from here; its key is content-addressed, so a
        # config change is also a function configuration change.
        self.config_deployment = s3deploy.BucketDeployment(
            self,
            "ConfigDeployment",
            sources=[
                s3deploy.Source.json_data(
                    wiring.config_key(cfg).removeprefix(Prefix.CONFIG.value), json.loads(cfg.to_json())
                )
            ],
            destination_bucket=self.artifacts_bucket,
            destination_key_prefix=Prefix.CONFIG.value,
            # Never prune: the bucket holds models and manifests, and older configs stay
            # readable by function versions that still point at them.
            prune=False,
            retain_on_delete=True,
            memory_limit=256,
        )
        _acknowledge_deployment_handler(self.config_deployment, self.artifacts_bucket)
        # What inference serves and training compares against is written by one role each:
        # models/ and manifests/ by the train function, config/ by the config deployment.
        # The audit log too, which nobody deletes (its records are also locked: mlrails.promotion.rails).
        only_writers(
            self.artifacts_bucket,
            [role_arn(self, model_writer_role_name(cfg.project, environment_name))],
            Prefix.MODELS,
            Prefix.MANIFESTS,
            Prefix.AUDIT,
        )
        never_deleted(self.artifacts_bucket, Prefix.AUDIT)
        only_writers(self.artifacts_bucket, [self.config_deployment.handler_role.role_arn], Prefix.CONFIG)
        self.config_uri = f"s3://{self.artifacts_bucket.bucket_name}/{wiring.config_key(cfg)}"

    @property
    def names(self) -> wiring.ResourceNames:
        """The names the wiring refers to, as deploy-time tokens."""
        return wiring.ResourceNames(
            data_bucket=self.data_bucket.bucket_name,
            artifacts_bucket=self.artifacts_bucket.bucket_name,
            bus_name=self.bus.event_bus_name,
            state_table=self.state_table.table_name,
            capture_stream=self.capture.stream_name,
        )


def _acknowledge_deployment_handler(deployment: s3deploy.BucketDeployment, bucket: s3.IBucket) -> None:
    """The CDK-provided copy function (a singleton per stack): its role and its runtime are
    the library's, not ours to scope."""
    role = deployment.handler_role
    reason = "CDK's BucketDeployment handler copies the config asset into the artifacts bucket under config/."
    acknowledge(
        role,
        "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]",
        reason + " CDK attaches the basic execution policy.",
    )
    for action in ("s3:GetBucket*", "s3:GetObject*", "s3:List*", "s3:Abort*", "s3:DeleteObject*"):
        acknowledge(role, f"AwsSolutions-IAM5[Action::{action}]", reason + " CDK grants its S3 action groups.")
    acknowledge_resource_wildcard(
        role, bucket.arn_for_objects("*"), reason + " CDK grants the destination bucket's objects."
    )
    stack = Stack.of(deployment)
    synthesizer = stack.synthesizer
    if isinstance(synthesizer, DefaultStackSynthesizer):
        # The bucket's name as the synthesizer fills it in: the stack's account and region
        # where it names them (an environment with an `account`), else their placeholders.
        assets_bucket = (
            DefaultStackSynthesizer.DEFAULT_FILE_ASSETS_BUCKET_NAME.replace(
                "${Qualifier}", synthesizer.bootstrap_qualifier or DefaultStackSynthesizer.DEFAULT_QUALIFIER
            )
            .replace("${AWS::AccountId}", "${AWS::AccountId}" if Token.is_unresolved(stack.account) else stack.account)
            .replace("${AWS::Region}", "${AWS::Region}" if Token.is_unresolved(stack.region) else stack.region)
        )
        acknowledge_resource_wildcard(
            role,
            stack.format_arn(service="s3", region="", account="", resource=f"{assets_bucket}/*"),
            reason + " It reads the asset from the CDK bootstrap bucket.",
        )
    handler = role.node.scope
    assert handler is not None
    acknowledge(handler, "AwsSolutions-L1", reason + " Its runtime is pinned by the CDK version.")
