"""A Lambda function made from a :class:`mlrails.wiring.FunctionSpec`: the one place that
turns the wiring's function list into Lambda configuration.

Zip functions: ``functions/<name>/`` with ``handler.lambda_handler`` on Python 3.12 and the
spec's layers. Image functions: built at deploy time from ``functions/<name>/Dockerfile``
with the repository root as context, filtered by its ``.dockerignore``. Every function gets
its own role and log group, X-Ray tracing, the environment of
:func:`mlrails.wiring.function_environment`, and the concurrency its environment reserves for it
(``environments.<env>.reserved_concurrency``); functions that events invoke also get retries
and an SQS dead-letter queue.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from aws_cdk import Duration
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_ecr_assets as ecr_assets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_destinations as destinations
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from infra.constructs.data_store import DataStore
from infra.support.access import IDEMPOTENCY, STATE, Access, grant_items, grant_prefix
from infra.support.images import ImageSource
from infra.support.nag import acknowledge
from infra.support.paths import FUNCTIONS_DIR, IMAGE_DOCKERFILE, REPO_ROOT
from mlrails import wiring
from mlrails.adapters import git
from mlrails.config import ProjectConfig, ReservedConcurrency
from mlrails.wiring import Prefix

ASYNC_RETRY_ATTEMPTS = 2
DEAD_LETTER_RETENTION = Duration.days(14)


@dataclass(frozen=True)
class FunctionContext:
    """What every function of one environment shares."""

    cfg: ProjectConfig
    environment_name: str
    names: wiring.ResourceNames
    layers: Mapping[str, lambda_.ILayerVersion]
    log_retention: logs.RetentionDays
    # Per function name: each environment's functions capped (and guaranteed) apart, so one
    # environment cannot take the concurrency of others in the same account and region.
    reserved_concurrency: ReservedConcurrency
    image: ImageSource  # what image functions build from (the project's modules included)


class PipelineFunction(Construct):
    """``function``, its ``role``, its ``environment`` and, for asynchronous functions, its
    ``dead_letter_queue``."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        spec: wiring.FunctionSpec,
        context: FunctionContext,
        memory_mb: int | None = None,
        tracking_uri: str | None = None,
        training_state_machine: str | None = None,
        snap_start: bool = False,
        prediction_id_secret: str | None = None,
        feedback_api_id: str | None = None,
        release_store: str | None = None,
        release_lock: str | None = None,
        tracking_server: str | None = None,
        events_outbox: str | None = None,
        drift_state_machine: str | None = None,
        role_name: str | None = None,
        vpc: ec2.IVpc | None = None,
        vpc_subnets: ec2.SubnetSelection | None = None,
        security_groups: list[ec2.ISecurityGroup] | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        self.spec = spec
        self.role = iam.Role(
            self,
            "Role",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description=f"mlrails {spec.name} function",
            role_name=role_name,
        )
        self.log_group = logs.LogGroup(self, "Logs", retention=context.log_retention)
        # Instead of AWSLambdaBasicExecutionRole (any log group): this function's group only.
        self.log_group.grant_write(self.role)
        self.dead_letter_queue = (
            sqs.Queue(
                self,
                "DeadLetterQueue",
                encryption=sqs.QueueEncryption.SQS_MANAGED,
                enforce_ssl=True,
                retention_period=DEAD_LETTER_RETENTION,
            )
            if spec.asynchronous
            else None
        )
        if self.dead_letter_queue is not None:
            acknowledge(
                self.dead_letter_queue,
                "AwsSolutions-SQS3",
                "This queue is itself the dead-letter queue of the function, its rules and its schedules.",
            )

        # Also the training task's (infra/constructs/training_task.py): the same code, configured alike.
        self.environment = wiring.function_environment(
            context.cfg,
            context.environment_name,
            context.names,
            spec,
            tracking_uri=tracking_uri,
            training_state_machine=training_state_machine,
            git_commit=(git.commit(REPO_ROOT) if spec.name == wiring.TRAINING.function else None),
            prediction_id_secret=prediction_id_secret,
            feedback_api_id=feedback_api_id,
            release_store=release_store,
            release_lock=release_lock,
            tracking_server=tracking_server,
            events_outbox=events_outbox,
            drift_state_machine=drift_state_machine,
        )
        common = dict(
            description=spec.description,
            role=self.role,
            memory_size=memory_mb or spec.memory_mb,
            # A function the config does not know fails here, not silently unreserved.
            reserved_concurrent_executions=getattr(context.reserved_concurrency, spec.name),
            timeout=Duration.seconds(spec.timeout_seconds),
            architecture=lambda_.Architecture.X86_64,
            environment=self.environment,
            tracing=lambda_.Tracing.ACTIVE,
            log_group=self.log_group,
            logging_format=lambda_.LoggingFormat.JSON,
            retry_attempts=ASYNC_RETRY_ATTEMPTS if spec.asynchronous else None,
            on_failure=destinations.SqsDestination(self.dead_letter_queue) if self.dead_letter_queue else None,
            vpc=vpc,
            vpc_subnets=vpc_subnets,
            security_groups=security_groups,
        )
        if spec.packaging == "image":
            if spec.layers:
                raise ValueError(f"function '{spec.name}' is a container image: layers do not apply")
            self.function: lambda_.Function = lambda_.DockerImageFunction(
                self,
                "Function",
                # No `exclude`: CDK reads the context's .dockerignore, as `docker build` does.
                code=lambda_.DockerImageCode.from_image_asset(
                    str(context.image.context),
                    file=IMAGE_DOCKERFILE,
                    build_args=context.image.build_args(spec.name),
                    platform=ecr_assets.Platform.LINUX_AMD64,
                ),
                **common,
            )
        else:
            self.function = lambda_.Function(
                self,
                "Function",
                code=lambda_.Code.from_asset(str(FUNCTIONS_DIR / spec.name), exclude=["__pycache__", "*.pyc"]),
                handler="handler.lambda_handler",
                runtime=lambda_.Runtime.PYTHON_3_12,
                layers=[context.layers[name] for name in spec.layers],
                snap_start=lambda_.SnapStartConf.ON_PUBLISHED_VERSIONS if snap_start else None,
                **common,
            )
            acknowledge(
                self.function,
                "AwsSolutions-L1",
                "Python 3.12 is the project's pinned runtime: the layers are built and byte-compiled "
                "for it (layers/build.py), and SnapStart for Python needs 3.12+.",
            )
        unscoped = "X-Ray PutTraceSegments/PutTelemetryRecords"
        if vpc is not None:
            # What AWSLambdaVPCAccessExecutionRole grants for the function's network interfaces,
            # without its account-wide CloudWatch Logs permissions.
            self.role.add_to_principal_policy(
                iam.PolicyStatement(
                    actions=[
                        "ec2:CreateNetworkInterface",
                        "ec2:DescribeNetworkInterfaces",
                        "ec2:DescribeSubnets",
                        "ec2:DeleteNetworkInterface",
                        "ec2:AssignPrivateIpAddresses",
                        "ec2:UnassignPrivateIpAddresses",
                    ],
                    resources=["*"],
                )
            )
            unscoped += " and Lambda's VPC network-interface actions (as in AWSLambdaVPCAccessExecutionRole)"
        acknowledge(self.role, "AwsSolutions-IAM5[Resource::*]", f"{unscoped} support no resource-level permissions.")


