"""The cost model on small hand-written templates: each priced type, free and unknown types,
AZ counting, Aurora paused or not, a training run, a million predictions, and the command."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from mlrails.cli import main
from mlrails.cost.assembly import Stack, shared_stacks, stage_stacks
from mlrails.cost.idle import idle_cost
from mlrails.cost.prices import HOURS_PER_MONTH, PRICES
from mlrails.cost.usage import million_predictions, training_run
from mlrails.errors import ConfigError


def stack(**resources: dict[str, Any]) -> Stack:
    return Stack("env/Stack", resources)


def resource(resource_type: str, **properties: Any) -> dict[str, Any]:
    return {"Type": resource_type, "Properties": properties}


def month(price: str, quantity: float = HOURS_PER_MONTH) -> float:
    return PRICES[price].usd * quantity


def priced(cost, logical_id: str) -> float:
    return sum(item.monthly_usd for item in cost.items if item.logical_id == logical_id)


def test_an_interface_endpoint_is_billed_per_az_and_a_gateway_endpoint_is_free():
    cost = idle_cost(
        [
            stack(
                Logs=resource(
                    "AWS::EC2::VPCEndpoint",
                    VpcEndpointType="Interface",
                    SubnetIds=[{"Ref": "A"}, {"Ref": "B"}, {"Ref": "C"}],
                ),
                S3=resource("AWS::EC2::VPCEndpoint", VpcEndpointType="Gateway"),
            )
        ]
    )
    assert priced(cost, "Logs") == pytest.approx(3 * month("vpc_interface_endpoint_az_hour"))  # $21.90
    assert priced(cost, "S3") == 0
    assert cost.free["AWS::EC2::VPCEndpoint"] == (1, "gateway endpoints are free")


def test_a_nat_gateway_is_billed_by_the_hour():
    cost = idle_cost([stack(Nat=resource("AWS::EC2::NatGateway"))])
    assert cost.monthly_usd == pytest.approx(month("nat_gateway_hour"))


def fargate(desired: int, *, arm: bool = False, **service: Any) -> Stack:
    platform = {"CpuArchitecture": "ARM64" if arm else "X86_64"}
    return stack(
        Task=resource("AWS::ECS::TaskDefinition", Cpu="512", Memory="2048", RuntimePlatform=platform),
        Service=resource("AWS::ECS::Service", DesiredCount=desired, TaskDefinition={"Ref": "Task"}, **service),
    )


def test_a_fargate_service_costs_its_tasks_for_the_month():
    cost = idle_cost([fargate(2, LaunchType="FARGATE")])
    expected = 2 * (0.5 * month("fargate_x86_vcpu_hour") + 2 * month("fargate_x86_gb_hour"))
    assert priced(cost, "Service") == pytest.approx(expected)
    arm = idle_cost([fargate(1, arm=True, CapacityProviderStrategy=[{"CapacityProvider": "FARGATE"}])])
    assert priced(arm, "Service") == pytest.approx(
        0.5 * month("fargate_arm_vcpu_hour") + 2 * month("fargate_arm_gb_hour")
    )


def test_a_task_with_a_public_ip_pays_for_the_address_and_so_does_an_elastic_ip():
    public = {"AwsvpcConfiguration": {"AssignPublicIp": "ENABLED"}}
    with_ip = idle_cost([fargate(1, LaunchType="FARGATE", NetworkConfiguration=public)])
    without = idle_cost([fargate(1, LaunchType="FARGATE")])
    assert with_ip.monthly_usd - without.monthly_usd == pytest.approx(month("public_ipv4_hour"))  # $3.65
    assert idle_cost([stack(Ip=resource("AWS::EC2::EIP"))]).monthly_usd == pytest.approx(month("public_ipv4_hour"))


def test_a_service_scaled_to_zero_is_free_and_one_on_ec2_is_not_priced():
    assert idle_cost([fargate(0, LaunchType="FARGATE")]).monthly_usd == 0
    on_ec2 = idle_cost([fargate(1, LaunchType="EC2")])
    assert on_ec2.not_priced == [("env/Stack", "Service", "AWS::ECS::Service")]


def aurora(minimum: float, instance_class: str = "db.serverless") -> Stack:
    scaling = {"MinCapacity": minimum, "MaxCapacity": 2, "SecondsUntilAutoPause": 900}
    return stack(
        Cluster=resource("AWS::RDS::DBCluster", ServerlessV2ScalingConfiguration=scaling),
        Writer=resource("AWS::RDS::DBInstance", DBInstanceClass=instance_class, DBClusterIdentifier={"Ref": "Cluster"}),
    )


def test_aurora_that_pauses_costs_nothing_idle_and_one_that_does_not_costs_its_floor():
    paused = idle_cost([aurora(0)])
    assert paused.monthly_usd == 0
    assert "pauses at 0 ACU after 15 min" in next(item.note for item in paused.items if item.logical_id == "Writer")
    assert idle_cost([aurora(0.5)]).monthly_usd == pytest.approx(0.5 * month("aurora_serverless_v2_acu_hour"))  # $43.80
    assert idle_cost([aurora(0, "db.r6g.large")]).not_priced == [("env/Stack", "Writer", "AWS::RDS::DBInstance")]


def test_keys_secrets_alarms_dashboards_and_namespaces_are_billed_by_the_month():
    cost = idle_cost(
        [
            stack(
                Key=resource("AWS::KMS::Key"),
                Secret=resource("AWS::SecretsManager::Secret"),
                Alarm=resource("AWS::CloudWatch::Alarm", MetricName="Errors", Period=300),
                Rate=resource(
                    "AWS::CloudWatch::Alarm",
                    Metrics=[{"MetricStat": {"Period": 300}}, {"MetricStat": {"Period": 300}}, {"Expression": "m1/m2"}],
                ),
                Fast=resource("AWS::CloudWatch::Alarm", MetricName="Errors", Period=10),
                Composite=resource("AWS::CloudWatch::CompositeAlarm"),
                Dashboard=resource("AWS::CloudWatch::Dashboard"),
                Namespace=resource("AWS::ServiceDiscovery::PrivateDnsNamespace"),
                Parameter=resource("AWS::SSM::Parameter", Tier="Advanced"),
            )
        ]
    )
    expected = {
        "Key": 1.00,
        "Secret": 0.40,
        "Alarm": 0.10,
        "Rate": 0.20,
        "Fast": 0.30,
        "Composite": 0.50,
        "Dashboard": 3.00,
        "Namespace": 0.50,
        "Parameter": 0.05,
    }
    assert {logical_id: round(priced(cost, logical_id), 2) for logical_id in expected} == expected
    assert cost.monthly_usd == pytest.approx(sum(expected.values()))


def test_free_types_say_why_and_unknown_types_are_listed_not_dropped():
    cost = idle_cost(
        [
            stack(
                Role=resource("AWS::IAM::Role"),
                Function=resource("AWS::Lambda::Function", MemorySize=1024),
                Table=resource("AWS::DynamoDB::Table", BillingMode="PAY_PER_REQUEST"),
                Provisioned=resource("AWS::DynamoDB::Table"),
                Cache=resource("AWS::ElastiCache::CacheCluster"),
            )
        ]
    )
    assert cost.free["AWS::IAM::Role"] == (1, "IAM is free")
    assert cost.free["AWS::Lambda::Function"][0] == 1
    assert cost.free["AWS::DynamoDB::Table"][0] == 1
    assert cost.not_priced == [
        ("env/Stack", "Provisioned", "AWS::DynamoDB::Table"),
        ("env/Stack", "Cache", "AWS::ElastiCache::CacheCluster"),
    ]


def test_snapstart_caches_a_snapshot_of_each_published_version():
    cost = idle_cost(
        [
            stack(
                Function=resource("AWS::Lambda::Function", MemorySize=2048, SnapStart={"ApplyOn": "PublishedVersions"}),
                Version=resource("AWS::Lambda::Version", FunctionName={"Ref": "Function"}),
            )
        ]
    )
    assert priced(cost, "Function") == pytest.approx(
        month("lambda_snapstart_cache_gb_second", 2 * HOURS_PER_MONTH * 3600)
    )


def test_provisioned_concurrency_is_billed_idle():
    cost = idle_cost(
        [
            stack(
                Function=resource("AWS::Lambda::Function", MemorySize=1024),
                Live=resource(
                    "AWS::Lambda::Alias",
                    FunctionName={"Ref": "Function"},
                    ProvisionedConcurrencyConfig={"ProvisionedConcurrentExecutions": 2},
                ),
            )
        ]
    )
    assert priced(cost, "Live") == pytest.approx(month("lambda_provisioned_x86_gb_second", 2 * HOURS_PER_MONTH * 3600))


def definition(document: dict[str, Any]) -> dict[str, Any]:
    """A DefinitionString as CDK writes it: JSON text joined around intrinsics (``@@Id@@``
    in ``document`` becomes a reference to resource ``Id``)."""
    parts = re.split(r"@@(\w+)@@", json.dumps(document))
    return {"Fn::Join": ["", [part if i % 2 == 0 else {"Fn::GetAtt": [part, "Arn"]} for i, part in enumerate(parts)]]}


def training_stack(**extra: dict[str, Any]) -> Stack:
    states = {
        "Train": {"Type": "Task", "Resource": "@@TrainFunction@@", "Next": "Fit"},
        "Fit": {
            "Type": "Task",
            "Resource": "arn:aws:states:::ecs:runTask.sync",
            "Parameters": {"TaskDefinition": "@@FitTask@@"},
            "End": True,
        },
    }
    return stack(
        TrainFunction=resource("AWS::Lambda::Function", MemorySize=2048, Architectures=["arm64"]),
        FitTask=resource("AWS::ECS::TaskDefinition", Cpu="4096", Memory="16384"),
        Pipeline=resource(
            "AWS::StepFunctions::StateMachine", DefinitionString=definition({"StartAt": "Train", "States": states})
        ),
        **extra,
    )


def test_a_training_run_prices_its_lambda_and_fargate_steps_for_the_given_durations():
    run = training_run([training_stack()], {"train": 120, "Fit": 1800})
    assert run is not None
    expected = (
        month("lambda_arm_gb_second", 2 * 120)
        + month("lambda_requests_million", 1e-6)
        + month("fargate_x86_vcpu_hour", 4 * 0.5)
        + month("fargate_x86_gb_hour", 16 * 0.5)
        + month("step_functions_standard_1k", 2 / 1000)
    )
    assert run.usd == pytest.approx(expected)
    assert run.assumptions == {"Train seconds": "120", "Fit seconds": "1800"}


def test_a_training_run_wakes_a_paused_database_until_it_pauses_again():
    database = aurora(0).resources
    with_database = training_run([training_stack(**database)], {"train": 120, "fit": 180})
    without = training_run([training_stack()], {"train": 120, "fit": 180})
    assert with_database is not None and without is not None
    assert with_database.usd - without.usd == pytest.approx(
        month("aurora_serverless_v2_acu_hour", 0.5 * (300 + 900) / 3600)
    )


def test_no_training_state_machine_no_estimate():
    assert training_run([stack(Role=resource("AWS::IAM::Role"))]) is None


def api_stack(*, traced: bool) -> Stack:
    uri = {"Fn::Join": ["", ["arn:aws:apigateway:lambda:path/functions/", {"Ref": "Live"}, "/invocations"]]}
    return stack(
        Function=resource(
            "AWS::Lambda::Function", MemorySize=1024, TracingConfig={"Mode": "Active" if traced else "PassThrough"}
        ),
        Live=resource("AWS::Lambda::Alias", FunctionName={"Ref": "Function"}),
        Invocations=resource("AWS::ApiGateway::Resource", PathPart="invocations"),
        Post=resource(
            "AWS::ApiGateway::Method", HttpMethod="POST", ResourceId={"Ref": "Invocations"}, Integration={"Uri": uri}
        ),
        Capture=resource("AWS::KinesisFirehose::DeliveryStream", ExtendedS3DestinationConfiguration={}),
    )


def test_a_million_predictions_price_the_api_the_function_and_the_sampled_captures():
    estimate = million_predictions(
        [api_stack(traced=False)], sample_rate=0.5, request_ms=3.2, capture_bytes=700, log_bytes=0
    )
    assert estimate is not None
    charges = {charge.what: charge.usd for charge in estimate.charges}
    assert charges["API Gateway requests"] == pytest.approx(3.50)
    assert charges["inference duration"] == pytest.approx(month("lambda_x86_gb_second", 1e6 * 1 * 0.004))  # 4 ms billed
    assert charges["capture ingestion"] == pytest.approx(month("firehose_gb", 0.5e6 * 5120 / 2**30))  # 5 KB a record
    assert "X-Ray traces" not in charges
    traced = million_predictions([api_stack(traced=True)], sample_rate=0.5)
    assert traced is not None and any(charge.what == "X-Ray traces" for charge in traced.charges)


def write_assembly(root: Path, environment: str, resources: dict[str, Any]) -> None:
    nested = root / f"assembly-{environment}"
    nested.mkdir(parents=True)
    (nested / "envService.template.json").write_text(json.dumps({"Resources": resources}))
    stack_artifact = {
        "type": "aws:cloudformation:stack",
        "displayName": f"{environment}/Service",
        "properties": {"templateFile": "envService.template.json"},
    }
    (nested / "manifest.json").write_text(json.dumps({"artifacts": {"envService": stack_artifact}}))
    stage = {"type": "cdk:cloud-assembly", "properties": {"directoryName": f"assembly-{environment}"}}
    (root / "manifest.json").write_text(json.dumps({"artifacts": {f"assembly-{environment}": stage}}))


def test_the_stage_s_templates_are_read_from_the_cloud_assembly(tmp_path):
    write_assembly(tmp_path, "dev", {"Key": resource("AWS::KMS::Key")})
    (stacks,) = [stage_stacks(tmp_path, "dev")]
    assert [s.name for s in stacks] == ["dev/Service"] and "Key" in stacks[0].resources
    assert shared_stacks(tmp_path) == []
    with pytest.raises(ConfigError, match="no such stage"):
        stage_stacks(tmp_path, "prod")
    with pytest.raises(ConfigError, match="run `make synth` first"):
        stage_stacks(tmp_path / "missing", "dev")


def test_the_command_prints_the_table_or_says_to_synthesize_first(tmp_path, capsys):
    write_assembly(tmp_path, "dev", {"Key": resource("AWS::KMS::Key"), "Odd": resource("AWS::Foo::Bar")})
    assert main(["cost", "--env", "dev", "--cdk-out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "dev: idle $1.00/month" in out and "not priced" in out and "AWS::Foo::Bar" in out
    assert main(["cost", "--env", "dev", "--cdk-out", str(tmp_path), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["idle_usd_month"] == 1.0
    assert main(["cost", "--env", "dev", "--cdk-out", str(tmp_path / "none")]) == 2
    assert "run `make synth` first" in capsys.readouterr().err
    assert main(["cost", "--env", "dev", "--cdk-out", str(tmp_path), "--step-seconds", "train"]) == 2
