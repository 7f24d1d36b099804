"""The training run as a Standard Step Functions state machine, built from
:data:`mlrails.wiring.TRAINING` — the same object the local runtime runs in-process.

One Lambda task per step, in order; each invokes the train function with
``{"step": <name>, "state": <the state so far>}`` and stores its result under ``$.<name>``.
Only Lambda's transient errors are retried: a step that raises (too little data, a rejected
model, a bug) fails the same way twice. Any failure publishes ``TrainingFailed`` on the project
bus (retrain_trigger then gives back the lease the run took, :func:`mlrails.retraining.trigger.give_back`)
and fails the execution with the step's own error and cause. The run as a whole is bounded
by the state machine's timeout (a timed-out execution publishes nothing: its alarm covers it).

With a training task (``training.compute: fargate | auto``, :mod:`infra.constructs.training_task`)
each step can run as an ECS Fargate task instead: ``RunTask`` waits for it to stop (``.sync``),
whose response holds no output, so the task leaves the step's result under runs/ and an S3
``GetObject`` puts it at ``$.<name>``, where the Lambda path puts its own: the next step sees
the same state on either path. With ``auto`` a first Choice takes the path the execution input
names (``$.compute``, which retrain_trigger sets: :func:`mlrails.training.compute.for_run`).
Retries (transient errors of each service), the catch to ``TrainingFailed`` and the timeout
are the same on both.

MLflow runs only while held (:mod:`mlrails.tracking`): the first state holds it through the
tracking switch, asking again every few seconds while its task starts (``TrackingStarting``),
and the run releases it after its last step, or after a failure before ``TrainingFailed``.
"""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import Duration, Stack
from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_events as events
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import aws_stepfunctions_tasks as tasks
from constructs import Construct

