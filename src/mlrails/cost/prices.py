"""The price table: us-east-1 on-demand list prices in USD, as taken on ``TAKEN``; ``NOTE``
says what they leave out and how each was checked (the docs' price table prints it)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

REGION = "us-east-1"
TAKEN = date(2026, 12, 3)
HOURS_PER_MONTH = 730  # AWS's own convention for monthly estimates (8,760 h / 12)

NOTE = (
    "No free tier is applied (an account's allowances are shared by everything in it, and three "
    "environments in one account use them up): the figures are what the resources cost on a bill that "
    "has already spent them. The last column says how each price was confirmed on that date; a price "
    'marked "not re-checked" is a known list price that could not be fetched again here: check it on '
    "the page it links before relying on it."
)

_CROSS_CHECKED = "cross-checked on 2026-12-03 against published copies of the AWS page"
_NOT_RECHECKED = "from the AWS pricing page, not re-checked on 2026-12-03"


@dataclass(frozen=True)
class Price:
    """One list price: ``usd`` per ``unit``, where it comes from and how it was checked."""

    usd: float
    unit: str
    service: str
    source: str
    checked: str = _NOT_RECHECKED


def _page(service: str) -> str:
    return f"https://aws.amazon.com/{service}/pricing/"


PRICES: dict[str, Price] = {
    # Networking
    "vpc_interface_endpoint_az_hour": Price(
        0.01, "endpoint-AZ-hour", "AWS PrivateLink", _page("privatelink"), _CROSS_CHECKED
    ),
    "vpc_interface_endpoint_gb": Price(0.01, "GB processed", "AWS PrivateLink", _page("privatelink"), _CROSS_CHECKED),
    "nat_gateway_hour": Price(0.045, "gateway-hour", "Amazon VPC", _page("vpc")),
    "nat_gateway_gb": Price(0.045, "GB processed", "Amazon VPC", _page("vpc")),
    "load_balancer_hour": Price(
        0.0225, "ALB/NLB-hour (LCUs extra)", "Elastic Load Balancing", _page("elasticloadbalancing")
    ),
    "public_ipv4_hour": Price(0.005, "public IPv4 address-hour (in use or idle)", "Amazon VPC", _page("vpc")),
    "route53_hosted_zone_month": Price(0.50, "hosted zone-month", "Amazon Route 53", _page("route53")),
    "cloud_map_resource_month": Price(
        0.10, "registered instance-month", "AWS Cloud Map", _page("cloud-map"), _CROSS_CHECKED
    ),
    # Containers
    "fargate_x86_vcpu_hour": Price(0.04048, "vCPU-hour", "AWS Fargate (Linux/x86)", _page("fargate"), _CROSS_CHECKED),
    "fargate_x86_gb_hour": Price(0.004445, "GB-hour", "AWS Fargate (Linux/x86)", _page("fargate"), _CROSS_CHECKED),
    "fargate_arm_vcpu_hour": Price(0.03238, "vCPU-hour", "AWS Fargate (Linux/ARM)", _page("fargate"), _CROSS_CHECKED),
    "fargate_arm_gb_hour": Price(0.00356, "GB-hour", "AWS Fargate (Linux/ARM)", _page("fargate"), _CROSS_CHECKED),
    "fargate_storage_gb_hour": Price(
        0.000111, "GB-hour of ephemeral storage above 20 GB", "AWS Fargate", _page("fargate"), _CROSS_CHECKED
    ),
    "ecr_storage_gb_month": Price(0.10, "GB-month", "Amazon ECR", _page("ecr")),
    # Database
    "aurora_serverless_v2_acu_hour": Price(
        0.12, "ACU-hour", "Aurora Serverless v2 (PostgreSQL, standard)", _page("rds/aurora"), _CROSS_CHECKED
    ),
    "aurora_storage_gb_month": Price(0.10, "GB-month", "Amazon Aurora (standard)", _page("rds/aurora")),
    "aurora_io_million": Price(0.20, "million I/O requests", "Amazon Aurora (standard)", _page("rds/aurora")),
    "dynamodb_write_million": Price(0.625, "million write request units", "DynamoDB on-demand", _page("dynamodb")),
    "dynamodb_read_million": Price(0.125, "million read request units", "DynamoDB on-demand", _page("dynamodb")),
    # Security
    "kms_key_month": Price(1.00, "customer managed key-month", "AWS KMS", _page("kms")),
    "kms_requests_10k": Price(0.03, "10,000 requests", "AWS KMS", _page("kms")),
    "secret_month": Price(0.40, "secret-month", "AWS Secrets Manager", _page("secrets-manager")),
    "secret_api_10k": Price(0.05, "10,000 API calls", "AWS Secrets Manager", _page("secrets-manager")),
    "ssm_advanced_parameter_month": Price(
        0.05, "advanced parameter-month", "AWS Systems Manager", _page("systems-manager")
    ),
    # Monitoring
    "alarm_metric_month": Price(
        0.10, "alarm metric-month (standard resolution)", "Amazon CloudWatch", _page("cloudwatch")
    ),
    "alarm_metric_high_res_month": Price(
        0.30, "alarm metric-month (high resolution)", "Amazon CloudWatch", _page("cloudwatch")
    ),
    "composite_alarm_month": Price(0.50, "composite alarm-month", "Amazon CloudWatch", _page("cloudwatch")),
    "dashboard_month": Price(
        3.00,
        "dashboard-month (the account's first three are free: not applied)",
        "Amazon CloudWatch",
        _page("cloudwatch"),
    ),
    "custom_metric_month": Price(0.30, "custom metric-month (first 10,000)", "Amazon CloudWatch", _page("cloudwatch")),
    "logs_ingestion_gb": Price(0.50, "GB ingested (standard class)", "Amazon CloudWatch Logs", _page("cloudwatch")),
    "xray_traces_million": Price(5.00, "million traces recorded", "AWS X-Ray", _page("xray")),
    # Compute
    "lambda_x86_gb_second": Price(0.0000166667, "GB-second", "AWS Lambda (x86)", _page("lambda")),
    "lambda_arm_gb_second": Price(0.0000133334, "GB-second", "AWS Lambda (Arm)", _page("lambda")),
    "lambda_requests_million": Price(0.20, "million requests", "AWS Lambda", _page("lambda"), _CROSS_CHECKED),
    "lambda_provisioned_x86_gb_second": Price(
        0.0000041667, "GB-second provisioned", "AWS Lambda provisioned concurrency (x86)", _page("lambda")
    ),
    "lambda_snapstart_cache_gb_second": Price(
        0.0000015046,
        "GB-second cached, per published version",
        "AWS Lambda SnapStart (Python)",
        _page("lambda"),
        _CROSS_CHECKED,
    ),
    "lambda_snapstart_restore_gb": Price(
        0.0001397998, "GB restored (per cold start)", "AWS Lambda SnapStart (Python)", _page("lambda"), _CROSS_CHECKED
    ),
    # Integration
    "api_gateway_rest_million": Price(
        3.50, "million requests (first 333 million)", "Amazon API Gateway (REST)", _page("api-gateway")
    ),
    "step_functions_standard_1k": Price(
        0.025, "1,000 state transitions", "AWS Step Functions (standard)", _page("step-functions")
    ),
    "eventbridge_custom_million": Price(1.00, "million custom events", "Amazon EventBridge", _page("eventbridge")),
    "firehose_gb": Price(
        0.029,
        "GB ingested, each record rounded up to 5 KB (first 500 TB)",
        "Amazon Data Firehose (Direct PUT)",
        _page("firehose"),
        _CROSS_CHECKED,
    ),
    "firehose_partitioning_gb": Price(
        0.02, "GB delivered with dynamic partitioning", "Amazon Data Firehose", _page("firehose")
    ),
    "s3_put_1k": Price(0.005, "1,000 PUT/COPY/POST/LIST requests", "Amazon S3 Standard", _page("s3")),
    "s3_get_1k": Price(0.0004, "1,000 GET requests", "Amazon S3 Standard", _page("s3")),
    "s3_storage_gb_month": Price(
        0.023, "GB-month (first 50 TB; not in the idle figure)", "Amazon S3 Standard", _page("s3")
    ),
    "codepipeline_v1_month": Price(
        1.00, "active V1 pipeline-month (V2: per action-minute)", "AWS CodePipeline", _page("codepipeline")
    ),
}
