"""The training run's steps as an ECS Fargate task (``training.compute: fargate | auto``): the
train function's image, environment, role and network, with the CPU, memory and ephemeral
storage of ``training.fargate`` instead of Lambda's 10 GB and 15 minutes.

The container runs ``python -m task`` (functions/train/task.py) in the function's task root;
the state machine (:mod:`infra.constructs.training_pipeline`) sets the step per run. The task
assumes the train function's own role: the artifacts bucket's policy lets that one role write
models/ and manifests/, and the task needs exactly what the function's steps are granted.
"""

from __future__ import annotations

from collections.abc import Mapping

from aws_cdk import Aws
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_ecr_assets as ecr_assets
from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_iam as iam
from aws_cdk import aws_logs as logs
from constructs import Construct

from infra.support.images import ImageSource
from infra.support.nag import acknowledge
from infra.support.paths import IMAGE_DOCKERFILE
from mlrails import wiring
from mlrails.config import FargateTask

# Where the Lambda base image puts the function's code (LAMBDA_TASK_ROOT), task.py included.
TASK_ROOT = "/var/task"
ENTRYPOINT = ["python", "-m", "task"]


class TrainingTask(Construct):
    """``cluster``, ``task_definition`` and its ``container``; ``subnets`` and
    ``security_groups`` to run it in (public subnets with an address; the train function's
    security group, so that it reaches MLflow and admits nothing)."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        size: FargateTask,
        image: ImageSource,
        environment: Mapping[str, str],
        role: iam.Role,
        vpc: ec2.IVpc,
        subnets: ec2.SubnetSelection,
        security_groups: list[ec2.ISecurityGroup],
        log_retention: logs.RetentionDays,
    ) -> None:
        super().__init__(scope, construct_id)
        self.subnets, self.security_groups = subnets, security_groups
        # ECS tasks of this account may assume the train function's role too.
        role.assume_role_policy.add_statements(
            iam.PolicyStatement(
                actions=["sts:AssumeRole"],
                principals=[iam.ServicePrincipal("ecs-tasks.amazonaws.com")],
                conditions={"StringEquals": {"aws:SourceAccount": Aws.ACCOUNT_ID}},
            )
        )
        self.cluster = ecs.Cluster(self, "Cluster", vpc=vpc, container_insights_v2=ecs.ContainerInsights.DISABLED)
        acknowledge(
            self.cluster,
            "AwsSolutions-ECS4",
            "Runs a training task now and then: its logs, the state machine's execution history and "
            "alarms cover it; Container Insights would bill per task for metrics nobody watches.",
        )
        self.task_definition = ecs.FargateTaskDefinition(
            self,
            "Task",
            cpu=size.cpu,
            memory_limit_mib=size.memory_mb,
            ephemeral_storage_gib=size.ephemeral_storage_gib,
            task_role=role,
            runtime_platform=ecs.RuntimePlatform(
                cpu_architecture=ecs.CpuArchitecture.X86_64, operating_system_family=ecs.OperatingSystemFamily.LINUX
            ),
        )
        self.container = self.task_definition.add_container(
            "Train",
            # The train function's image asset (same context, file and arguments: one build).
            image=ecs.ContainerImage.from_asset(
                str(image.context),
                file=IMAGE_DOCKERFILE,
                build_args=image.build_args(wiring.TRAINING.function),
                platform=ecr_assets.Platform.LINUX_AMD64,
            ),
            entry_point=ENTRYPOINT,
            working_directory=TASK_ROOT,
            environment=dict(environment),
            logging=ecs.LogDrivers.aws_logs(
                stream_prefix="train", log_group=logs.LogGroup(self, "Logs", retention=log_retention)
            ),
        )
        acknowledge(
            self.task_definition,
            "AwsSolutions-ECS2",
            "The train function's environment (mlrails.wiring.function_environment): names of the "
            "buckets, table and bus, the config's S3 URI, the MLflow URI. No secret among them.",
        )
        acknowledge(
            self.task_definition.obtain_execution_role(),
            "AwsSolutions-IAM5[Resource::*]",
            "ecr:GetAuthorizationToken (image pull) supports no resource-level permissions.",
        )
