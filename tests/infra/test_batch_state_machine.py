"""Batch scoring's state machine: Plan -> Distributed Map over items.json -> Summarize (also
after a failed Map), its Map configured from the config's batch section, its grants narrow.
Read as tests/infra/test_training_pipeline.py reads the training one (references rendered as
placeholders, resources found by construct id or description, never by hashed logical ids)."""

from __future__ import annotations

from typing import Any

from aws_cdk.assertions import Template
from test_training_pipeline import (
    TRANSIENT,
    assert_executions_alarm,
    definition,
    function_id,
    role_grants,
    state_machine,
)

from mlrails.config import ProjectConfig
from mlrails.wiring import batch_state_machine_parameter


def _batch(template: Template) -> dict[str, Any]:
    return definition(template, "Batch")


def test_plan_then_the_map_then_the_summary_whatever_the_map_did(service_template: Template) -> None:
    states = _batch(service_template)
    assert states["StartAt"] == "Plan" and states["States"]["Plan"]["Next"] == "Shards"
    shards = states["States"]["Shards"]
    assert shards["Next"] == "Summarize"
    (catch,) = shards["Catch"]
    assert catch == {"ErrorEquals": ["States.ALL"], "ResultPath": "$.map_error", "Next": "SummarizeAfterMapFailure"}
    plan, after = states["States"]["Plan"], states["States"]["SummarizeAfterMapFailure"]
    assert plan["Parameters"] == {
        "phase": "plan",
        "input_uri.$": "$.input_uri",
        "output_uri.$": "$.output_uri",
        "time.$": "$$.Execution.StartTime",
    }
    assert plan["ResultPath"] == "$.plan"
    summarize = {"phase": "summarize", "output_uri.$": "$.plan.output_uri", "execution.$": "$$.Execution.Id"}
    assert states["States"]["Summarize"]["Parameters"] == summarize
    assert after["Parameters"] == {**summarize, "map_error.$": "$.map_error"}
    batch_fn = function_id(service_template, "batch")
    for name in ("Plan", "Summarize", "SummarizeAfterMapFailure"):
        state = states["States"][name]
        assert state["Resource"] == f"<{batch_fn}.Arn>"
        # Lambda's transient errors only: a refused plan or a failed job fails the same way twice.
        assert set(state["Retry"][0]["ErrorEquals"]) == TRANSIENT
    assert len(states["States"]["Plan"]["Retry"]) == 1
    for name in ("Summarize", "SummarizeAfterMapFailure"):
        # The summary runs once per execution: a retry waits out a first call still running,
        # every 15 s for the batch function's 900 s timeout.
        (in_progress,) = states["States"][name]["Retry"][1:]
        assert in_progress["ErrorEquals"] == ["IdempotencyAlreadyInProgressError"]
        assert (in_progress["IntervalSeconds"], in_progress["MaxAttempts"]) == (15, 61)
    assert states["TimeoutSeconds"] == 24 * 3600


