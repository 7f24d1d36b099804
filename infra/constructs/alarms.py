"""Operational alarms into one encrypted SNS topic: function errors, the API's 5xx rate and p99
latency, dead letters, failed and timed-out training runs, drift and performance drops, a refused
model lock, and the MLflow server (no running task; its database at its capacity ceiling).

Missing data is "not breaching" for every alarm but one: each metric is published only when
something happens (an invocation, a request, a message, a check that emitted its event), so
no data means nothing happened, not that something is broken. The cost: an API that gets no
traffic at all raises no 5xx or latency alarm. The exception is MLflow's task: ECS publishes a
service's metrics only while a task runs, so there, no data is the failure.
"""

from __future__ import annotations

from collections.abc import Mapping

from aws_cdk import Aws, Duration
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cw_actions
from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_rds as rds
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from aws_cdk import aws_sqs as sqs
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from infra.support.metrics import custom_metric
from mlrails.config import AlarmThresholds
from mlrails.metric_names import MetricName

PERIOD = Duration.minutes(5)
# p99 over a quiet 5 minutes is the slowest of a handful of requests: latency alarms only when
# two of three consecutive windows are slow.
LATENCY_WINDOWS, LATENCY_WINDOWS_TO_ALARM = 3, 2
# MLflow runs only while held (mlrails.tracking): a task running this many hours on end means
# a hold nobody gives back, or an idle sweep that does not run. It costs money, not service.
MLFLOW_ALWAYS_ON_HOURS = 12
# Aurora at this share of its maximum capacity for three windows: MLflow slows or fails,
# and serverless_v2_max_capacity needs raising.
DATABASE_ACU_PERCENT, DATABASE_WINDOWS = 90, 3


def pascal(name: str) -> str:
    """``feature_prep`` → ``FeaturePrep``, for construct ids."""
    return "".join(part.capitalize() for part in name.split("_"))


