"""Operational alarms into one encrypted SNS topic: function errors, API 5xx, dead letters,
failed and timed-out state machine executions."""

from __future__ import annotations

from collections.abc import Mapping

from aws_cdk import Duration
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cw_actions
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from aws_cdk import aws_sqs as sqs
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

PERIOD = Duration.minutes(5)


class Alarms(Construct):
    """``topic`` and the ``alarms`` on it."""

    def __init__(self, scope: Construct, construct_id: str, *, functions: Mapping[str, lambda_.IFunction],
                 api: apigw.RestApi, state_machines: Mapping[str, sfn.IStateMachine],
                 dead_letter_queues: Mapping[str, sqs.IQueue], email: str | None) -> None:
        super().__init__(scope, construct_id)
        key = kms.Key(self, "TopicKey", enable_key_rotation=True, description="mlrails alarm topic")
        # CloudWatch publishes to the encrypted topic with this key.
        key.grant(iam.ServicePrincipal("cloudwatch.amazonaws.com"), "kms:Decrypt", "kms:GenerateDataKey*")
        self.topic = sns.Topic(self, "Topic", master_key=key, enforce_ssl=True)
        if email:
            self.topic.add_subscription(subscriptions.EmailSubscription(email))
        action = cw_actions.SnsAction(self.topic)

        self.alarms: list[cloudwatch.Alarm] = []

        def alarm(construct_id: str, metric: cloudwatch.IMetric, description: str) -> None:
            created = metric.create_alarm(
                self, construct_id,
                alarm_description=description,
                threshold=1,
                evaluation_periods=1,
                comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
                treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
            )
            created.add_alarm_action(action)
            self.alarms.append(created)

        for name, fn in functions.items():
            alarm(f"{_pascal(name)}Errors", fn.metric_errors(period=PERIOD, statistic="Sum"),
                  f"The {name} function raised errors")
        alarm("Api5xx", api.metric_server_error(period=PERIOD, statistic="Sum"),
              "The inference API answered with 5xx errors")
        for name, machine in state_machines.items():
            # A failed run also publishes TrainingFailed; a timed-out one publishes nothing.
            alarm(f"{_pascal(name)}ExecutionsFailed", machine.metric_failed(period=PERIOD, statistic="Sum"),
                  f"A {name} execution failed")
            alarm(f"{_pascal(name)}ExecutionsTimedOut", machine.metric_timed_out(period=PERIOD, statistic="Sum"),
                  f"A {name} execution timed out")
        for name, queue in dead_letter_queues.items():
            alarm(f"{_pascal(name)}DeadLetters",
                  queue.metric_approximate_number_of_messages_visible(period=PERIOD, statistic="Maximum"),
                  f"Events for {name} could not be processed and wait in its dead-letter queue")


def _pascal(name: str) -> str:
    return "".join(part.capitalize() for part in name.split("_"))
