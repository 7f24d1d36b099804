"""drift_check's fan-out: a window over its budget is handed to the drift fan-out state
machine, whose steps call the function back as the Distributed Map would (count per ItemBatcher
batch, then judge); the report is the one a single pass gives."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from mlrails.adapters import s3
from mlrails.adapters.clients import client
from mlrails.adapters.state import StateTable
from mlrails.local.synthetic import churn_frame
from support.aws import DAY, keys, redeploy
from support.samples import load_event

REPORT_KEY = "reports/drift/churn-classifier/2026-03-03T000000Z.json"
PAGE_KEY = "reports/drift/churn-classifier/2026-03-03T000000Z.html"
PREFIX = "reports/drift/churn-classifier/2026-03-03T000000Z/"


@pytest.fixture
def drift_check(cloud, handler):
    return handler("drift_check")


@pytest.fixture
def drifted_window(champion, serve):
    """Drifted traffic in three hour partitions of the sample event's window: three capture
    objects at least, of a few kilobytes each."""
    for hour, seed in ((3, 30), (9, 31), (15, 32)):
        serve(churn_frame(120, DAY, seed=seed, drift=0.9), DAY + timedelta(hours=hour))


def _budget(cloud, cfg, monkeypatch, mb: float) -> None:
    monitoring = cfg.monitoring.model_copy(update={"single_pass_max_mb": mb})
    redeploy(cloud, cfg.model_copy(update={"monitoring": monitoring}), monkeypatch)


def _run_fanout(drift_check, lambda_context, cloud, *, skip_shard: int | None = None):
    """The state machine's steps over the execution the check started: the item list read as
    the ItemReader reads it, cut as the ItemBatcher cuts it, each batch counted, then judged."""
    sfn = client("stepfunctions")
    machine = next(m for m in sfn.list_state_machines()["stateMachines"] if m["name"].endswith("drift-fanout"))
    executions = sfn.list_executions(stateMachineArn=machine["stateMachineArn"])["executions"]
    assert len(executions) == 1
    state = json.loads(sfn.describe_execution(executionArn=executions[0]["executionArn"])["input"])
    items = s3.get_json(s3.uri(state["bucket"], state["items_key"]))
    batches = [items[i : i + state["per_shard"]] for i in range(0, len(items), state["per_shard"])]
    assert state["prefix"] == load_event("drift_check_judge")["prefix"]
    for n, batch in enumerate(batches):
        if n != skip_shard:
            event = {**load_event("drift_check_count"), "items": batch}
            assert drift_check.lambda_handler(json.loads(json.dumps(event)), lambda_context) == {}
    return drift_check.lambda_handler(load_event("drift_check_judge"), lambda_context), batches


def test_a_window_over_the_budget_fans_out_and_judges_as_one_pass(
    drifted_window, drift_check, bus, cloud, cfg, lambda_context, monkeypatch
):
    event = load_event("drift_check_schedule")
    one_pass = drift_check.lambda_handler(event, lambda_context)
    reports = {key: s3.get_bytes(s3.uri(cloud.artifacts_bucket, key)) for key in (REPORT_KEY, PAGE_KEY)}
    for key in reports:
        s3.delete(s3.uri(cloud.artifacts_bucket, key))
    # The count as before the window was judged (no count, no window counted).
    StateTable(cloud.state_table).compare_and_set(f"drift#{cfg.model.name}", expected={}, consecutive=0, window=None)
    bus.drain()
    bus.seen.clear()  # the single pass's DriftDetected

    # A budget below any two capture objects: one object a shard.
    _budget(cloud, cfg, monkeypatch, 0.001)
    # Another slot id for the same window (the one-pass check's record stays): fanned out now.
    fanned = drift_check.lambda_handler({**event, "scheduled_time": "2026-03-03T00:00:00.000Z"}, lambda_context)

    assert fanned["status"] == "fanned_out" and fanned["prefix"] == PREFIX and fanned["shards"] >= 3
    assert keys(cloud.artifacts_bucket, PREFIX) == [PREFIX + "items.json", PREFIX + "plan.json"]
    judged, batches = _run_fanout(drift_check, lambda_context, cloud)

    assert len(batches) == fanned["shards"]
    assert judged == one_pass and judged["drift_detected"] is True
    assert {key: s3.get_bytes(s3.uri(cloud.artifacts_bucket, key)) for key in reports} == reports
    assert len(bus.of("DriftDetected")) == 1
    # A retried judge (Lambda's transient errors are retried) counts the window once.
    assert drift_check.lambda_handler(load_event("drift_check_judge"), lambda_context) == judged
    assert StateTable(cloud.state_table).get(f"drift#{cfg.model.name}")["consecutive"] == 1
    assert bus.drain() == []


def test_a_retried_schedule_starts_no_second_fanout_and_keeps_the_first_plan(
    drifted_window, serve, drift_check, cloud, cfg, lambda_context, monkeypatch
):
    _budget(cloud, cfg, monkeypatch, 0.001)
    event = load_event("drift_check_schedule")
    first = drift_check.lambda_handler(event, lambda_context)
    files = ("plan.json", "items.json")
    planned = {name: s3.get_bytes(s3.uri(cloud.artifacts_bucket, PREFIX + name)) for name in files}
    serve(churn_frame(50, DAY, seed=33), DAY + timedelta(hours=20))  # a capture object delivered late
    # Past the idempotency record (a new slot id), the execution's name still refuses a second run.
    again = drift_check.lambda_handler({**event, "scheduled_time": "2026-03-03T00:00:00+00:00"}, lambda_context)

    assert first["status"] == again["status"] == "fanned_out" and again == first
    assert {name: s3.get_bytes(s3.uri(cloud.artifacts_bucket, PREFIX + name)) for name in planned} == planned
    sfn = client("stepfunctions")
    machine = next(m for m in sfn.list_state_machines()["stateMachines"] if m["name"].endswith("drift-fanout"))
    assert len(sfn.list_executions(stateMachineArn=machine["stateMachineArn"])["executions"]) == 1


def test_a_shard_without_its_partial_gives_no_verdict(
    drifted_window, drift_check, bus, cloud, cfg, lambda_context, monkeypatch
):
    from mlrails.drift.fanout import ShardsMissing

    _budget(cloud, cfg, monkeypatch, 0.001)
    drift_check.lambda_handler(load_event("drift_check_schedule"), lambda_context)

    with pytest.raises(ShardsMissing, match="missing"):
        _run_fanout(drift_check, lambda_context, cloud, skip_shard=1)
    assert keys(cloud.artifacts_bucket, REPORT_KEY) == keys(cloud.artifacts_bucket, PAGE_KEY) == []  # no report
    assert StateTable(cloud.state_table).get(f"drift#{cfg.model.name}").get("consecutive", 0) == 0
    assert bus.of("DriftDetected") == []


def test_a_window_within_the_budget_is_one_pass(drifted_window, drift_check, cloud, lambda_context):
    result = drift_check.lambda_handler(load_event("drift_check_schedule"), lambda_context)

    assert result["status"] == "drift" and keys(cloud.artifacts_bucket, PREFIX) == []


def test_a_step_event_it_cannot_read_is_refused(drift_check, lambda_context):
    from mlrails.errors import BadRequest

    with pytest.raises(BadRequest, match="one of \\['count', 'judge'\\]"):
        drift_check.lambda_handler({"phase": "shard"}, lambda_context)
    with pytest.raises(BadRequest, match="'items' \\(list\\)"):
        drift_check.lambda_handler({**load_event("drift_check_count"), "items": None}, lambda_context)


def test_a_shard_handed_items_not_of_the_plan_is_refused(
    drifted_window, drift_check, cloud, cfg, lambda_context, monkeypatch
):
    from mlrails.errors import BadRequest

    _budget(cloud, cfg, monkeypatch, 0.001)
    fanned = drift_check.lambda_handler(load_event("drift_check_schedule"), lambda_context)
    count = {"phase": "count", "prefix": fanned["prefix"]}
    with pytest.raises(BadRequest, match="not the item list's"):
        drift_check.lambda_handler({**count, "items": [{"key": "capture/x.jsonl"}]}, lambda_context)
    with pytest.raises(BadRequest, match="not all among the plan's"):
        drift_check.lambda_handler({**count, "items": [{"index": -1}]}, lambda_context)
