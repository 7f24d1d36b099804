"""The drift fan-out's state machine: Count (Distributed Map over the window's items.json, batched
as the check sized it) -> Judge, over the drift_check function, which may start this state
machine and no other. Read as tests/infra/test_batch_state_machine.py reads batch scoring's."""

from __future__ import annotations

from aws_cdk.assertions import Template
from test_batch_state_machine import assert_runs_its_own_map_and_nothing_else, invoking_machine
from test_training_pipeline import (
    TRANSIENT,
    assert_executions_alarm,
    definition,
    function_id,
    role_grants,
    role_of,
    state_machine,
)

from mlrails.config import ProjectConfig
from mlrails.wiring import drift_state_machine_name


def test_count_on_a_distributed_map_then_judge(service_template: Template, cfg: ProjectConfig) -> None:
    states = definition(service_template, "DriftFanout")
    assert states["StartAt"] == "Count" and states["States"]["Count"]["Next"] == "Judge"
    count = states["States"]["Count"]
    assert count["ItemProcessor"]["ProcessorConfig"] == {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"}
    assert count["ItemReader"] == {
        "Resource": "arn:<AWS::Partition>:states:::s3:getObject",
        "ReaderConfig": {"InputType": "JSON"},
        "Parameters": {"Bucket.$": "$.bucket", "Key.$": "$.items_key"},
    }
    # The batch size the check chose (no shard over the single-pass budget), and the window's prefix.
    assert count["ItemBatcher"] == {"MaxItemsPerBatchPath": "$.per_shard", "BatchInput": {"prefix.$": "$.prefix"}}
    assert count["MaxConcurrency"] == cfg.monitoring.fanout_max_concurrency
    # No failure tolerated: a verdict needs every capture object counted.
    assert "ToleratedFailurePercentage" not in count
    assert count["ResultPath"] is None and "ResultWriter" not in count
    (child,) = count["ItemProcessor"]["States"].values()
    assert child["Parameters"] == {"phase": "count", "items.$": "$.Items", "prefix.$": "$.BatchInput.prefix"}
    judge = states["States"]["Judge"]
    assert judge["Parameters"] == {"phase": "judge", "prefix.$": "$.prefix"} and judge["End"] is True
    drift_fn = f"<{function_id(service_template, 'drift_check')}.Arn>"
    for state in (child, judge):
        assert state["Resource"] == drift_fn
    assert [set(retry["ErrorEquals"]) for retry in child["Retry"]] == [TRANSIENT]
    # The judge runs once (its idempotency record): a retry waits out a first call still
    # running, every 15 s for the function's 300 s timeout.
    transient, in_progress = judge["Retry"]
    assert set(transient["ErrorEquals"]) == TRANSIENT
    assert in_progress == {
        "ErrorEquals": ["IdempotencyAlreadyInProgressError"],
        "IntervalSeconds": 15,
        "MaxAttempts": 21,
        "BackoffRate": 1,
    }


def test_the_check_starts_this_state_machine_only_and_knows_it_by_name(
    service_template: Template, cfg: ProjectConfig
) -> None:
    _, machine = state_machine(service_template, "DriftFanout")
    name = drift_state_machine_name(cfg.project, "dev")
    assert machine["StateMachineName"] == name
    drift_fn = function_id(service_template, "drift_check")
    grants = role_grants(service_template, role_of(service_template, drift_fn))
    arn = f"arn:<AWS::Partition>:states:<AWS::Region>:<AWS::AccountId>:stateMachine:{name}"
    assert grants["states:StartExecution"] == {arn}
    variables = service_template.find_resources("AWS::Lambda::Function")[drift_fn]["Properties"]["Environment"]
    assert "MLRAILS_DRIFT_STATE_MACHINE" in variables["Variables"]
    # Plans, item lists and partials read back beside the model's drift reports; nothing deleted.
    read = {r for r in grants["s3:GetObject"] if r.endswith(f"/reports/drift/{cfg.model.name}/*")}
    assert len(read) == 1 and "ArtifactsBucket" in read.pop() and "s3:DeleteObject" not in grants


def test_the_state_machine_reads_the_item_list_invokes_the_check_and_runs_its_own_map(
    service_template: Template, cfg: ProjectConfig
) -> None:
    machine_id, grants = invoking_machine(service_template, "DriftFanout", "drift_check")
    (items,) = grants.pop("s3:GetObject")
    assert "ArtifactsBucket" in items and items.endswith(f"/reports/drift/{cfg.model.name}/*"), items
    assert_runs_its_own_map_and_nothing_else(grants, machine_id)


def test_logged_traced_and_alarmed(service_template: Template) -> None:
    machine_id, machine = state_machine(service_template, "DriftFanout")
    assert machine["StateMachineType"] == "STANDARD" and machine["TracingConfiguration"] == {"Enabled": True}
    assert machine["LoggingConfiguration"]["Level"] == "ALL"
    assert machine["LoggingConfiguration"]["IncludeExecutionData"] is False
    assert_executions_alarm(service_template, machine_id)
