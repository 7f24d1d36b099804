"""Operational monitoring in the template: the dashboard's widgets, each alarm with its metric,
threshold and SNS action, and retries + a dead-letter destination for every function that
events invoke."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from aws_cdk import Stack
from aws_cdk.assertions import Match, Template

from infra.constructs.pipeline_function import ASYNC_RETRY_ATTEMPTS
from infra.stage import MlrailsStage
from mlrails import wiring
from mlrails.config import ProjectConfig
from mlrails.metric_names import MetricName, dimensions

# Every custom metric the dashboard charts; the per-item ones (PSI.<feature>, ...) and the
# diagnostics (window rows, files gone) are left to the metrics console.
CHARTED = set(MetricName) - {
    MetricName.PSI,
    MetricName.DRIFT_SCORE,
    MetricName.QUALITY_METRIC,
    MetricName.DRIFT_WINDOW_ROWS,
    MetricName.FILES_GONE,
}


def logical_id(stack: Stack, construct: Any) -> str:
    return stack.get_logical_id(construct.node.default_child)


def dashboard_body(template: Template) -> dict:
    """The dashboard's JSON with every CloudFormation token (a Ref, a GetAtt) replaced by
    ``"<token>"``: DashboardBody is an Fn::Join of literal JSON and tokens."""
    [dashboard] = template.find_resources("AWS::CloudWatch::Dashboard").values()
    separator, parts = dashboard["Properties"]["DashboardBody"]["Fn::Join"]
    return json.loads(separator.join(part if isinstance(part, str) else "<token>" for part in parts))


def graphed_metrics(body: dict) -> list[list]:
    """Every metric line of every graph: ``[namespace, name, dimension, value, ..., {options}]``."""
    return [
        line
        for widget in body["widgets"]
        if widget["type"] == "metric"
        for line in widget["properties"].get("metrics", [])
    ]


def custom_metric_dimensions(body: dict) -> dict[str, dict[str, str]]:
    lines = [line for line in graphed_metrics(body) if line[0] == wiring.METRICS_NAMESPACE]
    fields = [[part for part in line if not isinstance(part, dict)] for line in lines]
    return {f[1]: dict(zip(f[2::2], f[3::2], strict=True)) for f in fields}


@pytest.fixture(scope="module")
def body(service_template: Template) -> dict:
    return dashboard_body(service_template)


def alarms(template: Template) -> dict[str, dict]:
    return {
        logical: resource["Properties"]
        for logical, resource in template.find_resources("AWS::CloudWatch::Alarm").items()
    }


# ---------------------------------------------------------------- dashboard


def test_one_dashboard_per_environment(app, cfg: ProjectConfig) -> None:
    for name in cfg.environments:
        stage = app.node.find_child(name)
        assert isinstance(stage, MlrailsStage)
        Template.from_stack(stage.service).resource_count_is("AWS::CloudWatch::Dashboard", 1)


def test_custom_metrics_are_charted_with_exactly_the_dimensions_they_are_published_with(
    body: dict, cfg: ProjectConfig
) -> None:
    charted = custom_metric_dimensions(body)
    assert set(charted) == {metric.value for metric in CHARTED}
    for metric in CHARTED:
        assert charted[metric.value] == dimensions(metric, cfg.model.name), metric


def test_api_latency_percentiles_and_status_codes_are_charted(body: dict, cfg: ProjectConfig) -> None:
    api_lines = [line for line in graphed_metrics(body) if line[0] == "AWS/ApiGateway"]
    charted = {(line[1], line[-1].get("stat")) for line in api_lines}
    assert {
        ("Latency", "p50"),
        ("Latency", "p99"),
        ("IntegrationLatency", "p50"),
        ("IntegrationLatency", "p99"),
        ("Count", "Sum"),
        ("4XXError", "Sum"),
        ("5XXError", "Sum"),
    } <= charted
    # The environment's own API, by its name (metrics are keyed by API name).
    assert all(line[2:4] == ["ApiName", f"mlrails-{cfg.project}-dev"] for line in api_lines)


def test_every_function_has_errors_throttles_and_duration_percentiles(body: dict, dev: MlrailsStage) -> None:
    lambda_lines = [line for line in graphed_metrics(body) if line[0] == "AWS/Lambda"]
    charted = {(line[1], line[-1]["label"], line[-1].get("stat", "Average")) for line in lambda_lines}
    for name in dev.service.functions:
        for metric, stat in (("Errors", "Sum"), ("Throttles", "Sum"), ("Duration", "p50"), ("Duration", "p99")):
            assert (metric, name, stat) in charted


def test_cold_starts_are_queried_from_every_function_log_group(body: dict, dev: MlrailsStage) -> None:
    [query] = [widget for widget in body["widgets"] if widget["type"] == "log"]
    text = query["properties"]["query"]
    # One SOURCE per function log group (their names are tokens here), then the query.
    assert text.count("SOURCE '<token>'") == len(dev.service.functions)
    assert 'type = "platform.report"' in text and "record.metrics.initDurationMs" in text
    assert "record.metrics.restoreDurationMs" in text  # SnapStart's cold start (inference)


def test_training_runs_dead_letters_and_alarm_status_are_shown(body: dict, dev: MlrailsStage) -> None:
    lines = graphed_metrics(body)
    assert {line[1] for line in lines if line[0] == "AWS/States"} >= {
        "ExecutionsStarted",
        "ExecutionsSucceeded",
        "ExecutionsFailed",
        "ExecutionsTimedOut",
    }
    queues = [line for line in lines if line[0] == "AWS/SQS"]
    assert {line[-1]["label"] for line in queues} == {
        name for name, fn in dev.service.functions.items() if fn.dead_letter_queue is not None
    }
    [status] = [widget for widget in body["widgets"] if widget["type"] == "alarm"]
    assert len(status["properties"]["alarms"]) == len(dev.service.alarms.alarms)


# ---------------------------------------------------------------- alarms


def test_every_alarm_notifies_the_topic_and_treats_missing_data_as_not_breaching(
    service_template: Template, dev: MlrailsStage
) -> None:
    topic = {"Ref": logical_id(dev.service, dev.service.alarms.topic)}
    found = alarms(service_template)
    assert len(found) == len(dev.service.alarms.alarms)
    for properties in found.values():
        assert properties["AlarmActions"] == [topic]
        # The one exception: ECS publishes nothing for a service with no running task.
        if properties.get("Namespace") != "AWS/ECS":
            assert properties["TreatMissingData"] == "notBreaching"


def test_api_5xx_rate_alarm_divides_server_errors_by_requests(service_template: Template, cfg: ProjectConfig) -> None:
    [rate] = [p for p in alarms(service_template).values() if "Metrics" in p]
    assert rate["Threshold"] == cfg.environments["dev"].alarms.api_5xx_rate
    assert rate["ComparisonOperator"] == "GreaterThanThreshold"
    queries = {query["Id"]: query for query in rate["Metrics"]}
    [expression] = [q for q in rate["Metrics"] if "Expression" in q]
    assert expression["Expression"] == "errors / requests" and expression.get("ReturnData", True)
    stats = {queries[name]["MetricStat"]["Metric"]["MetricName"] for name in ("errors", "requests")}
    assert stats == {"5XXError", "Count"}
    for name in ("errors", "requests"):
        assert queries[name]["ReturnData"] is False
        assert queries[name]["MetricStat"]["Stat"] == "Sum"


def test_api_p99_latency_alarm(service_template: Template, cfg: ProjectConfig) -> None:
    service_template.has_resource_properties(
        "AWS::CloudWatch::Alarm",
        {
            "Namespace": "AWS/ApiGateway",
            "MetricName": "Latency",
            "ExtendedStatistic": "p99",
            "Dimensions": [{"Name": "ApiName", "Value": f"mlrails-{cfg.project}-dev"}],
            "Threshold": cfg.environments["dev"].alarms.api_p99_ms,
            "ComparisonOperator": "GreaterThanThreshold",
            "EvaluationPeriods": 3,
            "DatapointsToAlarm": 2,
        },
    )


@pytest.mark.parametrize(
    "metric", [MetricName.DRIFT_DETECTED, MetricName.PERFORMANCE_DEGRADED, MetricName.RELEASE_REFUSED]
)
def test_drift_performance_drops_and_refused_locks_alarm_on_their_counts(
    service_template: Template, cfg: ProjectConfig, metric: MetricName
) -> None:
    [found] = [p for p in alarms(service_template).values() if p.get("MetricName") == metric.value]
    assert found["Namespace"] == wiring.METRICS_NAMESPACE and found["Statistic"] == "Sum"
    assert {d["Name"]: d["Value"] for d in found["Dimensions"]} == dimensions(metric, cfg.model.name)
    assert found["Threshold"] == 1 and found["ComparisonOperator"] == "GreaterThanOrEqualToThreshold"


def test_every_function_has_an_errors_alarm_and_every_dead_letter_queue_a_depth_alarm(
    service_template: Template, dev: MlrailsStage
) -> None:
    found = alarms(service_template).values()
    errors = {p["Dimensions"][0]["Value"]["Ref"] for p in found if p.get("MetricName") == "Errors"}
    assert errors == {logical_id(dev.service, fn.function) for fn in dev.service.functions.values()}
    depth = {
        p["Dimensions"][0]["Value"]["Fn::GetAtt"][0]
        for p in found
        if p.get("MetricName") == "ApproximateNumberOfMessagesVisible"
    }
    assert depth == {
        logical_id(dev.service, fn.dead_letter_queue)
        for fn in dev.service.functions.values()
        if fn.dead_letter_queue is not None
    }


def test_the_topic_is_encrypted_and_refuses_plain_http(service_template: Template) -> None:
    service_template.has_resource_properties("AWS::SNS::Topic", {"KmsMasterKeyId": Match.any_value()})
    service_template.has_resource_properties(
        "AWS::SNS::TopicPolicy",
        {
            "PolicyDocument": {
                "Statement": Match.array_with(
                    [
                        Match.object_like(
                            {
                                "Effect": "Deny",
                                "Condition": {"Bool": {"aws:SecureTransport": "false"}},
                            }
                        )
                    ]
                )
            },
        },
    )
    service_template.has_resource_properties("AWS::KMS::Key", {"EnableKeyRotation": True})
    service_template.resource_count_is("AWS::SNS::Subscription", 0)  # no alarm_email in mlrails.yaml


def test_cloudwatch_may_publish_to_the_topic_for_this_accounts_alarms_only(
    service_template: Template, dev: MlrailsStage
) -> None:
    topic = {"Ref": logical_id(dev.service, dev.service.alarms.topic)}
    service_template.has_resource_properties(
        "AWS::SNS::TopicPolicy",
        {
            "Topics": [topic],
            "PolicyDocument": {
                "Statement": Match.array_with(
                    [
                        Match.object_like(
                            {
                                "Effect": "Allow",
                                "Principal": {"Service": "cloudwatch.amazonaws.com"},
                                "Action": "sns:Publish",
                                "Resource": topic,
                                "Condition": {"StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}},
                            }
                        )
                    ]
                )
            },
        },
    )


def test_mlflow_running_half_a_day_on_end_alarms(service_template: Template, dev: MlrailsStage) -> None:
    # MLflow runs only while held: no task is the idle state, not a fault. Without Container
    # Insights AWS/ECS's CPUUtilization has samples only while a task runs: twelve hourly
    # windows with samples mean a hold nobody gave back, or a sweep that does not run.
    [found] = [p for p in alarms(service_template).values() if p.get("Namespace") == "AWS/ECS"]
    assert found["MetricName"] == "CPUUtilization" and found["Statistic"] == "SampleCount"
    assert found["ComparisonOperator"] == "GreaterThanOrEqualToThreshold" and found["Threshold"] == 1
    assert found["Period"] == 3600 and found["EvaluationPeriods"] == 12
    assert found["TreatMissingData"] == "notBreaching"
    assert {d["Name"] for d in found["Dimensions"]} == {"ClusterName", "ServiceName"}
    # The service is the Tracking stack's, imported (Tracking deploys before Service).
    assert all("Fn::ImportValue" in d["Value"] for d in found["Dimensions"])
    assert "dev/Tracking" in {stack.node.path for stack in dev.service.dependencies}
    assert "dev/Service" not in {stack.node.path for stack in dev.tracking.dependencies}


def test_mlflow_database_at_its_capacity_ceiling_alarms(service_template: Template) -> None:
    [found] = [p for p in alarms(service_template).values() if p.get("Namespace") == "AWS/RDS"]
    assert found["MetricName"] == "ACUUtilization" and found["Statistic"] == "Average"
    assert found["Threshold"] == 90 and found["ComparisonOperator"] == "GreaterThanOrEqualToThreshold"
    assert found["EvaluationPeriods"] == 3 and found["TreatMissingData"] == "notBreaching"
    [dimension] = found["Dimensions"]
    assert dimension["Name"] == "DBClusterIdentifier" and "Fn::ImportValue" in dimension["Value"]


@pytest.fixture(scope="module")
def tuned_template(dev_service_template: Callable[[dict[str, Any]], Template]) -> Template:
    """dev with thresholds of its own."""
    return dev_service_template({"alarms": {"api_5xx_rate": 0.05, "api_p99_ms": 250}})


def test_thresholds_come_from_the_environment_config(tuned_template: Template) -> None:
    thresholds = {
        p.get("MetricName", "rate"): p["Threshold"]
        for p in alarms(tuned_template).values()
        if p.get("MetricName") in (None, "Latency")
    }
    assert thresholds == {"rate": 0.05, "Latency": 250}


# ---------------------------------------------------------------- asynchronous functions


@pytest.mark.parametrize("spec", [spec for spec in wiring.FUNCTIONS if spec.asynchronous], ids=lambda s: s.name)
def test_every_asynchronous_function_retries_then_dead_letters(
    service_template: Template, dev: MlrailsStage, spec: wiring.FunctionSpec
) -> None:
    fn = dev.service.functions[spec.name]  # a function in the wiring that the stack left out fails here
    assert fn.dead_letter_queue is not None
    queue = logical_id(dev.service, fn.dead_letter_queue)
    service_template.has_resource_properties(
        "AWS::Lambda::EventInvokeConfig",
        {
            "FunctionName": {"Ref": logical_id(dev.service, fn.function)},
            "MaximumRetryAttempts": ASYNC_RETRY_ATTEMPTS,
            "DestinationConfig": {"OnFailure": {"Destination": {"Fn::GetAtt": [queue, "Arn"]}}},
        },
    )
