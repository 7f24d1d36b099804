"""Batch scoring on AWS: a Standard state machine ``Plan → Shards (Distributed Map) → Summarize``
over the batch function, whose three phases are the ones the local runtime runs
(:mod:`mlrails.batch.job`).

- **Plan** writes ``items.json`` under the job's output prefix and answers where it is.
- **Shards**, a Distributed Map: its ItemReader reads that JSON array from the data bucket, its
  ItemBatcher hands ``batch.items_per_batch`` items and the output prefix (``BatchInput``) to
  each child workflow, which invokes the function's shard phase; ``batch.max_concurrency``
  children at once, ``batch.tolerated_failure_percentage`` of the items may fail. Each shard
  leaves its result under ``results/`` itself, so the Map keeps no outputs and needs no
  ResultWriter (whose CDK API changed under a feature flag, ResultWriterV2), and a child
  returns ``{}``: however many shards, the Map's output stays far below the 256 KiB state limit.
- **Summarize** lists the results and writes ``summary.json`` whether the Map succeeded or
  failed (too many failed shards: its catch still summarizes, and says why); the job then fails
  with ``BatchFailed`` or publishes ``BatchScored``, once per execution however often the step
  is retried.

Only Lambda's transient errors are retried (:mod:`infra.support.fan_out`, which the drift
fan-out shares): a shard that raised fails the same way twice, and is counted.
"""

from __future__ import annotations

from typing import Any

from aws_cdk import ArnFormat, Duration, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_ssm as ssm
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import aws_stepfunctions_tasks as tasks
from constructs import Construct

from infra.constructs.data_store import DataStore
from infra.constructs.pipeline_function import FunctionContext, PipelineFunction
from infra.support import fan_out
from infra.support.access import IDEMPOTENCY, Access, grant_items, grant_prefix
from infra.support.nag import acknowledge_resource_wildcard
from mlrails import wiring
from mlrails.config import Batch
from mlrails.wiring import Prefix

# A job of many shards runs for hours at a modest concurrency; this bounds a stuck one.
TIMEOUT = Duration.hours(24)
PLAN_PATH = "$.plan"
MAP_FAILURE_PATH = "$.map_error"


