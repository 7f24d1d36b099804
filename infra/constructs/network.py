"""A VPC with private isolated subnets only: no NAT gateway, no internet gateway. AWS services
are reached through VPC endpoints (gateway endpoints are free; interface endpoints are open
only to the security groups that need them)."""

from __future__ import annotations

from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_logs as logs
from constructs import Construct

ISOLATED = ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_ISOLATED)

INTERFACE_ENDPOINTS = {
    "Ecr": ec2.InterfaceVpcEndpointAwsService.ECR,
    "EcrDocker": ec2.InterfaceVpcEndpointAwsService.ECR_DOCKER,
    "CloudWatchLogs": ec2.InterfaceVpcEndpointAwsService.CLOUDWATCH_LOGS,
    "SecretsManager": ec2.InterfaceVpcEndpointAwsService.SECRETS_MANAGER,
    "EventBridge": ec2.InterfaceVpcEndpointAwsService.EVENTBRIDGE,
}


class Network(Construct):
    """The VPC the MLflow server, its database and the train function run in."""

    def __init__(self, scope: Construct, construct_id: str, *, log_retention: logs.RetentionDays) -> None:
        super().__init__(scope, construct_id)
        self.vpc = ec2.Vpc(
            self, "Vpc",
            ip_addresses=ec2.IpAddresses.cidr("10.40.0.0/16"),
            max_azs=2,
            nat_gateways=0,
            subnet_configuration=[
                ec2.SubnetConfiguration(name="isolated", subnet_type=ec2.SubnetType.PRIVATE_ISOLATED, cidr_mask=22),
            ],
            gateway_endpoints={
                "S3": ec2.GatewayVpcEndpointOptions(service=ec2.GatewayVpcEndpointAwsService.S3, subnets=[ISOLATED]),
                "DynamoDb": ec2.GatewayVpcEndpointOptions(service=ec2.GatewayVpcEndpointAwsService.DYNAMODB,
                                                          subnets=[ISOLATED]),
            },
        )
        # Rejected flows only: what a security review needs, at a fraction of full flow logs.
        self.vpc.add_flow_log(
            "RejectedFlows",
            destination=ec2.FlowLogDestination.to_cloud_watch_logs(
                logs.LogGroup(self, "FlowLogs", retention=log_retention)),
            traffic_type=ec2.FlowLogTrafficType.REJECT,
        )

        self.endpoint_security_group = ec2.SecurityGroup(
            self, "EndpointSecurityGroup", vpc=self.vpc, allow_all_outbound=False,
            description="Interface VPC endpoints: HTTPS from the MLflow server and the train function only",
        )
        for name, service in INTERFACE_ENDPOINTS.items():
            self.vpc.add_interface_endpoint(
                name, service=service, subnets=ISOLATED, private_dns_enabled=True,
                open=False, security_groups=[self.endpoint_security_group],
            )

    def allow_endpoints_from(self, other: ec2.IConnectable) -> None:
        """Let ``other`` reach the interface endpoints (HTTPS)."""
        self.endpoint_security_group.connections.allow_from(other, ec2.Port.tcp(443), "HTTPS to AWS service endpoints")