class WiredFunction(Construct):
    """A function that only the wiring invokes and nothing else composes: feature_prep (the
    RawObjectCreated route: raw files in, features out, bad files quarantined), event_relay (the
    OutboxObjectCreated route: the train function's events onto the bus), drift_check and
    performance_check (their schedules). Its ``handler`` is the function; the construct id
    names it in the tree (``FeaturePrep``, ``EventRelay``, ``DriftCheck``, ``PerformanceCheck``)."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        name: str,
        context: FunctionContext,
        drift_state_machine: str | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        self.name = name
        self.handler = PipelineFunction(
            self, "Handler", spec=wiring.function(name), context=context, drift_state_machine=drift_state_machine
        )

    def grant_store(self, store: DataStore, cfg: ProjectConfig) -> None:
        """What this function's calls need of the data store, and nothing else."""
        _STORE_GRANTS[self.name](self.handler.function, store, cfg)


def _feature_prep(fn: lambda_.IFunction, store: DataStore, cfg: ProjectConfig) -> None:
    # mlrails.data.ingest: get_optional(raw/<key>, the event's version) (gone = an earlier
    # delivery quarantined it), copy that version to quarantine/ + reason, delete that version;
    # put features/date=<day>/raw/; FeaturesReady. Without a version id (an object older than versioning; a
    # local bucket) the same calls name no version.
    data = store.data_bucket
    grant_prefix(data, fn, Access.READ | Access.GET_VERSION | Access.DELETE | Access.DELETE_VERSION, Prefix.RAW)
    grant_prefix(data, fn, Access.PUT, wiring.features_in_every_day(wiring.FEATURES_UPLOADS), Prefix.QUARANTINE)
    grant_items(store.state_table, fn, IDEMPOTENCY)
    store.bus.grant_put_events_to(fn)


