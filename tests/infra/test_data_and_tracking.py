"""The Data stack (buckets, table, bus, config) and the Tracking stack (VPC, MLflow)."""

from __future__ import annotations

import json

from aws_cdk.assertions import Match, Template

from infra.support.nag import flatten_cfn_reference
from mlrails import wiring
from mlrails.config import ProjectConfig

SECURE_BUCKET = {
    "BucketEncryption": {
        "ServerSideEncryptionConfiguration": [{"ServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]
    },
    "VersioningConfiguration": {"Status": "Enabled"},
    "PublicAccessBlockConfiguration": {
        "BlockPublicAcls": True,
        "BlockPublicPolicy": True,
        "IgnorePublicAcls": True,
        "RestrictPublicBuckets": True,
    },
}


def test_buckets_are_encrypted_versioned_private_and_logged(data_template: Template) -> None:
    data_template.resource_count_is("AWS::S3::Bucket", 3)
    data_template.all_resources_properties("AWS::S3::Bucket", SECURE_BUCKET)
    # Data and artifacts buckets log to the access-log bucket.
    logged = data_template.find_resources(
        "AWS::S3::Bucket", {"Properties": {"LoggingConfiguration": {"DestinationBucketName": Match.any_value()}}}
    )
    assert len(logged) == 2


def test_every_bucket_policy_denies_plain_http(data_template: Template) -> None:
    data_template.resource_count_is("AWS::S3::BucketPolicy", 3)
    data_template.all_resources_properties(
        "AWS::S3::BucketPolicy",
        {
            "PolicyDocument": {
                "Statement": Match.array_with(
                    [
                        Match.object_like(
                            {
                                "Effect": "Deny",
                                "Action": "s3:*",
                                "Condition": {"Bool": {"aws:SecureTransport": "false"}},
                            }
                        )
                    ]
                )
            },
        },
    )


def _deny_writes_except(template: Template, prefixes: list[str]) -> dict:
    """The artifacts bucket policy's statement denying changes under ``prefixes``."""
    policies = [
        p
        for p in template.find_resources("AWS::S3::BucketPolicy").values()
        if "ArtifactsBucket" in str(p["Properties"]["Bucket"])
    ]
    assert len(policies) == 1
    found = [
        s
        for s in policies[0]["Properties"]["PolicyDocument"]["Statement"]
        if s["Effect"] == "Deny"
        and "ArnNotEquals" in s.get("Condition", {})
        and sorted(str(r).split("/", 1)[1].split("*")[0] for r in _flat(s["Resource"])) == sorted(prefixes)
    ]
    assert len(found) == 1, found
    return found[0]


def _flat(resources) -> list[str]:
    from infra.support.nag import flatten_cfn_reference

    return [flatten_cfn_reference(r) for r in (resources if isinstance(resources, list) else [resources])]


def test_only_the_train_role_may_change_models_manifests_and_the_audit_log(
    data_template: Template, service_template: Template
) -> None:
    deny = _deny_writes_except(data_template, ["audit/", "manifests/", "models/"])
    assert deny["Principal"] == {"AWS": "*"}
    assert {"s3:PutObject", "s3:DeleteObject", "s3:DeleteObjectVersion"} <= set(deny["Action"])
    [writer] = _flat(deny["Condition"]["ArnNotEquals"]["aws:PrincipalArn"])
    # The same name as the train function's role, which the service stack creates.
    roles = [
        r
        for r in service_template.find_resources("AWS::IAM::Role").values()
        if r["Properties"].get("Description") == "mlrails train function"
    ]
    assert len(roles) == 1
    name = _flat(roles[0]["Properties"]["RoleName"])[0]
    assert writer.endswith(f":role/{name}") and name.startswith("mlrails-churn-dev-")


def test_audit_records_are_locked_and_never_deleted(data_template: Template) -> None:
    buckets = data_template.find_resources("AWS::S3::Bucket", {"Properties": {"ObjectLockEnabled": True}})
    assert len(buckets) == 1 and "ArtifactsBucket" in next(iter(buckets))
    # No default retention: the audit log asks for its lock per record (mlrails.promotion.rails.audit).
    assert "ObjectLockConfiguration" not in next(iter(buckets.values()))["Properties"]
    (policy,) = [
        p
        for p in data_template.find_resources("AWS::S3::BucketPolicy").values()
        if "ArtifactsBucket" in str(p["Properties"]["Bucket"])
    ]
    denied = [
        s
        for s in policy["Properties"]["PolicyDocument"]["Statement"]
        if s["Effect"] == "Deny" and "s3:DeleteObject" in s["Action"] and "Condition" not in s
    ]
    assert len(denied) == 1 and denied[0]["Principal"] == {"AWS": "*"}
    assert {"s3:DeleteObjectVersion", "s3:BypassGovernanceRetention"} <= set(denied[0]["Action"])
    assert [r.split("/", 1)[1] for r in _flat(denied[0]["Resource"])] == ["audit/*"]


def test_only_the_config_deployment_may_change_config(data_template: Template) -> None:
    deny = _deny_writes_except(data_template, ["config/"])
    [writer] = _flat(deny["Condition"]["ArnNotEquals"]["aws:PrincipalArn"])
    assert "CustomCDKBucketDeployment" in writer


def test_data_bucket_sends_events_to_eventbridge_and_expires_captures(data_template: Template) -> None:
    data_template.has_resource_properties(
        "AWS::S3::Bucket",
        {
            "NotificationConfiguration": {"EventBridgeConfiguration": {"EventBridgeEnabled": True}},
            "LifecycleConfiguration": {
                "Rules": Match.array_with(
                    [
                        Match.object_like({"NoncurrentVersionExpiration": Match.any_value()}),
                        Match.object_like(
                            {"Prefix": "capture/", "ExpirationInDays": Match.any_value(), "Status": "Enabled"}
                        ),
                    ]
                )
            },
        },
    )
    data_template.resource_count_is("Custom::S3BucketNotifications", 0)  # native, no custom resource


def test_artifacts_bucket_announces_the_outbox_and_expires_what_stays_there(data_template: Template) -> None:
    """The relay deletes what it put on the bus; what stays (refused, or waiting in the relay's
    dead-letter queue) expires, and deleted outbox versions go the day after."""
    (artifacts,) = [
        b["Properties"]
        for b in data_template.find_resources("AWS::S3::Bucket").values()
        if b["Properties"].get("ObjectLockEnabled")
    ]
    assert artifacts["NotificationConfiguration"] == {"EventBridgeConfiguration": {"EventBridgeEnabled": True}}
    (outbox,) = [r for r in artifacts["LifecycleConfiguration"]["Rules"] if r.get("Prefix") == "outbox/"]
    assert outbox["Status"] == "Enabled" and outbox["ExpirationInDays"] == 14
    assert outbox["NoncurrentVersionExpiration"] == {"NoncurrentDays": 1}
    # No other rule expires current objects of the artifacts bucket: models stay for rollback.
    assert [r for r in artifacts["LifecycleConfiguration"]["Rules"] if "ExpirationInDays" in r] == [outbox]


def test_state_table_bus_and_config(data_template: Template, cfg: ProjectConfig) -> None:
    data_template.has_resource_properties(
        "AWS::DynamoDB::GlobalTable",
        {
            "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}],
            "TimeToLiveSpecification": {"AttributeName": "expires_at", "Enabled": True},
            "Replicas": [Match.object_like({"PointInTimeRecoverySpecification": {"PointInTimeRecoveryEnabled": True}})],
        },
    )
    data_template.resource_count_is("AWS::Events::EventBus", 1)
    data_template.has_resource_properties(
        "Custom::CDKBucketDeployment",
        {
            "DestinationBucketKeyPrefix": wiring.Prefix.CONFIG.value,
            "Prune": False,
        },
    )
    assert wiring.config_key(cfg).startswith(wiring.Prefix.CONFIG.value)


def test_state_table_survives_a_mistaken_delete(data_template: Template) -> None:
    """Deletion protection refuses a DeleteTable (a stack deleted or replaced by hand) and
    point-in-time recovery restores a bad write; RETAIN keeps it out of a stack delete."""
    data_template.has_resource(
        "AWS::DynamoDB::GlobalTable",
        {
            "DeletionPolicy": "Retain",
            "Properties": Match.object_like(
                {
                    "Replicas": [
                        Match.object_like(
                            {
                                "DeletionProtectionEnabled": True,
                                "PointInTimeRecoverySpecification": {"PointInTimeRecoveryEnabled": True},
                            }
                        )
                    ]
                }
            ),
        },
    )


def test_vpc_has_no_nat_and_gives_no_address_unasked(tracking_template: Template) -> None:
    tracking_template.resource_count_is("AWS::EC2::NatGateway", 0)
    tracking_template.resource_count_is("AWS::EC2::EIP", 0)
    # The public subnets' internet gateway is free; only a task that asks gets an address.
    tracking_template.resource_count_is("AWS::EC2::InternetGateway", 1)
    tracking_template.all_resources_properties("AWS::EC2::Subnet", {"MapPublicIpOnLaunch": False})
    tracking_template.has_resource_properties("AWS::EC2::FlowLog", {"TrafficType": "REJECT"})


def test_no_interface_endpoint_only_the_free_gateways(tracking_template: Template) -> None:
    endpoints = tracking_template.find_resources("AWS::EC2::VPCEndpoint")
    gateways = [e for e in endpoints.values() if e["Properties"].get("VpcEndpointType", "Gateway") == "Gateway"]
    # S3 + DynamoDB, and nothing billed by the hour: the train function's events go through S3
    # (the outbox), not an EventBridge endpoint.
    assert len(gateways) == len(endpoints) == 2
    # Nor a way in to one: no group admits HTTPS (what the endpoint's group admitted from the clients).
    ingress = tracking_template.find_resources("AWS::EC2::SecurityGroupIngress").values()
    assert [r for r in ingress if r["Properties"]["FromPort"] == 443] == []
    # S3 on both kinds of subnets: the MLflow task's image layers and artifacts stay off the internet.
    (s3_endpoint,) = [e for e in gateways if ".s3" in json.dumps(e["Properties"]["ServiceName"])]
    assert len(s3_endpoint["Properties"]["RouteTableIds"]) == 4
    tracking_template.all_resources_properties("AWS::EC2::VPCEndpoint", {"VpcId": Match.any_value()})


def test_the_mlflow_task_has_an_address_and_admits_its_clients_only(tracking_template: Template) -> None:
    (service,) = tracking_template.find_resources("AWS::ECS::Service").values()
    network = service["Properties"]["NetworkConfiguration"]["AwsvpcConfiguration"]
    assert network["AssignPublicIp"] == "ENABLED"
    (group,) = network["SecurityGroups"]
    ingress = [
        rule["Properties"]
        for rule in tracking_template.find_resources("AWS::EC2::SecurityGroupIngress").values()
        if rule["Properties"]["GroupId"] == group
    ]
    assert [(r["FromPort"], "SourceSecurityGroupId" in r, r.get("CidrIp")) for r in ingress] == [(5000, True, None)]
    groups = tracking_template.find_resources("AWS::EC2::SecurityGroup")
    assert groups[group["Fn::GetAtt"][0]]["Properties"].get("SecurityGroupIngress") is None  # nothing from outside


THIS_ACCOUNT = {"StringEquals": {"aws:PrincipalAccount": {"Ref": "AWS::AccountId"}}}


def _endpoint_statements(tracking_template: Template, service: str) -> list[dict]:
    """The policy statements of the one endpoint whose service name ends in ``.<service>``."""
    endpoints = [
        e["Properties"]
        for e in tracking_template.find_resources("AWS::EC2::VPCEndpoint").values()
        if json.dumps(e["Properties"]["ServiceName"]).endswith(f'.{service}"]]}}')
        or json.dumps(e["Properties"]["ServiceName"]).endswith(f'.{service}"')
    ]
    assert len(endpoints) == 1, service
    assert "PolicyDocument" in endpoints[0], f"the {service} endpoint has the default full-access policy"
    return endpoints[0]["PolicyDocument"]["Statement"]


def _refs(value: object) -> str:
    return json.dumps(value)


def test_gateway_endpoints_reach_only_this_environments_buckets_table_and_ecr_layers(
    tracking_template: Template, cfg: ProjectConfig
) -> None:
    """The default endpoint policy allows anything: code in the VPC could copy the data to any
    bucket or table. The S3 endpoint admits this environment's buckets (this account's
    principals), ECR's layer bucket, which the MLflow task's image pull reads through URLs
    ECR signs (so no account condition there), and with a release: section the release store's
    files (this account's principals); the DynamoDB endpoint, the state table."""
    s3 = _endpoint_statements(tracking_template, "s3")
    buckets = next(st for st in s3 if st.get("Sid") == "ThisEnvironmentsBuckets")
    assert buckets["Condition"] == THIS_ACCOUNT and buckets["Principal"] == {"AWS": "*"}
    resources = _refs(buckets["Resource"])
    assert "DataBucket" in resources and "ArtifactsBucket" in resources and '"*"' not in resources
    layers = next(st for st in s3 if st.get("Sid") == "EcrImageLayers")
    assert layers["Action"] == "s3:GetObject" and "Condition" not in layers
    assert "-starport-layer-bucket/*" in _refs(layers["Resource"]) and "AWS::Region" in _refs(layers["Resource"])
    release = next(st for st in s3 if st.get("Sid") == "ReleaseStore")
    assert release["Condition"] == THIS_ACCOUNT
    assert sorted(release["Action"]) == ["s3:GetObject", "s3:ListBucket", "s3:PutObject"]
    assert [flatten_cfn_reference(r) for r in release["Resource"]] == [
        f"arn:<AWS::Partition>:s3:::{cfg.release_store}",
        f"arn:<AWS::Partition>:s3:::{cfg.release_store}/release/sha256/*",
    ]
    assert len(s3) == 3
    for statement in s3:
        assert statement["Effect"] == "Allow" and statement["Resource"] != "*"

    (table,) = _endpoint_statements(tracking_template, "dynamodb")
    assert table["Condition"] == THIS_ACCOUNT and "StateTable" in _refs(table["Resource"])
    assert table["Resource"] != "*"


def test_mlflow_runs_as_a_small_fargate_task(tracking_template: Template) -> None:
    tracking_template.has_resource_properties(
        "AWS::ECS::TaskDefinition",
        {
            "Cpu": "256",
            "Memory": "1024",
            "RequiresCompatibilities": ["FARGATE"],
            "ContainerDefinitions": [
                Match.object_like(
                    {
                        "PortMappings": [Match.object_like({"ContainerPort": 5000})],
                        "HealthCheck": Match.object_like({"Command": Match.array_with(["CMD"])}),
                        "LogConfiguration": Match.object_like({"LogDriver": "awslogs"}),
                        "Secrets": Match.array_with([Match.object_like({"Name": "DB_PASSWORD"})]),
                        "Environment": Match.absent(),
                    }
                )
            ],
        },
    )
    tracking_template.has_resource_properties(
        "AWS::ECS::Service",
        {
            "LaunchType": "FARGATE",
            "DesiredCount": 0,  # until held (test_tracking_on_demand.py)
            "EnableExecuteCommand": True,  # `mlrails ui`'s port forward
            # An address to reach ECR, Logs and Secrets Manager: see the test above for who may come in.
            "NetworkConfiguration": {"AwsvpcConfiguration": Match.object_like({"AssignPublicIp": "ENABLED"})},
            "ServiceRegistries": [Match.object_like({"RegistryArn": Match.any_value()})],
        },
    )
    tracking_template.has_resource_properties(
        "AWS::ServiceDiscovery::PrivateDnsNamespace",
        {
            "Name": "churn.dev.internal",
        },
    )


def test_aurora_serverless_scales_to_zero(tracking_template: Template) -> None:
    tracking_template.has_resource_properties(
        "AWS::RDS::DBCluster",
        {
            "Engine": "aurora-postgresql",
            "ServerlessV2ScalingConfiguration": {
                "MinCapacity": 0,
                "MaxCapacity": Match.any_value(),
                "SecondsUntilAutoPause": Match.any_value(),
            },
            "StorageEncrypted": True,
            "DeletionProtection": True,
        },
    )
    tracking_template.has_resource_properties("AWS::RDS::DBInstance", {"DBInstanceClass": "db.serverless"})
    tracking_template.resource_count_is("AWS::SecretsManager::Secret", 1)


def test_mlflow_server_admits_only_its_clients(tracking_template: Template) -> None:
    ingress = tracking_template.find_resources(
        "AWS::EC2::SecurityGroupIngress", {"Properties": {"FromPort": 5000, "ToPort": 5000}}
    )
    assert len(ingress) == 1
    (rule,) = ingress.values()
    assert "SourceSecurityGroupId" in rule["Properties"] and "CidrIp" not in rule["Properties"]
    # Nothing in this stack is open to an address range.
    assert not tracking_template.find_resources(
        "AWS::EC2::SecurityGroupIngress", {"Properties": {"CidrIp": Match.any_value()}}
    )
