"""The idle monthly cost: what the templates' resources are billed by the hour or the month
whether anything uses them or not. Every resource lands in one of three lists: priced (a line
item), free at rest (with why), or not priced (a type this model does not know: listed, never
silently dropped). Stored data (S3 objects, log events, database storage) is left out: it
grows with use, and the issue's target excludes it."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from mlrails.cost.assembly import Stack, references, target
from mlrails.cost.prices import HOURS_PER_MONTH, PRICES

SECONDS_PER_MONTH = HOURS_PER_MONTH * 3600
_FARGATE_FREE_STORAGE_GB = 20


@dataclass(frozen=True)
class LineItem:
    """One resource's monthly cost: ``quantity`` of ``price`` (a key of ``PRICES``) a month."""

    stack: str
    logical_id: str
    resource_type: str
    price: str
    quantity: float
    note: str = ""

    @property
    def unit_usd(self) -> float:
        return PRICES[self.price].usd

    @property
    def monthly_usd(self) -> float:
        return self.quantity * self.unit_usd


@dataclass(frozen=True)
class IdleCost:
    """An environment's idle month: priced line items, resources free at rest (type → count
    and why), and resources of types this model does not price."""

    items: list[LineItem]
    free: dict[str, tuple[int, str]] = field(default_factory=dict)
    not_priced: list[tuple[str, str, str]] = field(default_factory=list)  # stack, logical id, type

    @property
    def monthly_usd(self) -> float:
        return sum(item.monthly_usd for item in self.items)


# Free at rest: billed per use only, or not at all. Matched on the type, then on its service.
_FREE: dict[str, str] = {
    "AWS::IAM::": "IAM is free",
    "AWS::ApiGateway::": "API Gateway bills per request",
    "AWS::Lambda::": "billed per request and GB-second",
    "AWS::Events::": "EventBridge bills per event",
    "AWS::Scheduler::": "EventBridge Scheduler bills per invocation",
    "AWS::SQS::": "SQS bills per request",
    "AWS::SNS::": "SNS bills per message",
    "AWS::StepFunctions::": "Step Functions bills per state transition",
    "AWS::CodeBuild::": "CodeBuild bills per build minute",
    "AWS::CodeDeploy::": "CodeDeploy to Lambda is free",
    "AWS::KinesisFirehose::": "Firehose bills per GB ingested",
    "AWS::ECS::Service": "desired count 0: no task runs",
    "AWS::EC2::VPCEndpoint": "gateway endpoints are free",
    "AWS::ECS::Cluster": "an ECS cluster is free; its tasks are billed (ECS services priced apart)",
    "AWS::ECS::TaskDefinition": "billed when a task runs (ECS services priced apart)",
    "AWS::ServiceDiscovery::Service": "its registered instances are priced with the ECS service",
    "AWS::ServiceDiscovery::HttpNamespace": "an HTTP namespace has no hosted zone",
    "AWS::KMS::Alias": "aliases are free",
    "AWS::SecretsManager::SecretTargetAttachment": "an attachment is free",
    "AWS::RDS::DBSubnetGroup": "free",
    "AWS::RDS::DBClusterParameterGroup": "free",
    "AWS::RDS::DBParameterGroup": "free",
    "AWS::RDS::DBCluster": "compute is billed per instance (priced apart); storage grows with use: left out",
    "AWS::S3::Bucket": "storage and requests grow with use: left out",
    "AWS::S3::BucketPolicy": "free",
    "AWS::Logs::": "ingestion and storage grow with use: left out",
    "AWS::EC2::VPC": "free",
    "AWS::EC2::Subnet": "free",
    "AWS::EC2::RouteTable": "free",
    "AWS::EC2::Route": "free",
    "AWS::EC2::SubnetRouteTableAssociation": "free",
    "AWS::EC2::SecurityGroup": "free",
    "AWS::EC2::InternetGateway": "free (public IPv4 addresses are not)",
    "AWS::EC2::VPCGatewayAttachment": "free",
    "AWS::EC2::FlowLog": "its log ingestion grows with rejected traffic: left out",
    "AWS::DynamoDB::": "on-demand: billed per request; storage grows with use: left out",
    "AWS::SSM::Parameter": "standard parameters are free (advanced ones priced apart)",
    "AWS::CodePipeline::Pipeline": "a V2 pipeline bills per action-minute (V1 priced apart)",
    "AWS::ECR::": "image storage grows with use: left out",
    "AWS::CloudFormation::": "free",
    "AWS::CDK::Metadata": "not deployed as a billed resource",
    "Custom::": "a deploy-time custom resource (a Lambda run at deploy)",
}


