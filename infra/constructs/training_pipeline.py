"""The training run as a Standard Step Functions state machine, built from
:data:`mlrails.wiring.TRAINING` — the same object the local runtime runs in-process.

One Lambda task per step, in order; each invokes the train function with
``{"step": <name>, "state": <the state so far>}`` and stores its result under ``$.<name>``.
Only Lambda's transient errors are retried: a step that raises (too little data, a rejected
model, a bug) fails the same way twice. Any failure publishes ``TrainingFailed`` on the project
bus (retrain_trigger then gives back the lease the run took, :func:`mlrails.retraining.trigger.give_back`)
and fails the execution with the step's own error and cause. The run as a whole is bounded
by the state machine's timeout (a timed-out execution publishes nothing: its alarm covers it).
"""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_events as events
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import aws_stepfunctions_tasks as tasks
from constructs import Construct

from infra.support.nag import acknowledge, acknowledge_resource_wildcard
from mlrails import wiring

# What the Lambda service or the Step Functions client may throw before or around an
# invocation: worth a retry. A function error (the handler raised, timed out, ran out of
# memory) is not in this list.
TRANSIENT_LAMBDA_ERRORS = (
    "Lambda.ServiceException",
    "Lambda.AWSLambdaException",
    "Lambda.SdkClientException",
    "Lambda.TooManyRequestsException",
)
RETRY_INTERVAL = Duration.seconds(10)
IN_PROGRESS_ERROR = "IdempotencyAlreadyInProgressError"  # Powertools' error type, as Lambda reports it
IN_PROGRESS_INTERVAL = Duration.seconds(60)
IN_PROGRESS_ATTEMPTS = 16  # 16 minutes: longer than the train function's 15-minute limit
RETRY_BACKOFF_RATE = 2
FAILURE_PATH = "$.failure"


def _state_name(step: str) -> str:
    return "".join(part.capitalize() for part in step.split("_"))


class TrainingPipeline(Construct):
    """``state_machine`` (and its ``log_group``): the steps of ``wiring.TRAINING`` on ``train``."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        train: lambda_.IFunction,
        bus: events.IEventBus,
        model_name: str,
        environment_name: str,
        log_retention: logs.RetentionDays,
        pipeline: wiring.TrainingPipeline = wiring.TRAINING,
    ) -> None:
        super().__init__(scope, construct_id)
        if not pipeline.steps:
            raise ValueError("the training pipeline needs at least one step")

        publish_failure = tasks.EventBridgePutEvents(
            self,
            "PublishTrainingFailed",
            comment=f"{wiring.DetailType.TRAINING_FAILED.value} on the project bus, then fail",
            entries=[
                tasks.EventBridgePutEventsEntry(
                    event_bus=bus,
                    source=wiring.EVENT_SOURCE,
                    detail_type=wiring.DetailType.TRAINING_FAILED.value,
                    detail=sfn.TaskInput.from_object(
                        {
                            "schema_version": wiring.SCHEMA_VERSION,
                            "model": model_name,
                            "environment": environment_name,
                            "trigger_id": sfn.JsonPath.string_at("$.request.trigger_id"),
                            "error": sfn.JsonPath.string_at(f"{FAILURE_PATH}.Error"),
                            "cause": sfn.JsonPath.string_at(f"{FAILURE_PATH}.Cause"),
                            "requested_at": sfn.JsonPath.string_at("$.time"),
                        }
                    ),
                )
            ],
            # Keep the state as it was: the Fail state reads the failure from it.
            result_path=sfn.JsonPath.DISCARD,
        )
        failed = sfn.Fail(
            self,
            "Failed",
            comment="The step's own error and cause",
            error_path=f"{FAILURE_PATH}.Error",
            cause_path=f"{FAILURE_PATH}.Cause",
        )
        publish_failure.next(failed)

        self.steps: list[tasks.LambdaInvoke] = []
        for step in pipeline.steps:
            task = tasks.LambdaInvoke(
                self,
                _state_name(step),
                comment=f"train function, step '{step}'",
                lambda_function=train,
                payload=sfn.TaskInput.from_object({"step": step, "state": sfn.JsonPath.entire_payload}),
                payload_response_only=True,
                result_path=f"$.{step}",
                # CDK's default retry also covers Lambda.ClientExecutionTimeoutException, with
                # six attempts: replaced by the pipeline's own list and count.
                retry_on_service_exceptions=False,
            )
            task.add_retry(
                errors=list(TRANSIENT_LAMBDA_ERRORS),
                max_attempts=pipeline.retry_attempts,
                interval=RETRY_INTERVAL,
                backoff_rate=RETRY_BACKOFF_RATE,
                jitter_strategy=sfn.JitterType.FULL,
            )
            # A transient error can surface while the first invocation is still running: the
            # retry then meets the step's idempotency record in progress. Wait it out (up to
            # the function's timeout) rather than failing a run that is still training.
            task.add_retry(
                errors=[IN_PROGRESS_ERROR],
                max_attempts=IN_PROGRESS_ATTEMPTS,
                interval=IN_PROGRESS_INTERVAL,
                backoff_rate=1,
            )
            task.add_catch(publish_failure, errors=[sfn.Errors.ALL], result_path=FAILURE_PATH)
            self.steps.append(task)

        definition: sfn.IChainable = self.steps[0]
        for previous, task in zip(self.steps, self.steps[1:]):
            previous.next(task)

        self.log_group = logs.LogGroup(self, "Logs", retention=log_retention)
        self.state_machine = sfn.StateMachine(
            self,
            "StateMachine",
            comment=f"mlrails training run: {' -> '.join(pipeline.steps)} on the {pipeline.function} function",
            definition_body=sfn.DefinitionBody.from_chainable(definition),
            state_machine_type=sfn.StateMachineType.STANDARD,
            timeout=Duration.seconds(pipeline.timeout_seconds),
            # Execution data holds the trigger and the steps' results: they are in S3 and MLflow
            # already, and the log group need not hold a second copy.
            logs=sfn.LogOptions(destination=self.log_group, level=sfn.LogLevel.ALL, include_execution_data=False),
            tracing_enabled=True,
        )
        role = self.state_machine.role
        acknowledge_resource_wildcard(
            role,
            f"{train.function_arn}:*",
            f"Invokes the {pipeline.function} function only; CDK's invoke grant covers its versions and aliases.",
        )
        acknowledge(
            role,
            "AwsSolutions-IAM5[Resource::*]",
            "X-Ray PutTraceSegments/GetSamplingRules and CloudWatch Logs' log-delivery actions "
            "(CreateLogDelivery, PutResourcePolicy...) support no resource-level permissions.",
        )
