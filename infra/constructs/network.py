"""A VPC that nothing pays for by the hour: no NAT gateway and no interface endpoint.

- **Isolated subnets** (no route out): the database, and the train function, which reaches S3
  and DynamoDB through the free gateway endpoints, and nothing else. It publishes its events
  through S3 too: each one an object under outbox/ of the artifacts bucket, which the
  event_relay function, outside the VPC, puts on the bus (:mod:`mlrails.outbox`). An
  EventBridge interface endpoint used to carry them ($7.30 a month in one AZ, used a few
  times a week).
- **Public subnets**: the MLflow task, with a public address and a security group that admits
  its clients only, nobody from outside. It pulls its image and writes its logs over the
  internet gateway, where four more interface endpoints in two AZs (ECR, ECR Docker, Logs,
  Secrets Manager: $58 a month) used to carry them; S3 (the image's layers, its artifacts)
  still goes through the gateway endpoint, on both kinds of subnets.

Each endpoint's policy admits only this environment's resources, or this account's principals,
instead of the default full access: code in the VPC cannot copy data out to another account's
bucket or table through them."""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import Aws
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from constructs import Construct

from infra.support.release import STORE_PREFIX

ISOLATED = ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_ISOLATED)
PUBLIC = ec2.SubnetSelection(subnet_type=ec2.SubnetType.PUBLIC)

# Where ECR keeps image layers (Amazon ECR's guide, "Minimum Amazon S3 bucket permissions").
ECR_LAYER_BUCKET = f"prod-{Aws.REGION}-starport-layer-bucket"
_THIS_ACCOUNT = {"StringEquals": {"aws:PrincipalAccount": Aws.ACCOUNT_ID}}


class Network(Construct):
    """The VPC the MLflow server, its database and the train function run in."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        log_retention: logs.RetentionDays,
        buckets: Sequence[s3.IBucket],
        table: dynamodb.ITableV2,
        release_store: str | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        self.vpc = ec2.Vpc(
            self,
            "Vpc",
            ip_addresses=ec2.IpAddresses.cidr("10.40.0.0/16"),
            max_azs=2,
            nat_gateways=0,
            subnet_configuration=[
                ec2.SubnetConfiguration(name="isolated", subnet_type=ec2.SubnetType.PRIVATE_ISOLATED, cidr_mask=22),
                # No address on launch: only a task that asks for one (the MLflow server) gets one.
                ec2.SubnetConfiguration(
                    name="public", subnet_type=ec2.SubnetType.PUBLIC, cidr_mask=24, map_public_ip_on_launch=False
                ),
            ],
            gateway_endpoints={
                "S3": ec2.GatewayVpcEndpointOptions(
                    service=ec2.GatewayVpcEndpointAwsService.S3, subnets=[ISOLATED, PUBLIC]
                ),
                "DynamoDb": ec2.GatewayVpcEndpointOptions(
                    service=ec2.GatewayVpcEndpointAwsService.DYNAMODB, subnets=[ISOLATED]
                ),
            },
        )
        self._restrict_gateway_endpoints(buckets, table, release_store)
        # Rejected flows only: what a security review needs, at a fraction of full flow logs.
        self.vpc.add_flow_log(
            "RejectedFlows",
            destination=ec2.FlowLogDestination.to_cloud_watch_logs(
                logs.LogGroup(self, "FlowLogs", retention=log_retention)
            ),
            traffic_type=ec2.FlowLogTrafficType.REJECT,
        )

    def _restrict_gateway_endpoints(
        self, buckets: Sequence[s3.IBucket], table: dynamodb.ITableV2, release_store: str | None
    ) -> None:
        s3_endpoint = self.vpc.node.find_child("S3")
        dynamodb_endpoint = self.vpc.node.find_child("DynamoDb")
        assert isinstance(s3_endpoint, ec2.GatewayVpcEndpoint) and isinstance(dynamodb_endpoint, ec2.GatewayVpcEndpoint)
        # IAM roles decide the actions and prefixes; the endpoint, which buckets can be reached.
        s3_endpoint.add_to_policy(
            iam.PolicyStatement(
                sid="ThisEnvironmentsBuckets",
                principals=[iam.AnyPrincipal()],
                actions=["s3:*"],
                resources=[arn for bucket in buckets for arn in (bucket.bucket_arn, bucket.arn_for_objects("*"))],
                conditions=_THIS_ACCOUNT,
            )
        )
        if release_store is not None:
            # The release store, in the pipeline's account (and this region: the config sees to
            # it): the train function reads locked models' files there, and copies in those of
            # a version it proposes. This account's principals, those files only.
            store = f"arn:{Aws.PARTITION}:s3:::{release_store}"
            s3_endpoint.add_to_policy(
                iam.PolicyStatement(
                    sid="ReleaseStore",
                    principals=[iam.AnyPrincipal()],
                    actions=["s3:GetObject", "s3:PutObject", "s3:ListBucket"],
                    resources=[store, f"{store}/{STORE_PREFIX}*"],
                    conditions=_THIS_ACCOUNT,
                )
            )
        # The MLflow task pulls its image from ECR, whose layers are objects of an AWS-owned
        # bucket fetched through URLs that ECR signs: no condition on the principal's account.
        s3_endpoint.add_to_policy(
            iam.PolicyStatement(
                sid="EcrImageLayers",
                principals=[iam.AnyPrincipal()],
                actions=["s3:GetObject"],
                resources=[f"arn:{Aws.PARTITION}:s3:::{ECR_LAYER_BUCKET}/*"],
            )
        )
        dynamodb_endpoint.add_to_policy(
            iam.PolicyStatement(
                sid="ThisEnvironmentsTable",
                principals=[iam.AnyPrincipal()],
                actions=["dynamodb:*"],
                resources=[table.table_arn, f"{table.table_arn}/index/*"],
                conditions=_THIS_ACCOUNT,
            )
        )