class Alarms(Construct):
    """``topic`` and the ``alarms`` on it; the API's own two (what a canary watches) also as
    ``api_5xx_rate`` and ``api_p99_latency``."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        functions: Mapping[str, lambda_.IFunction],
        api: apigw.RestApi,
        state_machines: Mapping[str, sfn.IStateMachine],
        dead_letter_queues: Mapping[str, sqs.IQueue],
        email: str | None,
        thresholds: AlarmThresholds,
        model_name: str,
        mlflow_service: ecs.FargateService,
        mlflow_database: rds.DatabaseCluster,
    ) -> None:
        super().__init__(scope, construct_id)
        key = kms.Key(self, "TopicKey", enable_key_rotation=True, description="mlrails alarm topic")
        # CloudWatch publishes to the encrypted topic with this key.
        key.grant(iam.ServicePrincipal("cloudwatch.amazonaws.com"), "kms:Decrypt", "kms:GenerateDataKey*")
        self.topic = sns.Topic(self, "Topic", master_key=key, enforce_ssl=True)
        # Said, not left to an implicit grant: CloudWatch may publish here, for this account's
        # alarms only (another account's alarm naming this topic is refused).
        self.topic.add_to_resource_policy(
            iam.PolicyStatement(
                sid="CloudWatchAlarmsOfThisAccount",
                principals=[iam.ServicePrincipal("cloudwatch.amazonaws.com")],
                actions=["sns:Publish"],
                resources=[self.topic.topic_arn],
                conditions={"StringEquals": {"aws:SourceAccount": Aws.ACCOUNT_ID}},
            )
        )
        if email:
            self.topic.add_subscription(subscriptions.EmailSubscription(email))
        action = cw_actions.SnsAction(self.topic)

        self.alarms: list[cloudwatch.Alarm] = []

        def alarm(
            construct_id: str,
            metric: cloudwatch.IMetric,
            description: str,
            *,
            threshold: float = 1,
            comparison: cloudwatch.ComparisonOperator = (
                cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD
            ),
            evaluation_periods: int = 1,
            datapoints_to_alarm: int | None = None,
            missing_data: cloudwatch.TreatMissingData = cloudwatch.TreatMissingData.NOT_BREACHING,
        ) -> cloudwatch.Alarm:
            created = metric.create_alarm(
                self,
                construct_id,
                alarm_description=description,
                threshold=threshold,
                evaluation_periods=evaluation_periods,
                datapoints_to_alarm=datapoints_to_alarm,
                comparison_operator=comparison,
                treat_missing_data=missing_data,
            )
            created.add_alarm_action(action)
            self.alarms.append(created)
            return created

        for name, fn in functions.items():
            alarm(
                f"{pascal(name)}Errors",
                fn.metric_errors(period=PERIOD, statistic="Sum"),
                f"The {name} function raised errors",
            )

        # A rate, not a count: one 5xx in a busy hour is noise, a tenth of a quiet one is not.
        server_error_rate = cloudwatch.MathExpression(
            expression="errors / requests",
            using_metrics={
                "errors": api.metric_server_error(period=PERIOD, statistic="Sum"),
                "requests": api.metric_count(period=PERIOD, statistic="Sum"),
            },
            period=PERIOD,
            label="Share of requests answered 5xx",
        )
        self.api_5xx_rate = alarm(
            "Api5xxRate",
            server_error_rate,
            f"More than {thresholds.api_5xx_rate:.2%} of the inference API's requests were answered 5xx "
            "(environments.<env>.alarms.api_5xx_rate)",
            threshold=thresholds.api_5xx_rate,
            comparison=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
        )
        self.api_p99_latency = alarm(
            "ApiP99Latency",
            api.metric_latency(period=PERIOD, statistic="p99"),
            f"The inference API's p99 latency stayed above {thresholds.api_p99_ms:g} ms "
            "(environments.<env>.alarms.api_p99_ms)",
            threshold=thresholds.api_p99_ms,
            comparison=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
            evaluation_periods=LATENCY_WINDOWS,
            datapoints_to_alarm=LATENCY_WINDOWS_TO_ALARM,
        )

        for name, machine in state_machines.items():
            # Failed and timed out alike: a timed-out execution reaches none of its own failure
            # handling (a failed training run publishes TrainingFailed; a failed batch job still
            # writes its summary).
            alarm(
                f"{pascal(name)}ExecutionsFailed",
                machine.metric_failed(period=PERIOD, statistic="Sum"),
                f"A {name} execution failed",
            )
            alarm(
                f"{pascal(name)}ExecutionsTimedOut",
                machine.metric_timed_out(period=PERIOD, statistic="Sum"),
                f"A {name} execution timed out",
            )
        for name, queue in dead_letter_queues.items():
            alarm(
                f"{pascal(name)}DeadLetters",
                queue.metric_approximate_number_of_messages_visible(period=PERIOD, statistic="Maximum"),
                f"Events for {name} could not be processed and wait in its dead-letter queue",
            )

        # The checks count their events (1 each time one is published): an email per event.
        alarm(
            "DriftDetected",
            custom_metric(MetricName.DRIFT_DETECTED, model_name, statistic="Sum", period=PERIOD),
            f"The drift check published DriftDetected for {model_name}",
        )
        alarm(
            "PerformanceDegraded",
            custom_metric(MetricName.PERFORMANCE_DEGRADED, model_name, statistic="Sum", period=PERIOD),
            f"The performance check published PerformanceDegraded for {model_name}",
        )
        # The release pipeline's apply step fails too, but a file that does not hash to what the
        # lock says may be tampering: whoever is on call hears of it.
        alarm(
            "ReleaseRefused",
            custom_metric(MetricName.RELEASE_REFUSED, model_name, statistic="Sum", period=PERIOD),
            f"The train function refused to apply a model lock of {model_name} (a file's sha256 or the "
            "signature differs from the lock's): this environment still serves what it served",
        )

        # Without Container Insights (off: see mlflow_service.py) there is no RunningTaskCount;
        # AWS/ECS publishes the service's CPUUtilization each minute while a task runs, and
        # nothing while none does (the normal, idle state: missing data is not breaching).
        alarm(
            "MlflowAlwaysOn",
            mlflow_service.metric_cpu_utilization(period=Duration.hours(1), statistic="SampleCount"),
            f"The MLflow tracking server has run for {MLFLOW_ALWAYS_ON_HOURS} hours on end: a hold nobody "
            "gives back, or an idle sweep that does not run (the TrackingIdle schedule, tracking_switch)",
            threshold=1,
            evaluation_periods=MLFLOW_ALWAYS_ON_HOURS,
        )
        # Paused (0 ACU) is idle, not a fault: only a database held at its ceiling alarms.
        alarm(
            "MlflowDatabaseAtCapacity",
            mlflow_database.metric_acu_utilization(period=PERIOD, statistic="Average"),
            f"MLflow's Aurora database stayed at {DATABASE_ACU_PERCENT}% or more of its maximum capacity "
            "(raise serverless_v2_max_capacity in infra/constructs/mlflow_service.py)",
            threshold=DATABASE_ACU_PERCENT,
            evaluation_periods=DATABASE_WINDOWS,
        )