def _drift_check(fn: lambda_.IFunction, store: DataStore, cfg: ProjectConfig) -> None:
    # mlrails.drift.check: the current manifest (absent = "no_model"), its profile.json under
    # models/ (the version the manifest records), list + read the capture window, write the
    # report; drift counter; DriftDetected.
    artifacts = store.artifacts_bucket
    grant_prefix(artifacts, fn, Access.READ, Prefix.MANIFESTS)
    grant_prefix(artifacts, fn, Access.GET | Access.GET_VERSION, Prefix.MODELS)
    grant_prefix(store.data_bucket, fn, Access.READ, Prefix.CAPTURE)
    grant_prefix(artifacts, fn, Access.PUT, Prefix.REPORTS)
    grant_items(store.state_table, fn, IDEMPOTENCY, STATE)
    store.bus.grant_put_events_to(fn)


def _performance_check(fn: lambda_.IFunction, store: DataStore, cfg: ProjectConfig) -> None:
    # mlrails.performance.check: the current manifest (absent = "no_model"), list + read the
    # capture window and the feedback days, write the report; PerformanceDegraded.
    # mlrails.feedback.training_rows (training.feedback_rows): HEAD a day's file (absent = not
    # written yet: a 404, so listable), write it; FeaturesReady.
    artifacts, data = store.artifacts_bucket, store.data_bucket
    grant_prefix(artifacts, fn, Access.READ, Prefix.MANIFESTS)
    grant_prefix(data, fn, Access.READ, Prefix.CAPTURE, Prefix.FEEDBACK)
    grant_prefix(artifacts, fn, Access.PUT, Prefix.REPORTS)
    if cfg.training.feedback_rows:
        grant_prefix(data, fn, Access.READ | Access.PUT, wiring.features_in_every_day(wiring.FEATURES_FEEDBACK))
    grant_items(store.state_table, fn, IDEMPOTENCY)
    store.bus.grant_put_events_to(fn)


def _event_relay(fn: lambda_.IFunction, store: DataStore, cfg: ProjectConfig) -> None:
    # mlrails.adapters.bus.relay: get_optional(outbox/<key>) (absent = relayed already: a 404,
    # so listable), put its entry on the project bus, delete it; idempotency per key. Outside
    # the VPC, with nothing else of the store: it cannot write an event into the outbox itself.
    grant_prefix(store.artifacts_bucket, fn, Access.READ | Access.DELETE, Prefix.OUTBOX)
    grant_items(store.state_table, fn, IDEMPOTENCY)
    store.bus.grant_put_events_to(fn)


_STORE_GRANTS = {
    "feature_prep": _feature_prep,
    "event_relay": _event_relay,
    "drift_check": _drift_check,
    "performance_check": _performance_check,
}