def _free_reason(resource_type: str) -> str | None:
    matches = [prefix for prefix in _FREE if resource_type == prefix or resource_type.startswith(prefix)]
    return _FREE[max(matches, key=len)] if matches else None


class _NotPriced(Exception):
    """Raised by a pricer: the resource is billed, but not by a price of this table."""


Pricer = Callable[[Stack, str, dict[str, Any]], list[LineItem] | None]  # None: free in this configuration


def _interface_endpoint(stack: Stack, logical_id: str, props: dict[str, Any]) -> list[LineItem] | None:
    if props.get("VpcEndpointType", "Gateway") != "Interface":
        return None  # gateway endpoints (S3, DynamoDB) are free
    zones = len(props.get("SubnetIds", [])) or 1  # one network interface, so one billed AZ, per subnet
    service = props.get("ServiceName")
    name = service["Fn::Join"][1][-1].lstrip(".") if isinstance(service, dict) and "Fn::Join" in service else service
    return [
        LineItem(
            stack.name,
            logical_id,
            "AWS::EC2::VPCEndpoint",
            "vpc_interface_endpoint_az_hour",
            zones * HOURS_PER_MONTH,
            f"interface endpoint {name} in {zones} AZ",
        )
    ]


def _nat_gateway(stack: Stack, logical_id: str, props: dict[str, Any]) -> list[LineItem]:
    return [LineItem(stack.name, logical_id, "AWS::EC2::NatGateway", "nat_gateway_hour", HOURS_PER_MONTH)]


def _load_balancer(stack: Stack, logical_id: str, props: dict[str, Any]) -> list[LineItem] | None:
    if props.get("Type", "application") == "gateway":
        raise _NotPriced
    return [
        LineItem(
            stack.name,
            logical_id,
            "AWS::ElasticLoadBalancingV2::LoadBalancer",
            "load_balancer_hour",
            HOURS_PER_MONTH,
            "hourly charge only; LCUs grow with use",
        )
    ]


def fargate_usage(task_definition: dict[str, Any], hours: float, *, count: float = 1) -> list[tuple[str, float, str]]:
    """(price, quantity, note) of Fargate's vCPU, memory and extra ephemeral storage for
    ``count`` tasks of ``task_definition`` running ``hours``."""
    arm = task_definition.get("RuntimePlatform", {}).get("CpuArchitecture") == "ARM64"
    arch = "arm" if arm else "x86"
    vcpu = int(task_definition.get("Cpu", 256)) / 1024
    memory_gb = int(task_definition.get("Memory", 512)) / 1024
    storage_gb = max(task_definition.get("EphemeralStorage", {}).get("SizeInGiB", 0) - _FARGATE_FREE_STORAGE_GB, 0)
    shape = f"{count:g} task × {vcpu:g} vCPU, {memory_gb:g} GB ({'ARM' if arm else 'x86'}) × {hours:g} h"
    usage = [
        (f"fargate_{arch}_vcpu_hour", count * vcpu * hours, shape),
        (f"fargate_{arch}_gb_hour", count * memory_gb * hours, shape),
    ]
    if storage_gb:
        usage.append(("fargate_storage_gb_hour", count * storage_gb * hours, f"{storage_gb:g} GB above the free 20 GB"))
    return usage


