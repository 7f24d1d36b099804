"""The MLflow tracking server and model registry: one small Fargate task in the public subnets
(a public address to pull its image and write its logs, and a security group that admits its
clients only), Aurora Serverless v2 PostgreSQL (scales to zero) in the isolated subnets as its
backend store, artifacts in the artifacts bucket under ``mlflow/``. Reachable only from the
clients' security group, through a Cloud Map private DNS name.

On demand: the service is deployed with no task. The tracking_switch function (mlrails.tracking)
scales it to one while anyone holds it (a training run, an operator command, `mlrails ui`) and
back to zero when the last hold ends or expires; inference never needs it (it reads the
manifest). CloudFormation sets the desired count only when the template's value changes, so a
deployment leaves a held server running. ECS Exec is on for `mlrails ui`'s port forward.

Its clients (the train function, in the isolated subnets, and the training task) need no
interface endpoint beside it: S3 and DynamoDB go through the VPC's gateway endpoints, and their
events through S3 as well, left in the outbox for the event_relay function
(:mod:`mlrails.outbox`)."""

from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_ecr_assets as ecr_assets
from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_logs as logs
from aws_cdk import aws_rds as rds
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_servicediscovery as servicediscovery
from constructs import Construct

from infra.constructs.network import ISOLATED, PUBLIC, Network
from infra.support.nag import acknowledge
from infra.support.paths import MLFLOW_IMAGE_DIR
from mlrails.wiring import Prefix

MLFLOW_PORT = 5000
DATABASE_PORT = 5433
DATABASE_NAME = "mlflow"
# Characters that would need escaping in a postgresql:// URI (the entrypoint quotes anyway).
_URI_UNSAFE = " %+~`#$&*()|[]{}:;<>?!'/@\"\\=,"