class BatchScoring(Construct):
    """The batch ``handler`` (a :class:`PipelineFunction`), the ``state_machine`` (and its
    ``log_group``), and the SSM ``parameter`` holding its ARN for `mlrails batch --env NAME`."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        context: FunctionContext,
        data_bucket: s3.IBucket,
        batch: Batch,
        parameter_name: str,
    ) -> None:
        super().__init__(scope, construct_id)
        self.handler = PipelineFunction(self, "Handler", spec=wiring.function("batch"), context=context)
        self.data_bucket = data_bucket

        plan = self._invoke(
            "Plan",
            "check the locations and the champion, write items.json",
            {
                "phase": "plan",
                "input_uri": sfn.JsonPath.string_at("$.input_uri"),
                "output_uri": sfn.JsonPath.string_at("$.output_uri"),
                "time": sfn.JsonPath.string_at("$$.Execution.StartTime"),
            },
            result_path=PLAN_PATH,
        )
        self.map = fan_out.item_list_map(
            self,
            "Shards",
            comment="one child workflow per batch of items, as the local runner's shards",
            fn=self.handler.function,
            child=("ScoreShard", "batch function: score one ItemBatcher batch; its result goes under results/"),
            phase="shard",
            # Bucket and key from the plan's answer; the role's grant, below, is batch/ only.
            bucket_path=f"{PLAN_PATH}.bucket",
            key_path=f"{PLAN_PATH}.items_key",
            # The prefix the plan checked.
            batch_input={"output_uri": f"{PLAN_PATH}.output_uri"},
            max_items_per_batch=batch.items_per_batch,
            max_concurrency=batch.max_concurrency,
            tolerated_failure_percentage=batch.tolerated_failure_percentage,
        )
        summarize = self._summarize("Summarize", map_error=None)
        after_failure = self._summarize("SummarizeAfterMapFailure", map_error=sfn.JsonPath.object_at(MAP_FAILURE_PATH))
        self.map.add_catch(after_failure, errors=[sfn.Errors.ALL], result_path=MAP_FAILURE_PATH)
        definition = sfn.Chain.start(plan).next(self.map).next(summarize)

        self.state_machine, self.log_group = fan_out.logged_state_machine(
            self,
            comment="mlrails batch scoring: plan -> shards (Distributed Map) -> summarize",
            definition=definition,
            timeout=TIMEOUT,
            log_retention=context.log_retention,
        )
        # The item list, which the plan writes only under batch/ of the data bucket.
        grant_prefix(data_bucket, self.state_machine, Access.GET, Prefix.BATCH)
        self.parameter = ssm.StringParameter(
            self,
            "StateMachineArn",
            parameter_name=parameter_name,
            string_value=self.state_machine.state_machine_arn,
            description="The batch scoring state machine (`mlrails batch --env NAME` starts its executions)",
        )
        fan_out.acknowledge_fan_out(self.state_machine, self.handler.function, "batch")

    def _invoke(self, name: str, comment: str, payload: dict[str, object], **options: Any) -> tasks.LambdaInvoke:
        return fan_out.invoke(self, name, f"batch function: {comment}", self.handler.function, payload, **options)

    def _summarize(self, name: str, *, map_error: str | None) -> tasks.LambdaInvoke:
        payload: dict[str, object] = {
            "phase": "summarize",
            "output_uri": sfn.JsonPath.string_at(f"{PLAN_PATH}.output_uri"),
            # The idempotency key: a retried Summarize publishes no second BatchScored.
            "execution": sfn.JsonPath.string_at("$$.Execution.Id"),
        }
        if map_error is not None:
            payload["map_error"] = map_error
        return self._invoke(
            name,
            "write summary.json; BatchFailed or BatchScored" + (" (the Map failed)" if map_error else ""),
            payload,
            once_within=Duration.seconds(wiring.function("batch").timeout_seconds),
            result_path="$.summary",
        )

    def grant_store(self, store: DataStore) -> None:
        """mlrails.batch.job: list and read the input, write and delete parts, refused rows,
        results, the item list and the summary, all under the data bucket's batch/ (the only
        place a job may read or write: plan_job refuses others); the champion as inference
        reads it (the manifest, a listable 404 when absent; the version's files); BatchScored,
        once per execution (the summarize phase's idempotency records)."""
        fn = self.handler.function
        grant_items(store.state_table, fn, IDEMPOTENCY)
        grant_prefix(store.data_bucket, fn, Access.READ_WRITE, Prefix.BATCH)
        grant_prefix(store.artifacts_bucket, fn, Access.READ, Prefix.MANIFESTS)
        grant_prefix(store.artifacts_bucket, fn, Access.GET | Access.GET_VERSION, Prefix.MODELS)
        store.bus.grant_put_events_to(fn)

    def operator_statements(self) -> list[iam.PolicyStatement]:
        """What `mlrails batch --env NAME` needs (for the operators' policy): the parameter, start
        an execution and follow it, and read a job's summary."""
        return [
            iam.PolicyStatement(actions=["ssm:GetParameter"], resources=[self.parameter.parameter_arn]),
            iam.PolicyStatement(actions=["states:StartExecution"], resources=[self.state_machine.state_machine_arn]),
            iam.PolicyStatement(actions=["states:DescribeExecution"], resources=[self._executions()]),
            iam.PolicyStatement(actions=["s3:GetObject"], resources=[self._summaries()]),
        ]

    def acknowledge_operators(self, policy: iam.ManagedPolicy) -> None:
        """The two wildcards of :meth:`operator_statements`, each as narrow as it can be."""
        acknowledge_resource_wildcard(
            policy,
            self._executions(),
            "Follows the batch state machine's executions, whose names Step Functions assigns at each start.",
        )
        acknowledge_resource_wildcard(
            policy,
            self._summaries(),
            "Reads the summary of a batch job, whose output prefix the operator chooses under batch/.",
        )

    def _executions(self) -> str:
        return Stack.of(self).format_arn(
            service="states",
            resource="execution",
            resource_name=f"{self.state_machine.state_machine_name}:*",
            arn_format=ArnFormat.COLON_RESOURCE_NAME,
        )

    def _summaries(self) -> str:
        return self.data_bucket.arn_for_objects(f"{Prefix.BATCH.value}*/{wiring.BATCH_SUMMARY}")