def _ecs_service(stack: Stack, logical_id: str, props: dict[str, Any]) -> list[LineItem] | None:
    providers = {strategy.get("CapacityProvider") for strategy in props.get("CapacityProviderStrategy", [])}
    count = props.get("DesiredCount", 1)  # CloudFormation's default
    if count == 0:
        return None
    if props.get("LaunchType") != "FARGATE" and not providers & {"FARGATE", "FARGATE_SPOT"}:
        raise _NotPriced  # tasks on EC2 instances: the instances are what is billed
    task_definition = stack.properties(target(props.get("TaskDefinition")))
    # Fargate Spot is priced as on-demand: its discount varies, so the figure is an upper bound.
    items = [
        LineItem(stack.name, logical_id, "AWS::ECS::Service", price, quantity, note)
        for price, quantity, note in fargate_usage(task_definition, HOURS_PER_MONTH, count=count)
    ]
    network = props.get("NetworkConfiguration", {}).get("AwsvpcConfiguration", {})
    if network.get("AssignPublicIp") == "ENABLED":
        items.append(
            LineItem(
                stack.name,
                logical_id,
                "AWS::ECS::Service",
                "public_ipv4_hour",
                count * HOURS_PER_MONTH,
                "each running task holds a public IPv4 address",
            )
        )
    for _registry in props.get("ServiceRegistries", []):
        items.append(
            LineItem(
                stack.name,
                logical_id,
                "AWS::ECS::Service",
                "cloud_map_resource_month",
                count,
                "each running task is a registered Cloud Map instance",
            )
        )
    return items


def _db_instance(stack: Stack, logical_id: str, props: dict[str, Any]) -> list[LineItem] | None:
    if props.get("DBInstanceClass") != "db.serverless":
        raise _NotPriced  # provisioned classes are not in the table
    scaling = stack.properties(target(props.get("DBClusterIdentifier"))).get("ServerlessV2ScalingConfiguration", {})
    minimum = float(scaling.get("MinCapacity", 0.5))
    if minimum == 0:
        pause = scaling.get("SecondsUntilAutoPause", 300)
        note = f"pauses at 0 ACU after {pause / 60:g} min without connections: no compute idle"
    else:
        note = f"never below {minimum:g} ACU"
    return [
        LineItem(
            stack.name,
            logical_id,
            "AWS::RDS::DBInstance",
            "aurora_serverless_v2_acu_hour",
            minimum * HOURS_PER_MONTH,
            note,
        )
    ]


def _alarm(stack: Stack, logical_id: str, props: dict[str, Any]) -> list[LineItem]:
    queries = props.get("Metrics", [])
    metrics = sum(1 for query in queries if "MetricStat" in query) or 1
    if any("ANOMALY_DETECTION_BAND" in str(query.get("Expression", "")) for query in queries):
        metrics *= 3  # the metric and the band's two bounds
    periods = [props.get("Period")] + [query.get("MetricStat", {}).get("Period") for query in queries]
    high_resolution = any(period is not None and period < 60 for period in periods)
    price = "alarm_metric_high_res_month" if high_resolution else "alarm_metric_month"
    note = f"{metrics} metrics (metric math)" if metrics > 1 else ""
    return [LineItem(stack.name, logical_id, "AWS::CloudWatch::Alarm", price, metrics, note)]


def _monthly(price: str, note: str = "", quantity: float = 1) -> Pricer:
    """A resource billed ``quantity`` of ``price`` a month whatever its properties."""

    def price_it(stack: Stack, logical_id: str, props: dict[str, Any]) -> list[LineItem]:
        resource_type = stack.resources[logical_id]["Type"]
        return [LineItem(stack.name, logical_id, resource_type, price, quantity, note)]

    return price_it


def _ssm_parameter(stack: Stack, logical_id: str, props: dict[str, Any]) -> list[LineItem] | None:
    return (
        _monthly("ssm_advanced_parameter_month")(stack, logical_id, props) if props.get("Tier") == "Advanced" else None
    )


def _pipeline(stack: Stack, logical_id: str, props: dict[str, Any]) -> list[LineItem] | None:
    return None if props.get("PipelineType") == "V2" else _monthly("codepipeline_v1_month")(stack, logical_id, props)