class MlflowService(Construct):
    """MLflow on ECS Fargate with its database; ``tracking_uri`` is what clients use."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        network: Network,
        artifacts_bucket: s3.IBucket,
        namespace_name: str,
        log_retention: logs.RetentionDays,
    ) -> None:
        super().__init__(scope, construct_id)
        vpc = network.vpc

        # Clients (the train function) join this group; the server admits nobody else.
        self.client_security_group = ec2.SecurityGroup(
            self,
            "ClientSecurityGroup",
            vpc=vpc,
            description="MLflow clients: may reach the tracking server and the AWS service endpoints",
        )
        server_security_group = ec2.SecurityGroup(
            self,
            "ServerSecurityGroup",
            vpc=vpc,
            description="MLflow tracking server tasks",
        )
        server_security_group.connections.allow_from(
            self.client_security_group, ec2.Port.tcp(MLFLOW_PORT), "MLflow clients"
        )

        self.database = rds.DatabaseCluster(
            self,
            "Database",
            engine=rds.DatabaseClusterEngine.aurora_postgres(version=rds.AuroraPostgresEngineVersion.VER_17_7),
            writer=rds.ClusterInstance.serverless_v2("Writer"),
            # Scales to zero when idle (the server keeps no pooled connections, see Dockerfile).
            serverless_v2_min_capacity=0,
            serverless_v2_max_capacity=2,
            serverless_v2_auto_pause_duration=Duration.minutes(15),
            credentials=rds.Credentials.from_generated_secret("mlflow", exclude_characters=_URI_UNSAFE),
            default_database_name=DATABASE_NAME,
            port=DATABASE_PORT,
            vpc=vpc,
            vpc_subnets=ISOLATED,
            storage_encrypted=True,
            iam_authentication=True,
            deletion_protection=True,
            backup=rds.BackupProps(retention=Duration.days(7)),
            removal_policy=RemovalPolicy.SNAPSHOT,
        )
        secret = self.database.secret
        assert secret is not None  # from_generated_secret always makes one
        # database.secret is the secret's attachment to the cluster: acknowledge the secret itself.
        acknowledge(
            self.database.node.find_child("Secret"),
            "AwsSolutions-SMG4",
            "The MLflow server reads the password once at task start and keeps using it: "
            "automatic rotation would break it until a redeploy. Rotate by redeploying.",
        )

        self.cluster = cluster = ecs.Cluster(
            self, "Cluster", vpc=vpc, container_insights_v2=ecs.ContainerInsights.DISABLED
        )
        acknowledge(
            cluster,
            "AwsSolutions-ECS4",
            "One small task, running only while held: Container Insights would cost more than the task's own "
            "metrics (AWS/ECS CPU and memory) and the container health check already give.",
        )
        namespace = servicediscovery.PrivateDnsNamespace(
            self,
            "Namespace",
            name=namespace_name,
            vpc=vpc,
            description="Private names of the MLflow tracking server",
        )

        task = ecs.FargateTaskDefinition(
            self,
            "Task",
            cpu=256,
            memory_limit_mib=1024,
            runtime_platform=ecs.RuntimePlatform(
                cpu_architecture=ecs.CpuArchitecture.X86_64, operating_system_family=ecs.OperatingSystemFamily.LINUX
            ),
        )
        host = f"mlflow.{namespace_name}"
        task.add_container(
            "Mlflow",
            image=ecs.ContainerImage.from_asset(str(MLFLOW_IMAGE_DIR), platform=ecr_assets.Platform.LINUX_AMD64),
            # No plain environment: the database settings come from the secret, the rest as arguments.
            secrets={
                "DB_HOST": ecs.Secret.from_secrets_manager(secret, "host"),
                "DB_PORT": ecs.Secret.from_secrets_manager(secret, "port"),
                "DB_NAME": ecs.Secret.from_secrets_manager(secret, "dbname"),
                "DB_USERNAME": ecs.Secret.from_secrets_manager(secret, "username"),
                "DB_PASSWORD": ecs.Secret.from_secrets_manager(secret, "password"),
            },
            command=[
                "--default-artifact-root",
                artifacts_bucket.s3_url_for_object(Prefix.MLFLOW.value.rstrip("/")),
                "--no-serve-artifacts",  # clients (train) read and write mlflow/ in S3 directly
                # Its private DNS name for the train function; localhost for operators who
                # reach it through a port forward (e.g. ECS Exec / Session Manager).
                "--allowed-hosts",
                f"{host}:{MLFLOW_PORT},{host},localhost:*,127.0.0.1:*",
                "--port",
                str(MLFLOW_PORT),
            ],
            port_mappings=[ecs.PortMapping(container_port=MLFLOW_PORT)],
            health_check=ecs.HealthCheck(
                command=[
                    "CMD",
                    "python",
                    "-c",
                    "import urllib.request; "
                    f"urllib.request.urlopen('http://localhost:{MLFLOW_PORT}/health', timeout=4)",
                ],
                interval=Duration.seconds(30),
                timeout=Duration.seconds(5),
                retries=3,
                start_period=Duration.seconds(120),
            ),
            logging=ecs.LogDrivers.aws_logs(
                stream_prefix="mlflow",
                log_group=logs.LogGroup(self, "Logs", retention=log_retention),
            ),
        )
        self.task_role = task.task_role
        acknowledge(
            task.obtain_execution_role(),
            "AwsSolutions-IAM5[Resource::*]",
            "ecr:GetAuthorizationToken (image pull) supports no resource-level permissions.",
        )

        self.service = ecs.FargateService(
            self,
            "Service",
            cluster=cluster,
            task_definition=task,
            desired_count=0,  # until held: see the module's docstring
            min_healthy_percent=100,
            max_healthy_percent=200,
            # Out through the internet gateway (ECR, Logs, Secrets Manager), in from its clients only.
            vpc_subnets=PUBLIC,
            security_groups=[server_security_group],
            assign_public_ip=True,
            circuit_breaker=ecs.DeploymentCircuitBreaker(rollback=True),
            # `mlrails ui --env`: a Session Manager port forward to the task, no open port.
            enable_execute_command=True,
            cloud_map_options=ecs.CloudMapOptions(
                name="mlflow",
                cloud_map_namespace=namespace,
                dns_record_type=servicediscovery.DnsRecordType.A,
                dns_ttl=Duration.seconds(10),
            ),
        )
        self.database.connections.allow_default_port_from(self.service, "MLflow server")
        acknowledge(
            task.task_role,
            "AwsSolutions-IAM5[Resource::*]",
            "ECS Exec's Session Manager channel (ssmmessages:Create/OpenControlChannel, Create/OpenDataChannel) "
            "supports no resource-level permissions: it carries `mlrails ui`'s port forward.",
        )

        self.tracking_uri = f"http://{host}:{MLFLOW_PORT}"
        self.port = MLFLOW_PORT
