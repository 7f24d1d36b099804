"""The drift fan-out on AWS: a Standard state machine ``Count (Distributed Map) → Judge`` over the
drift_check function, for a scheduled window too big for one pass (``monitoring.single_pass_max_mb``;
:mod:`mlrails.drift.fanout`, whose steps the local runtime runs alike).

The scheduled check writes the window's ``plan.json`` and ``items.json`` under
``reports/drift/<model>/<window end>/`` and starts an execution named after the window's end with
``{bucket, prefix, items_key, per_shard}``:

- **Count**, a Distributed Map: its ItemReader reads the item list, its ItemBatcher hands
  ``per_shard`` capture objects (``MaxItemsPerBatchPath``: the check sized it so that no shard
  exceeds the budget) and the prefix to each child, which invokes the function's count phase;
  ``monitoring.fanout_max_concurrency`` at once. No failure is tolerated: a verdict needs every
  object counted, so one failed shard fails the Map and the execution (alarmed), before any judging.
- **Judge** merges the partials into the window's report, as the single pass does.

The function starts executions and the state machine invokes the function: the machine has a
fixed name (:func:`mlrails.wiring.drift_state_machine_name`) so the function knows its ARN
without a reference to it, which would close a cycle in the stack.
"""

from __future__ import annotations

from aws_cdk import ArnFormat, Duration, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from infra.constructs.pipeline_function import FunctionContext, PipelineFunction
from infra.support import fan_out
from infra.support.access import Access, grant_prefix
from mlrails import wiring
from mlrails.config import Monitoring
from mlrails.wiring import drift_reports_prefix

# A day's window of many shards runs for minutes; this bounds a stuck one well before the next.
TIMEOUT = Duration.hours(6)


def state_machine_arn(scope: Construct, name: str) -> str:
    """The ARN of the state machine named ``name`` in ``scope``'s stack (what the function gets)."""
    return Stack.of(scope).format_arn(
        service="states", resource="stateMachine", resource_name=name, arn_format=ArnFormat.COLON_RESOURCE_NAME
    )


class DriftFanout(Construct):
    """The ``state_machine`` (and its ``log_group``) that fans ``handler``, the drift_check
    function, out over a window's capture objects."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        context: FunctionContext,
        handler: PipelineFunction,
        artifacts_bucket: s3.IBucket,
        monitoring: Monitoring,
        state_machine_name: str,
    ) -> None:
        super().__init__(scope, construct_id)
        fn = handler.function
        self.map = fan_out.item_list_map(
            self,
            "Count",
            comment="one child workflow per batch of capture objects, each within the single-pass budget",
            fn=fn,
            child=("CountShard", "drift_check function: count one batch of capture objects; partial to partials/"),
            phase="count",
            bucket_path="$.bucket",
            key_path="$.items_key",
            batch_input={"prefix": "$.prefix"},
            # The batch size the check chose, so that no shard exceeds the single-pass budget.
            max_items_per_batch_path="$.per_shard",
            max_concurrency=monitoring.fanout_max_concurrency,
        )
        judge = fan_out.invoke(
            self,
            "Judge",
            "drift_check function: merge the partials into the window's report; DriftDetected",
            fn,
            {"phase": "judge", "prefix": sfn.JsonPath.string_at("$.prefix")},
            once_within=Duration.seconds(wiring.function("drift_check").timeout_seconds),
            result_path="$.verdict",
        )
        self.state_machine, self.log_group = fan_out.logged_state_machine(
            self,
            comment="mlrails drift fan-out: count (Distributed Map) -> judge",
            definition=sfn.Chain.start(self.map).next(judge),
            timeout=TIMEOUT,
            log_retention=context.log_retention,
            state_machine_name=state_machine_name,
        )
        prefix = drift_reports_prefix(context.cfg.model.name)
        # The item list, which the check writes only under the model's drift reports.
        grant_prefix(artifacts_bucket, self.state_machine, Access.GET, prefix)
        # The check writes the plan (once: a retry reads the first back) and the item list and
        # starts the run; the phases read them back, write the partials and list them, beside
        # the reports it writes (its PutObject on reports/ is the function's own grant).
        grant_prefix(artifacts_bucket, fn, Access.READ, prefix)
        handler.role.add_to_principal_policy(
            iam.PolicyStatement(
                actions=["states:StartExecution"], resources=[state_machine_arn(self, state_machine_name)]
            )
        )
        fan_out.acknowledge_fan_out(self.state_machine, fn, "drift_check")
