"""One CloudWatch dashboard per environment, top to bottom in the order an operator asks:
is it up (alarms, API), are the functions healthy, is the model still right (drift, quality,
business), what did the retraining loop do, and is anything stuck (dead letters)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from aws_cdk import CfnOutput, Duration
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from infra.constructs.pipeline_function import PipelineFunction
from infra.support.metrics import custom_metric
from mlrails.metric_names import MetricName

# The API and the functions in 5-minute steps, like their alarms.
OPERATIONS_PERIOD = Duration.minutes(5)
# The checks and the retraining loop run a few times a day at most: hourly sums show each run.
LOOP_PERIOD = Duration.hours(1)
FULL, HALF, THIRD = 24, 12, 8
HEIGHT = 6

# Cold starts are not a Lambda metric: they are in each invocation's report log record. The
# functions log in Lambda's JSON format, where that record is {"type": "platform.report",
# "record": {"metrics": {...}}} (the text format's "REPORT ... Init Duration" line, which Logs
# Insights parses into @initDuration, is not written then). SnapStart functions (inference)
# report restoreDurationMs instead of initDurationMs.
COLD_START_QUERY = (
    'filter type = "platform.report"',
    "filter ispresent(record.metrics.initDurationMs) or ispresent(record.metrics.restoreDurationMs)",
    "fields coalesce(record.metrics.initDurationMs, record.metrics.restoreDurationMs) as coldStartMs",
    "stats count(*) as coldStarts, pct(coldStartMs, 50) as p50Ms, pct(coldStartMs, 99) as p99Ms, "
    "max(coldStartMs) as maxMs by @log",
)


class Dashboard(Construct):
    """``dashboard``: the environment's operational view."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        model_name: str,
        functions: Mapping[str, PipelineFunction],
        api: apigw.RestApi,
        training: sfn.IStateMachine,
        alarms: Sequence[cloudwatch.IAlarm],
    ) -> None:
        super().__init__(scope, construct_id)

        def custom(name: MetricName, statistic: str, label: str | None = None) -> cloudwatch.Metric:
            return custom_metric(name, model_name, statistic=statistic, period=LOOP_PERIOD, label=label)

        def per_function(metric: str, statistic: str) -> list[cloudwatch.IMetric]:
            return [
                fn.function.metric(metric, statistic=statistic, period=OPERATIONS_PERIOD, label=name)
                for name, fn in functions.items()
            ]

        def graph(
            title: str,
            left: Sequence[cloudwatch.IMetric],
            *,
            right: Sequence[cloudwatch.IMetric] = (),
            width: int = HALF,
        ) -> cloudwatch.GraphWidget:
            return cloudwatch.GraphWidget(title=title, left=list(left), right=list(right), width=width, height=HEIGHT)

        api_metrics = dict(period=OPERATIONS_PERIOD)
        rows: list[list[cloudwatch.IWidget]] = [
            [cloudwatch.AlarmStatusWidget(title="Alarms", alarms=list(alarms), width=FULL, height=4)],
            [
                graph(
                    "API latency (ms)",
                    [
                        api.metric_latency(statistic="p50", label="Latency p50", **api_metrics),
                        api.metric_latency(statistic="p99", label="Latency p99", **api_metrics),
                        api.metric_integration_latency(statistic="p50", label="IntegrationLatency p50", **api_metrics),
                        api.metric_integration_latency(statistic="p99", label="IntegrationLatency p99", **api_metrics),
                    ],
                ),
                graph(
                    "API requests and errors",
                    [
                        api.metric_count(statistic="Sum", label="Requests", **api_metrics),
                        api.metric_client_error(statistic="Sum", label="4xx", **api_metrics),
                        api.metric_server_error(statistic="Sum", label="5xx", **api_metrics),
                    ],
                ),
            ],
            [
                graph("Function errors", per_function("Errors", "Sum"), width=THIRD),
                graph("Function throttles", per_function("Throttles", "Sum"), width=THIRD),
                graph("Invocations", per_function("Invocations", "Sum"), width=THIRD),
            ],
            [
                graph("Function duration p50 (ms)", per_function("Duration", "p50")),
                graph("Function duration p99 (ms)", per_function("Duration", "p99")),
            ],
            [
                cloudwatch.LogQueryWidget(
                    title="Cold starts: init (or SnapStart restore) duration, ms",
                    log_group_names=[fn.log_group.log_group_name for fn in functions.values()],
                    query_lines=list(COLD_START_QUERY),
                    view=cloudwatch.LogQueryVisualizationType.TABLE,
                    width=HALF,
                    height=HEIGHT,
                ),
                graph(
                    "Predictions and feedback",
                    [
                        custom(MetricName.PREDICTED_ROWS, "Sum"),
                        custom(MetricName.FEEDBACK_LABELS, "Sum"),
                        custom(MetricName.FEEDBACK_REFUSED, "Sum"),
                        custom(MetricName.CAPTURE_FAILURES, "Sum"),
                    ],
                ),
            ],
            [
                graph(
                    "Drift",
                    [custom(MetricName.DRIFTED_FEATURE_SHARE, "Maximum", "Drifted features (%)")],
                    right=[custom(MetricName.DRIFT_DETECTED, "Sum")],
                    width=THIRD,
                ),
                graph(
                    "Model quality and business KPI",
                    [
                        custom(MetricName.MODEL_QUALITY, "Average"),
                        custom(MetricName.BUSINESS_KPI, "Average"),
                    ],
                    right=[custom(MetricName.PERFORMANCE_DEGRADED, "Sum")],
                    width=THIRD,
                ),
                graph(
                    "Labels fed back",
                    [custom(MetricName.LABEL_COVERAGE, "Average", "Label coverage (%)")],
                    right=[custom(MetricName.LABELLED_ROWS, "Sum")],
                    width=THIRD,
                ),
            ],
            [
                graph(
                    "Retraining, promotions and releases",
                    [
                        custom(MetricName.RETRAIN_REQUESTED, "Sum"),
                        custom(MetricName.RETRAIN_DECLINED, "Sum"),
                        custom(MetricName.MODEL_PROMOTED, "Sum"),
                        custom(MetricName.MODEL_REJECTED, "Sum"),
                        custom(MetricName.RELEASE_REFUSED, "Sum"),
                        # The train function's events, put on the bus from the outbox (or not).
                        custom(MetricName.EVENTS_RELAYED, "Sum"),
                        custom(MetricName.OUTBOX_MALFORMED, "Sum"),
                    ],
                    width=THIRD,
                ),
                graph(
                    "Training runs",
                    [
                        training.metric_started(period=LOOP_PERIOD, statistic="Sum", label="Started"),
                        training.metric_succeeded(period=LOOP_PERIOD, statistic="Sum", label="Succeeded"),
                        training.metric_failed(period=LOOP_PERIOD, statistic="Sum", label="Failed"),
                        training.metric_timed_out(period=LOOP_PERIOD, statistic="Sum", label="Timed out"),
                    ],
                    width=THIRD,
                ),
                graph(
                    "Data intake",
                    [
                        custom(MetricName.FEATURE_ROWS, "Sum"),
                        custom(MetricName.FILES_QUARANTINED, "Sum"),
                    ],
                    width=THIRD,
                ),
            ],
            [
                graph(
                    "Dead-letter queues (messages waiting)",
                    [
                        fn.dead_letter_queue.metric_approximate_number_of_messages_visible(
                            period=OPERATIONS_PERIOD, statistic="Maximum", label=name
                        )
                        for name, fn in functions.items()
                        if fn.dead_letter_queue is not None
                    ],
                    width=FULL,
                ),
            ],
        ]
        # No dashboard_name: CloudFormation names it (the output says which), so environments
        # and projects in one account cannot collide.
        self.dashboard = cloudwatch.Dashboard(self, "Dashboard", widgets=rows)
        CfnOutput(
            self,
            "DashboardName",
            value=self.dashboard.dashboard_name,
            description="CloudWatch → Dashboards → this name",
        )
