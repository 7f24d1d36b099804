"""What the state machines that fan a function out on a Distributed Map share (batch scoring's,
the drift check's): a call of the function retried on Lambda's transient errors only, the Map
over a JSON item list in S3 that an earlier step wrote, a logged and traced Standard state
machine, and the cdk-nag acknowledgements of what CDK grants such a machine.

Only Lambda's transient errors are retried, as in the training state machine: a step that raised
fails the same way twice. A step that runs once (an idempotency record) also waits for a first
call still running.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

from aws_cdk import ArnFormat, Duration, Fn, Stack
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import aws_stepfunctions_tasks as tasks
from constructs import Construct

from infra.constructs.training_pipeline import (
    IN_PROGRESS_ERROR,
    RETRY_BACKOFF_RATE,
    RETRY_INTERVAL,
    TRANSIENT_LAMBDA_ERRORS,
)
from infra.support.nag import acknowledge, acknowledge_resource_wildcard

RETRY_ATTEMPTS = 2
IN_PROGRESS_POLL = Duration.seconds(15)  # how often a retry looks again at a step still running


def invoke(
    scope: Construct,
    name: str,
    comment: str,
    fn: lambda_.IFunction,
    payload: Mapping[str, object],
    *,
    once_within: Duration | None = None,
    **paths: str,
) -> tasks.LambdaInvoke:
    """A call of ``fn`` with ``payload``, its answer only, retried on Lambda's transient errors.
    ``once_within``: the step runs once (an idempotency record) and ``fn`` times out after that
    long; a retry that finds the first call still running waits it out, as the training steps do."""
    call = tasks.LambdaInvoke(
        scope,
        name,
        comment=comment,
        lambda_function=fn,
        payload=sfn.TaskInput.from_object(dict(payload)),
        payload_response_only=True,
        # CDK's default retry covers more (six attempts): the training pipeline's list instead.
        retry_on_service_exceptions=False,
        **paths,
    )
    call.add_retry(
        errors=list(TRANSIENT_LAMBDA_ERRORS),
        max_attempts=RETRY_ATTEMPTS,
        interval=RETRY_INTERVAL,
        backoff_rate=RETRY_BACKOFF_RATE,
        jitter_strategy=sfn.JitterType.FULL,
    )
    if once_within is not None:
        # A transient error can surface while the first invocation still runs: the retry then
        # meets its idempotency record in progress, until it ends (within the function's timeout).
        call.add_retry(
            errors=[IN_PROGRESS_ERROR],
            max_attempts=math.ceil(once_within.to_seconds() / IN_PROGRESS_POLL.to_seconds()) + 1,
            interval=IN_PROGRESS_POLL,
            backoff_rate=1,
        )
    return call


def item_list_map(
    scope: Construct,
    construct_id: str,
    *,
    comment: str,
    fn: lambda_.IFunction,
    child: tuple[str, str],
    phase: str,
    bucket_path: str,
    key_path: str,
    batch_input: Mapping[str, str],
    max_concurrency: int,
    max_items_per_batch: int | None = None,
    max_items_per_batch_path: str | None = None,
    tolerated_failure_percentage: float | None = None,
) -> sfn.DistributedMap:
    """A Distributed Map over the JSON array at the state's ``bucket_path`` and ``key_path``,
    whose ItemBatcher hands each child a batch (``Items``) and ``batch_input`` (field -> the
    state's path), and whose child (``child``: its name and comment) calls ``fn`` with
    ``{"phase": phase, "items": [...], <field>: ...}``.

    Named by paths, the reader adds no grant of its own (given a bucket, CDK grants GetObject on
    all of it): the caller grants the state machine the prefix it writes. Each child leaves its
    result in S3 itself and returns ``{}``, so the Map keeps no outputs, needs no ResultWriter
    (whose CDK API changed under a feature flag), and stays far below the 256 KiB state limit."""
    name, child_comment = child
    payload = {"phase": phase, "items": sfn.JsonPath.list_at("$.Items")}
    payload.update({field: sfn.JsonPath.string_at(f"$.BatchInput.{field}") for field in batch_input})
    step = invoke(scope, name, child_comment, fn, payload, output_path=sfn.JsonPath.DISCARD)
    fan = sfn.DistributedMap(
        scope,
        construct_id,
        comment=comment,
        item_reader=sfn.S3JsonItemReader(
            bucket_name_path=sfn.JsonPath.string_at(bucket_path), key=sfn.JsonPath.string_at(key_path)
        ),
        item_batcher=sfn.ItemBatcher(
            max_items_per_batch=max_items_per_batch,
            max_items_per_batch_path=max_items_per_batch_path,
            # A payload template (CDK passes it as written).
            batch_input={f"{field}.$": path for field, path in batch_input.items()},
        ),
        max_concurrency=max_concurrency,
        tolerated_failure_percentage=tolerated_failure_percentage,
        map_execution_type=sfn.StateMachineType.STANDARD,  # a child may run Lambda's 15 minutes
        result_path=sfn.JsonPath.DISCARD,
    )
    fan.item_processor(step)
    return fan


def logged_state_machine(
    scope: Construct,
    *,
    comment: str,
    definition: sfn.IChainable,
    timeout: Duration,
    log_retention: logs.RetentionDays,
    state_machine_name: str | None = None,
) -> tuple[sfn.StateMachine, logs.LogGroup]:
    """A Standard state machine (``StateMachine``), traced, logging every event without its
    execution data (``Logs``), which holds locations and counts that S3 has too."""
    log_group = logs.LogGroup(scope, "Logs", retention=log_retention)
    machine = sfn.StateMachine(
        scope,
        "StateMachine",
        comment=comment,
        definition_body=sfn.DefinitionBody.from_chainable(definition),
        state_machine_type=sfn.StateMachineType.STANDARD,
        state_machine_name=state_machine_name,
        timeout=timeout,
        logs=sfn.LogOptions(destination=log_group, level=sfn.LogLevel.ALL, include_execution_data=False),
        tracing_enabled=True,
    )
    return machine, log_group


def acknowledge_fan_out(machine: sfn.StateMachine, fn: lambda_.IFunction, what: str) -> None:
    """The wildcards of what CDK grants a state machine with a Distributed Map over ``fn``:
    following and stopping its own child executions, redriving a Map run (its
    DistributedMapPolicy), invoking ``fn``'s versions, and the actions with no resource-level
    permissions."""
    # The name is taken from the ARN as CDK writes it, so that the acknowledgement names the very resources.
    name = Fn.select(6, Fn.split(":", machine.state_machine_arn))
    for executions, child in ((f"{name}:*", "its child executions"), (f"{name}/*:*", "a Map run, to redrive it")):
        acknowledge_resource_wildcard(
            machine,
            Stack.of(machine).format_arn(
                service="states",
                resource="execution",
                resource_name=executions,
                arn_format=ArnFormat.COLON_RESOURCE_NAME,
            ),
            f"The Distributed Map's own executions only ({child}): Step Functions names them at each run.",
        )
    acknowledge_resource_wildcard(
        machine.role,
        f"{fn.function_arn}:*",
        f"Invokes the {what} function only; CDK's invoke grant covers its versions and aliases.",
    )
    acknowledge(
        machine.role,
        "AwsSolutions-IAM5[Resource::*]",
        "X-Ray PutTraceSegments/GetSamplingRules and CloudWatch Logs' log-delivery actions "
        "(CreateLogDelivery, PutResourcePolicy...) support no resource-level permissions.",
    )