def test_the_map_reads_the_plans_item_list_and_batches_it_with_the_output_prefix(
    service_template: Template, cfg: ProjectConfig
) -> None:
    shards = _batch(service_template)["States"]["Shards"]
    assert shards["ItemProcessor"]["ProcessorConfig"] == {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"}
    assert shards["ItemReader"] == {
        "Resource": "arn:<AWS::Partition>:states:::s3:getObject",
        "ReaderConfig": {"InputType": "JSON"},
        "Parameters": {"Bucket.$": "$.plan.bucket", "Key.$": "$.plan.items_key"},
    }
    assert shards["ItemBatcher"] == {
        "MaxItemsPerBatch": cfg.batch.items_per_batch,
        "BatchInput": {"output_uri.$": "$.plan.output_uri"},
    }
    assert shards["MaxConcurrency"] == cfg.batch.max_concurrency
    # The example tolerates no failed shard: CDK leaves a 0 out, and Step Functions' default is 0.
    assert cfg.batch.tolerated_failure_percentage == 0 and "ToleratedFailurePercentage" not in shards
    # The Map keeps no outputs (each shard's result is in S3): nothing near the state size limit.
    assert shards["ResultPath"] is None and "ResultWriter" not in shards
    (child,) = shards["ItemProcessor"]["States"].values()
    assert child["Parameters"] == {"phase": "shard", "items.$": "$.Items", "output_uri.$": "$.BatchInput.output_uri"}
    assert child["OutputPath"] is None
    assert [set(retry["ErrorEquals"]) for retry in child["Retry"]] == [TRANSIENT]


def test_the_map_takes_another_configs_batching_concurrency_and_tolerance(dev_service_template) -> None:
    template = dev_service_template(
        {"auth": "api_key"}, batch={"items_per_batch": 7, "max_concurrency": 40, "tolerated_failure_percentage": 12.5}
    )
    shards = _batch(template)["States"]["Shards"]
    assert shards["ItemBatcher"]["MaxItemsPerBatch"] == 7
    assert shards["MaxConcurrency"] == 40
    assert shards["ToleratedFailurePercentage"] == 12.5


def test_the_state_machine_invokes_the_batch_function_reads_batch_items_and_runs_its_own_map(
    service_template: Template,
) -> None:
    machine_id, grants = invoking_machine(service_template, "Batch", "batch")
    # The item list, under batch/ of the data bucket only (not CDK's whole-bucket reader grant).
    (items,) = grants.pop("s3:GetObject")
    assert "DataBucket" in items and items.endswith("/batch/*"), items
    assert_runs_its_own_map_and_nothing_else(grants, machine_id)


def invoking_machine(template: Template, owner: str, function: str) -> tuple[str, dict[str, set[str]]]:
    """The ``owner`` construct's state machine: its logical id and its role's grants, the grant
    to invoke ``function`` (and its versions), checked and popped."""
    machine_id, machine = state_machine(template, owner)
    grants = role_grants(template, machine["RoleArn"]["Fn::GetAtt"][0])
    fn = f"<{function_id(template, function)}.Arn>"
    assert grants.pop("lambda:InvokeFunction") == {fn, f"{fn}:*"}
    return machine_id, grants


def assert_runs_its_own_map_and_nothing_else(grants: dict[str, set[str]], machine_id: str) -> None:
    """The rest of a Distributed Map state machine's ``grants`` (what its steps need popped
    already): its own child executions started, followed and stopped, a Map run redriven; log
    delivery and X-Ray, which have no resource-level permissions."""
    assert grants.pop("states:StartExecution") == {f"<{machine_id}>"}
    executions = "arn:<AWS::Partition>:states:<AWS::Region>:<AWS::AccountId>:execution:"
    for action in ("states:DescribeExecution", "states:StopExecution"):
        (resource,) = grants.pop(action)
        assert resource.startswith(executions) and resource.endswith(":*") and machine_id in resource
    (redrive,) = grants.pop("states:RedriveExecution")
    assert redrive.startswith(executions) and redrive.endswith("/*:*")
    assert {action.split(":")[0] for action in grants} <= {"logs", "xray"}
    assert all(resources == {"*"} for resources in grants.values())


def test_logged_traced_alarmed_and_found_by_its_parameter(service_template: Template, cfg: ProjectConfig) -> None:
    machine_id, machine = state_machine(service_template, "Batch")
    assert machine["StateMachineType"] == "STANDARD" and machine["TracingConfiguration"] == {"Enabled": True}
    assert machine["LoggingConfiguration"]["Level"] == "ALL"
    assert machine["LoggingConfiguration"]["IncludeExecutionData"] is False
    service_template.has_resource_properties(
        "AWS::SSM::Parameter",
        {"Name": batch_state_machine_parameter(cfg.project, "dev"), "Value": {"Ref": machine_id}},
    )
    assert_executions_alarm(service_template, machine_id)