from infra.constructs.training_task import TrainingTask
from infra.support.nag import acknowledge, acknowledge_resource_wildcard
from mlrails import wiring
from mlrails.wiring import Prefix

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
# What ECS may throw when starting a task (throttling, a service error, no Fargate capacity:
# RunTask answers with failures, which the .sync integration reports as AmazonECS.Unknown). A
# task that ran and exited non-zero (the step raised) is States.TaskFailed: not retried.
TRANSIENT_ECS_ERRORS = (
    "ECS.AmazonECSException",
    "ECS.ServerException",
    "ECS.LimitExceededException",
    "AmazonECS.Unknown",
)
TRACKING_STARTING_ERROR = "TrackingStarting"  # mlrails.tracking.switch: held, its task not running yet
RESULT_READ_ATTEMPTS = 2  # reading a small file back: any error may be transient, retries cost seconds
ENGINE_PATH = "$.compute"


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
        tracking_switch: lambda_.IFunction,
        bus: events.IEventBus,
        model_name: str,
        environment_name: str,
        log_retention: logs.RetentionDays,
        pipeline: wiring.TrainingPipeline = wiring.TRAINING,
        compute: str = "lambda",
        task: TrainingTask | None = None,
        results_bucket: str | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        if not pipeline.steps:
            raise ValueError("the training pipeline needs at least one step")
        if compute != "lambda" and (task is None or results_bucket is None):
            raise ValueError(f"training.compute {compute!r} needs the training task and the bucket of its results")
        self.pipeline, self.results_bucket = pipeline, results_bucket

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
        self.tracking_switch = tracking_switch
        holder = sfn.JsonPath.format(pipeline.tracking_holder_format, sfn.JsonPath.string_at("$.request.trigger_id"))
        now = sfn.JsonPath.string_at("$$.State.EnteredTime")
        release_after_failure = self._switch("ReleaseTrackingAfterFailure", pipeline.tracking_release(holder, now))
        # Releasing is worth a try, not a reason to hide the run's own failure: on to it either way
        # (a hold left behind expires, and the idle sweep stops the server).
        release_after_failure.add_catch(publish_failure, errors=[sfn.Errors.ALL], result_path="$.release_failure")
        release_after_failure.next(publish_failure)
        hold = self._switch("HoldTracking", pipeline.tracking_hold(holder, now))
        hold.add_retry(
            errors=[TRACKING_STARTING_ERROR],
            max_attempts=pipeline.tracking_start_attempts,
            interval=Duration.seconds(pipeline.tracking_start_interval_seconds),
            backoff_rate=1,
        )
        hold.add_catch(release_after_failure, errors=[sfn.Errors.ALL], result_path=FAILURE_PATH)
        self.release_tracking = self._switch("ReleaseTracking", pipeline.tracking_release(holder, now))
        # After a run that succeeded, a release that fails leaves the hold to expire: the run
        # still succeeded (its function's errors alarm says the switch failed).
        self.release_tracking.add_catch(
            sfn.Succeed(self, "HoldLeftToExpire"), errors=[sfn.Errors.ALL], result_path="$.release_failure"
        )
        self.hold_tracking = hold
        publish_failure = release_after_failure  # every step's catch releases first

        self.steps: list[sfn.TaskStateBase] = []
        on_lambda = self._on_lambda(train, publish_failure) if compute != "fargate" else None
        on_fargate = self._on_fargate(task, publish_failure) if compute != "lambda" else None
        if on_lambda is not None and on_fargate is not None:
            definition: sfn.IChainable = (
                sfn.Choice(
                    self, "Engine", comment="The engine retrain_trigger chose for this run (training.compute: auto)"
                )
                .when(sfn.Condition.string_equals(ENGINE_PATH, "fargate"), on_fargate)
                .otherwise(on_lambda)
            )
        else:
            definition = on_lambda or on_fargate
        definition = sfn.Chain.start(hold).next(definition)

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
        if on_lambda is not None:
            acknowledge_resource_wildcard(
                role,
                f"{train.function_arn}:*",
                f"Invokes the {pipeline.function} function only; CDK's invoke grant covers its versions and aliases.",
            )
        acknowledge_resource_wildcard(
            role,
            f"{tracking_switch.function_arn}:*",
            "Invokes the tracking switch only (hold and release MLflow); CDK's invoke grant covers its versions.",
        )
        if on_fargate is not None:
            acknowledge_resource_wildcard(
                role,
                self._results_arn(),
                "Reads the training task's step results: the objects under runs/ of the artifacts bucket only.",
            )
        acknowledge(
            role,
            "AwsSolutions-IAM5[Resource::*]",
            "X-Ray PutTraceSegments/GetSamplingRules and CloudWatch Logs' log-delivery actions "
            "(CreateLogDelivery, PutResourcePolicy...) support no resource-level permissions.",
        )

    def _on_lambda(self, train: lambda_.IFunction, publish_failure: sfn.IChainable) -> sfn.IChainable:
        """Each step a LambdaInvoke of the train function; the first state of the chain."""
        chain: sfn.Chain | None = None
        for step in self.pipeline.steps:
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
            self._retry_transient(task, TRANSIENT_LAMBDA_ERRORS)
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
            chain = chain.next(task) if chain else sfn.Chain.start(task)
        return chain.next(self.release_tracking)

    def _switch(self, name: str, event: dict[str, object]) -> tasks.LambdaInvoke:
        """A call of the tracking switch (a hold or a release); the state stays as it was."""
        call = tasks.LambdaInvoke(
            self,
            name,
            comment=f"tracking switch: {event['action']} MLflow for this run",
            lambda_function=self.tracking_switch,
            payload=sfn.TaskInput.from_object(event),
            result_path=sfn.JsonPath.DISCARD,
            retry_on_service_exceptions=False,
        )
        self._retry_transient(call, TRANSIENT_LAMBDA_ERRORS)
        return call

    def _retry_transient(self, state: sfn.TaskStateBase, errors: Sequence[str]) -> None:
        """The pipeline's retry of a step's transient errors, the same on either path."""
        state.add_retry(
            errors=list(errors),
            max_attempts=self.pipeline.retry_attempts,
            interval=RETRY_INTERVAL,
            backoff_rate=RETRY_BACKOFF_RATE,
            jitter_strategy=sfn.JitterType.FULL,
        )

    def _on_fargate(self, task: TrainingTask, publish_failure: sfn.IChainable) -> sfn.IChainable:
        """Each step a Fargate task, then its result read back from runs/ into ``$.<step>``."""
        chain: sfn.Chain | None = None
        for step in self.pipeline.steps:
            name = _state_name(step)
            run = tasks.EcsRunTask(
                self,
                f"{name}OnFargate",
                comment=f"training task, step '{step}' (functions/train/task.py)",
                integration_pattern=sfn.IntegrationPattern.RUN_JOB,
                cluster=task.cluster,
                task_definition=task.task_definition,
                launch_target=tasks.EcsFargateLaunchTarget(platform_version=ecs.FargatePlatformVersion.LATEST),
                subnets=task.subnets,
                security_groups=task.security_groups,
                assign_public_ip=True,  # its subnets are public ones: see TrainingTask
                container_overrides=[
                    tasks.ContainerOverride(
                        container_definition=task.container,
                        environment=[
                            tasks.TaskEnvironmentVariable(name=wiring.TASK_STEP, value=step),
                            tasks.TaskEnvironmentVariable(
                                name=wiring.TASK_REQUEST,
                                value=sfn.JsonPath.json_to_string(sfn.JsonPath.object_at("$.request")),
                            ),
                            tasks.TaskEnvironmentVariable(
                                name=wiring.TASK_TIME, value=sfn.JsonPath.string_at("$.time")
                            ),
                        ],
                    )
                ],
                # The task's description is no result: the state stays as it was.
                result_path=sfn.JsonPath.DISCARD,
            )
            self._retry_transient(run, TRANSIENT_ECS_ERRORS)
            read = tasks.CallAwsService(
                self,
                f"Read{name}Result",
                comment=f"the result the task left for step '{step}'",
                service="s3",
                action="getObject",
                parameters={
                    "Bucket": self.results_bucket,
                    "Key": sfn.JsonPath.format(
                        wiring.STEP_RESULT_KEY, sfn.JsonPath.string_at("$.request.trigger_id"), step
                    ),
                },
                iam_resources=[self._results_arn()],
                result_selector={"result": sfn.JsonPath.string_to_json(sfn.JsonPath.string_at("$.Body"))},
                result_path=f"$.{step}",
            )
            read.add_retry(
                errors=[sfn.Errors.TASKS_FAILED],
                max_attempts=RESULT_READ_ATTEMPTS,
                interval=RETRY_INTERVAL,
                backoff_rate=RETRY_BACKOFF_RATE,
            )
            # A ResultSelector must build an object: this lifts the result out of it, so that
            # $.<step> holds what the Lambda path's does.
            unwrap = sfn.Pass(self, f"{name}Result", input_path=f"$.{step}.result", result_path=f"$.{step}")
            for state in (run, read):
                state.add_catch(publish_failure, errors=[sfn.Errors.ALL], result_path=FAILURE_PATH)
                self.steps.append(state)
            chain = (chain.next(run) if chain else sfn.Chain.start(run)).next(read).next(unwrap)
        return chain.next(self.release_tracking)

    def _results_arn(self) -> str:
        return Stack.of(self).format_arn(
            service="s3", region="", account="", resource=self.results_bucket, resource_name=f"{Prefix.RUNS.value}*"
        )