def _function(stack: Stack, logical_id: str, props: dict[str, Any]) -> list[LineItem] | None:
    """SnapStart's snapshot cache, paid for each published version while it exists."""
    if props.get("SnapStart", {}).get("ApplyOn") != "PublishedVersions":
        return None
    versions = sum(1 for _, version in stack.of_type("AWS::Lambda::Version") if logical_id in references(version))
    memory_gb = props.get("MemorySize", 128) / 1024
    return [
        LineItem(
            stack.name,
            logical_id,
            "AWS::Lambda::Function",
            "lambda_snapstart_cache_gb_second",
            max(versions, 1) * memory_gb * SECONDS_PER_MONTH,
            f"SnapStart cache: {max(versions, 1)} version(s) in the template × {memory_gb:g} GB "
            "(each retained older version adds as much)",
        )
    ]


def _dynamodb_table(stack: Stack, logical_id: str, props: dict[str, Any]) -> list[LineItem] | None:
    if props.get("BillingMode", "PROVISIONED") != "PAY_PER_REQUEST":
        raise _NotPriced  # provisioned capacity units are billed by the hour: not in the table
    return None


def _provisioned(stack: Stack, logical_id: str, props: dict[str, Any]) -> list[LineItem] | None:
    executions = props.get("ProvisionedConcurrencyConfig", {}).get("ProvisionedConcurrentExecutions", 0)
    if not executions:
        return None
    memory_gb = stack.properties(target(props.get("FunctionName"))).get("MemorySize", 128) / 1024
    return [
        LineItem(
            stack.name,
            logical_id,
            stack.resources[logical_id]["Type"],
            "lambda_provisioned_x86_gb_second",
            executions * memory_gb * SECONDS_PER_MONTH,
            f"{executions} provisioned × {memory_gb:g} GB",
        )
    ]


PRICERS: dict[str, Pricer] = {
    "AWS::EC2::VPCEndpoint": _interface_endpoint,
    "AWS::EC2::NatGateway": _nat_gateway,
    "AWS::EC2::EIP": _monthly("public_ipv4_hour", "an Elastic IP address", HOURS_PER_MONTH),
    "AWS::ElasticLoadBalancingV2::LoadBalancer": _load_balancer,
    "AWS::ECS::Service": _ecs_service,
    "AWS::RDS::DBInstance": _db_instance,
    "AWS::KMS::Key": _monthly("kms_key_month"),
    "AWS::SecretsManager::Secret": _monthly("secret_month"),
    "AWS::CloudWatch::Alarm": _alarm,
    "AWS::CloudWatch::CompositeAlarm": _monthly("composite_alarm_month"),
    "AWS::CloudWatch::Dashboard": _monthly("dashboard_month", "the account's first three are free: not applied"),
    "AWS::ServiceDiscovery::PrivateDnsNamespace": _monthly("route53_hosted_zone_month", "its Route 53 hosted zone"),
    "AWS::ServiceDiscovery::PublicDnsNamespace": _monthly("route53_hosted_zone_month", "its Route 53 hosted zone"),
    "AWS::Route53::HostedZone": _monthly("route53_hosted_zone_month"),
    "AWS::SSM::Parameter": _ssm_parameter,
    "AWS::CodePipeline::Pipeline": _pipeline,
    "AWS::Lambda::Function": _function,
    "AWS::DynamoDB::Table": _dynamodb_table,
    "AWS::DynamoDB::GlobalTable": _dynamodb_table,
    "AWS::Lambda::Alias": _provisioned,
    "AWS::Lambda::Version": _provisioned,
}


def idle_cost(stacks: Iterable[Stack]) -> IdleCost:
    """The idle month of ``stacks``: every resource priced, free at rest, or listed as not priced."""
    items: list[LineItem] = []
    free: dict[str, tuple[int, str]] = {}
    not_priced: list[tuple[str, str, str]] = []
    for stack in stacks:
        for logical_id, resource in stack.resources.items():
            resource_type = resource.get("Type", "")
            pricer = PRICERS.get(resource_type)
            reason = _free_reason(resource_type)
            try:
                found = pricer(stack, logical_id, resource.get("Properties", {})) if pricer else None
            except _NotPriced:
                found, reason = None, None
            if found:
                items.extend(found)
            elif reason is not None:
                count, _ = free.get(resource_type, (0, reason))
                free[resource_type] = (count + 1, reason)
            else:
                not_priced.append((stack.name, logical_id, resource_type))
    return IdleCost(items, dict(sorted(free.items())), not_priced)
