"""retrain_trigger: schedules, FeaturesReady and DriftDetected → the retraining policy → RetrainRequested."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from mlrails.adapters import s3
from mlrails.adapters.clients import client
from mlrails.adapters.state import StateTable
from support.aws import DAY, keys, with_detail
from support.samples import load_event

FEATURES_READY_ID = "0f1e2d3c-4b5a-4697-8877-665544332201"


@pytest.fixture
def retrain_trigger(cloud, handler):
    """The retrain_trigger function, loaded cold."""
    return handler("retrain_trigger")


def _decisions(bucket: str) -> list[dict]:
    """The audit log, in key (time) order."""
    return [s3.get_json(s3.uri(bucket, key)) for key in keys(bucket, "reports/retrain/churn-classifier/")]


def _deferrals(cloud) -> dict[str, str]:
    """The deferred triggers the policy's state holds, with the time each waits for."""
    remembered = StateTable(cloud.state_table).get("policy#churn-classifier")
    return {k: v for k, v in remembered.items() if k.startswith("deferred_")}


def _rows_in_the_cooldown(rows: int = 900, time: str = "2026-03-02T10:58:11Z") -> dict:
    """FeaturesReady an hour into the cooldown of the run the sample FeaturesReady starts."""
    return with_detail(
        "retrain_trigger_features_ready", id="1a2b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d", time=time, detail__rows=rows
    )


def _check(at: str) -> dict:
    """The deferred-retrain check's invocation for the slot at ``at``."""
    return {**load_event("retrain_trigger_deferred_check"), "scheduled_time": at}


def _runs() -> list[str]:
    """The names of the training runs started, sorted."""
    sfn = client("stepfunctions")
    machine = sfn.list_state_machines()["stateMachines"][0]["stateMachineArn"]
    return sorted(run["name"] for run in sfn.list_executions(stateMachineArn=machine)["executions"])


def test_new_data_below_min_rows_without_a_model_waits(retrain_trigger, bus, cloud, lambda_context):
    event = with_detail("retrain_trigger_features_ready", detail__rows=120)

    result = retrain_trigger.lambda_handler(event, lambda_context)

    assert result == {
        "trigger": "new_data",
        "retrain": False,
        "reason": "no model yet; waiting for training.min_rows=200 (have 120)",
    }
    assert bus.drain() == []
    assert keys(cloud.artifacts_bucket, "reports/retrain/") == [
        f"reports/retrain/churn-classifier/2026-03-02T095811Z-{FEATURES_READY_ID}.json"
    ]
    assert _decisions(cloud.artifacts_bucket) == [
        {
            "trigger": "new_data",
            "trigger_id": FEATURES_READY_ID,
            "at": "2026-03-02T09:58:11+00:00",
            "retrain": False,
            "reason": result["reason"],
            "rows_since_training": 120,
            "has_champion": False,
            "runs_in_period": 0,
        }
    ]


def test_enough_new_data_without_a_model_requests_the_first_training(retrain_trigger, bus, cloud, lambda_context):
    event = load_event("retrain_trigger_features_ready")

    result = retrain_trigger.lambda_handler(event, lambda_context)

    assert result == {"trigger": "new_data", "retrain": True, "reason": "no model yet and 600 rows available"}
    requested = bus.of("RetrainRequested")
    assert len(requested) == 1 and requested[0]["time"] == event["time"]
    assert requested[0]["detail"] == {
        "schema_version": "1",
        "model": "churn-classifier",
        "environment": "test",
        "reason": result["reason"],
        "trigger_id": event["id"],
        "features_uri": f"s3://{cloud.data_bucket}/features/",
    }
    # The training run is started, named after the trigger, with the input the sample train
    # step event carries: exactly what this decision produces.
    sfn = client("stepfunctions")
    machine = sfn.list_state_machines()["stateMachines"][0]["stateMachineArn"]
    (run,) = sfn.list_executions(stateMachineArn=machine)["executions"]
    assert run["name"] == event["id"]
    run_input = json.loads(sfn.describe_execution(executionArn=run["executionArn"])["input"])
    assert run_input == {"request": requested[0]["detail"], "time": "2026-03-02T09:58:11+00:00", "compute": "lambda"}
    assert run_input["request"] == load_event("train_step_train")["state"]["request"]
    assert [d["retrain"] for d in _decisions(cloud.artifacts_bucket)] == [True]


def test_a_duplicated_trigger_starts_one_training_run(retrain_trigger, cloud, lambda_context):
    from mlrails.adapters import training_runs

    event = load_event("retrain_trigger_features_ready")
    retrain_trigger.lambda_handler(event, lambda_context)
    sfn = client("stepfunctions")
    machine = sfn.list_state_machines()["stateMachines"][0]["stateMachineArn"]
    # Even past the handler's own idempotency (a different path starting the same trigger):
    # the run is named after the trigger, so Step Functions refuses a second one.
    training_runs.start(machine, event["id"], {"request": {}, "time": "2026-03-02T10:05:00+00:00"})
    assert len(sfn.list_executions(stateMachineArn=machine)["executions"]) == 1


def test_rows_accumulate_across_deliveries_until_the_threshold(retrain_trigger, bus, cloud, lambda_context):
    small = [
        with_detail(
            "retrain_trigger_features_ready",
            id=f"0f1e2d3c-4b5a-4697-8877-66554433220{n}",
            time=f"2026-03-02T0{n}:00:00Z",
            detail__rows=120,
        )
        for n in (1, 2)
    ]

    results = [retrain_trigger.lambda_handler(event, lambda_context) for event in small]

    assert [r["retrain"] for r in results] == [False, True]
    assert results[1]["reason"] == "no model yet and 240 rows available"
    assert len(bus.of("RetrainRequested")) == 1
    assert StateTable(cloud.state_table).get("policy#churn-classifier")["rows_since_training"] == 0


def test_rows_arriving_during_the_cooldown_are_deferred_not_dropped(retrain_trigger, bus, cloud, lambda_context):
    retrain_trigger.lambda_handler(load_event("retrain_trigger_features_ready"), lambda_context)

    result = retrain_trigger.lambda_handler(_rows_in_the_cooldown(), lambda_context)

    assert result == {
        "trigger": "new_data",
        "retrain": False,
        "reason": "deferred to 2026-03-02T21:58:11+00:00: new_data, no model yet and 900 rows available; "
        "cooldown until 2026-03-02T21:58:11+00:00",
    }
    assert len(bus.of("RetrainRequested")) == 1
    decisions = _decisions(cloud.artifacts_bucket)
    assert [(d["retrain"], d.get("deferred_to")) for d in decisions] == [
        (True, None),
        (False, "2026-03-02T21:58:11+00:00"),
    ]
    assert decisions[-1]["reason"] == result["reason"]
    assert _deferrals(cloud) == {"deferred_new_data": "2026-03-02T21:58:11+00:00"}


IDLE = {"trigger": "deferred", "retrain": False, "reason": "no deferred trigger is due"}


def test_the_deferred_run_starts_at_the_first_check_after_the_cooldown_and_not_before(
    retrain_trigger, bus, cloud, lambda_context
):
    retrain_trigger.lambda_handler(load_event("retrain_trigger_features_ready"), lambda_context)  # cooldown to 21:58
    retrain_trigger.lambda_handler(_rows_in_the_cooldown(), lambda_context)
    logged = len(_decisions(cloud.artifacts_bucket))

    slots = ["2026-03-02T11:00:00Z", "2026-03-02T21:00:00Z", "2026-03-02T22:00:00Z", "2026-03-02T23:00:00Z"]
    results = [retrain_trigger.lambda_handler(_check(at), lambda_context) for at in slots]

    started = {
        "trigger": "new_data",
        "retrain": True,
        "reason": "no model yet and 900 rows available, deferred to 2026-03-02T21:58:11+00:00",
    }
    assert results == [IDLE, IDLE, started, IDLE]
    # Named after the check's slot, like any trigger's run: a second start of it is refused.
    assert _runs() == sorted([FEATURES_READY_ID, "DeferredRetrain-2026-03-02T22-00-00Z"])
    requested = bus.of("RetrainRequested")[-1]
    assert (requested["detail"]["trigger_id"], requested["detail"]["reason"], requested["time"]) == (
        "DeferredRetrain-2026-03-02T22:00:00Z",
        started["reason"],
        "2026-03-02T22:00:00Z",
    )
    # The idle checks write nothing; the one that acted is a decision like any other.
    decisions = _decisions(cloud.artifacts_bucket)
    assert len(decisions) == logged + 1
    assert (decisions[-1]["trigger"], decisions[-1]["trigger_id"], decisions[-1]["retrain"]) == (
        "new_data",
        "DeferredRetrain-2026-03-02T22:00:00Z",
        True,
    )
    assert _deferrals(cloud) == {}
    assert StateTable(cloud.state_table).get("policy#churn-classifier")["rows_since_training"] == 0


def test_a_retried_check_starts_one_run(retrain_trigger, bus, cloud, cfg, lambda_context):
    from dataclasses import replace

    from mlrails.adapters.deployed import event_time, settings
    from mlrails.retraining.trigger import TriggerPorts, incoming, run_deferred

    retrain_trigger.lambda_handler(load_event("retrain_trigger_features_ready"), lambda_context)
    retrain_trigger.lambda_handler(_rows_in_the_cooldown(), lambda_context)
    check = _check("2026-03-02T22:00:00Z")
    deployed = settings(needs_state_machine=True)

    def throttled(*_):
        raise RuntimeError("throttled")

    # The first attempt takes the lease (and with it the deferral), then Step Functions throttles the start.
    failing = replace(TriggerPorts.deployed(cfg, deployed), start_run=throttled)
    with pytest.raises(RuntimeError):
        run_deferred(cfg, deployed, check_id=incoming(check).trigger_id, at=event_time(check), ports=failing)
    assert _deferrals(cloud) == {}

    # Scheduler retries the slot (a new execution id each attempt), more than once.
    retried = [
        retrain_trigger.lambda_handler({**check, "execution_id": execution}, lambda_context)
        for execution in ("0d1e2f3a-4b5c-4d6e-8f7a-8b9c0d1e2f3a", "1e2f3a4b-5c6d-4e7f-9a8b-9c0d1e2f3a4b")
    ]

    assert retried[0] == retried[1] and retried[0]["trigger"] == "new_data" and retried[0]["retrain"] is True
    assert _runs() == sorted([FEATURES_READY_ID, "DeferredRetrain-2026-03-02T22-00-00Z"])
    assert len(bus.of("RetrainRequested")) == 2
    assert retrain_trigger.lambda_handler(_check("2026-03-02T23:00:00Z"), lambda_context) == IDLE


def _drift(time: str, n: int) -> dict:
    return with_detail("retrain_trigger_drift_detected", id=f"6a7b8c9d-0e1f-4a2b-8c3d-4e5f6a7b8c9{n}", time=time)


def _new_rows(time: str, rows: int = 2500) -> dict:
    """With a champion: enough rows for min_new_rows (2,000 in mlrails.yaml)."""
    return with_detail(
        "retrain_trigger_features_ready", id="7b8c9d0e-1f2a-4b3c-9d4e-5f6a7b8c9d0e", time=time, detail__rows=rows
    )


def test_a_run_started_meanwhile_consumes_the_deferral(champion, retrain_trigger, bus, cloud, lambda_context):
    assert retrain_trigger.lambda_handler(_drift("2026-03-03T00:00:00Z", 0), lambda_context)["retrain"]
    deferred = retrain_trigger.lambda_handler(_new_rows("2026-03-03T06:00:00Z"), lambda_context)
    assert deferred["reason"].startswith("deferred to 2026-03-03T12:00:00+00:00: new_data, 2500 new rows")

    # After the cooldown, before the next check: drift again, and a run starts on the rows waiting.
    meanwhile = retrain_trigger.lambda_handler(_drift("2026-03-03T12:30:00Z", 1), lambda_context)
    check = retrain_trigger.lambda_handler(_check("2026-03-03T13:00:00Z"), lambda_context)

    assert meanwhile == {"trigger": "drift", "retrain": True, "reason": "input drift detected"}
    assert check == IDLE
    assert len(bus.of("RetrainRequested")) == 2 and len(_runs()) == 2
    assert _deferrals(cloud) == {}
    assert StateTable(cloud.state_table).get("policy#churn-classifier")["rows_since_training"] == 0


def test_drift_deferred_behind_new_data_keeps_its_reason(champion, retrain_trigger, bus, cloud, lambda_context):
    retrain_trigger.lambda_handler(_drift("2026-03-03T00:00:00Z", 0), lambda_context)
    retrain_trigger.lambda_handler(_new_rows("2026-03-03T02:00:00Z"), lambda_context)
    drift = retrain_trigger.lambda_handler(_drift("2026-03-03T04:00:00Z", 1), lambda_context)

    assert drift["reason"] == (
        "deferred to 2026-03-03T12:00:00+00:00: drift, input drift detected; cooldown until 2026-03-03T12:00:00+00:00"
    )
    assert _deferrals(cloud) == {
        "deferred_new_data": "2026-03-03T12:00:00+00:00",
        "deferred_drift": "2026-03-03T12:00:00+00:00",
    }

    result = retrain_trigger.lambda_handler(_check("2026-03-03T12:00:00Z"), lambda_context)

    assert result == {
        "trigger": "drift",
        "retrain": True,
        "reason": "input drift detected, deferred to 2026-03-03T12:00:00+00:00",
    }
    assert bus.of("RetrainRequested")[-1]["detail"]["reason"] == result["reason"]
    # One run for both: it trains on the rows that waited, and consumes both deferrals.
    assert len(_runs()) == 2 and _deferrals(cloud) == {}
    assert StateTable(cloud.state_table).get("policy#churn-classifier")["rows_since_training"] == 0


def test_a_trigger_over_max_retrains_runs_when_the_oldest_run_leaves_the_period(
    champion, retrain_trigger, bus, cfg, lambda_context
):
    count = cfg.retraining.max_retrains.count
    for n in range(count + 1):  # a day apart: the last is over the limit, deferred to 03-10
        retrain_trigger.lambda_handler(_drift(f"2026-03-0{3 + n}T00:00:00Z", n), lambda_context)

    early = retrain_trigger.lambda_handler(_check("2026-03-09T23:00:00Z"), lambda_context)
    due = retrain_trigger.lambda_handler(_check("2026-03-10T00:00:00Z"), lambda_context)

    assert early == IDLE
    assert due == {
        "trigger": "drift",
        "retrain": True,
        "reason": "input drift detected, deferred to 2026-03-10T00:00:00+00:00",
    }
    assert len(bus.of("RetrainRequested")) == count + 1


def test_a_deferral_no_longer_worth_a_run_is_forgotten(retrain_trigger, cloud, cfg, lambda_context):
    from dataclasses import replace

    from mlrails.adapters.deployed import settings
    from mlrails.retraining.policy import PolicyDecision
    from mlrails.retraining.trigger import TriggerPorts, run_deferred

    retrain_trigger.lambda_handler(load_event("retrain_trigger_features_ready"), lambda_context)
    retrain_trigger.lambda_handler(_rows_in_the_cooldown(), lambda_context)  # deferred for a first model
    deployed = settings(needs_state_machine=True)
    # The first run promoted a model meanwhile: 900 new rows are now below min_new_rows.
    trained = replace(TriggerPorts.deployed(cfg, deployed), has_champion=lambda: True)

    due = run_deferred(
        cfg,
        deployed,
        check_id="DeferredRetrain-2026-03-02T22:00:00Z",
        at=datetime(2026, 3, 2, 22, tzinfo=UTC),
        ports=trained,
    )

    assert due == ("new_data", PolicyDecision(False, "900 new rows < retraining.min_new_rows=2000"))
    assert _decisions(cloud.artifacts_bucket)[-1]["reason"] == due[1].reason
    assert _deferrals(cloud) == {}
    assert StateTable(cloud.state_table).get("policy#churn-classifier")["rows_since_training"] == 900
    assert (
        run_deferred(
            cfg,
            deployed,
            check_id="DeferredRetrain-2026-03-02T23:00:00Z",
            at=datetime(2026, 3, 2, 23, tzinfo=UTC),
            ports=trained,
        )
        is None
    )


def test_a_deferral_keeps_its_earliest_time(champion, cloud, cfg):
    from mlrails.adapters.deployed import settings
    from mlrails.retraining.trigger import handle_trigger, run_deferred

    deployed = settings(needs_state_machine=True)
    handle_trigger(cfg, deployed, trigger="drift", trigger_id="a", at=DAY)
    handle_trigger(cfg, deployed, trigger="drift", trigger_id="b", at=DAY + timedelta(hours=1))
    # A redeploy lengthens the cooldown: the drift already waiting keeps its time, whose check
    # puts it to the policy again (and defers it anew if it is still too soon then).
    longer = cfg.model_copy(update={"retraining": cfg.retraining.model_copy(update={"cooldown_hours": 24})})
    again = handle_trigger(longer, deployed, trigger="drift", trigger_id="c", at=DAY + timedelta(hours=2))

    assert again.deferred_to == DAY + timedelta(hours=12)
    assert again.reason.endswith("; already deferred to 2026-03-02T12:00:00+00:00")
    assert _deferrals(cloud) == {"deferred_drift": "2026-03-02T12:00:00+00:00"}
    trigger, check = run_deferred(longer, deployed, check_id="DeferredRetrain-d", at=DAY + timedelta(hours=12))
    assert trigger == "drift" and not check.retrain and check.deferred_to == DAY + timedelta(hours=24)
    assert _deferrals(cloud) == {"deferred_drift": "2026-03-03T00:00:00+00:00"}


def test_a_trigger_whose_lease_changed_as_it_was_deferred_is_not(cloud, cfg):
    from dataclasses import replace

    from mlrails.adapters.deployed import settings
    from mlrails.retraining.trigger import TriggerPorts, handle_trigger

    # A late delivery read the state while the first run held the cooldown; a run started
    # since (after it: it serves it) before its deferral was written.
    deployed = settings(needs_state_machine=True)
    table = StateTable(cloud.state_table)
    assert handle_trigger(cfg, deployed, trigger="new_data", trigger_id="a", at=DAY, new_rows=5000).retrain
    stale = table.get("policy#churn-classifier")
    later = DAY + timedelta(hours=13)
    assert handle_trigger(cfg, deployed, trigger="new_data", trigger_id="b", at=later, new_rows=5000).retrain

    class ReadBeforeTheLease(StateTable):
        def get(self, pk: str) -> dict:
            return stale

    late = replace(TriggerPorts.deployed(cfg, deployed), state=ReadBeforeTheLease(cloud.state_table))
    decision = handle_trigger(
        cfg, deployed, trigger="new_data", trigger_id="c", at=DAY + timedelta(hours=1), new_rows=300, ports=late
    )

    assert decision.reason == "another trigger took or gave back the cooldown lease at the same moment"
    assert decision.deferred_to is None and _deferrals(cloud) == {}


def test_with_a_champion_drift_retrains_then_the_schedule_waits_out_the_cooldown(
    champion, retrain_trigger, bus, cloud, lambda_context
):
    drift = load_event("retrain_trigger_drift_detected")
    too_soon = {
        **load_event("retrain_trigger_schedule"),
        "scheduled_time": "2026-03-03T06:00:00Z",
        "execution_id": "6f5e4d3c-2b1a-4f0e-9d8c-7b6a5f4e3d2c",
    }
    cadence = load_event("retrain_trigger_schedule")

    results = [retrain_trigger.lambda_handler(e, lambda_context) for e in (drift, too_soon, cadence)]

    assert results == [
        {"trigger": "drift", "retrain": True, "reason": "input drift detected"},
        {"trigger": "schedule", "retrain": False, "reason": "cooldown until 2026-03-03T12:00:00+00:00"},
        {"trigger": "schedule", "retrain": True, "reason": "scheduled cadence"},
    ]
    requested = bus.of("RetrainRequested")
    assert [(e["detail"]["reason"], e["detail"]["trigger_id"], e["time"]) for e in requested] == [
        ("input drift detected", drift["id"], "2026-03-03T00:00:00Z"),
        ("scheduled cadence", f"{cadence['schedule']}-{cadence['scheduled_time']}", "2026-03-09T00:00:00Z"),
    ]
    decisions = _decisions(cloud.artifacts_bucket)
    assert [(d["trigger"], d["retrain"], d["has_champion"]) for d in decisions] == [
        ("drift", True, True),
        ("schedule", False, True),
        ("schedule", True, True),
    ]


def test_with_a_champion_a_small_batch_of_new_data_is_not_enough(champion, retrain_trigger, bus, lambda_context):
    result = retrain_trigger.lambda_handler(load_event("retrain_trigger_features_ready"), lambda_context)

    assert result == {"trigger": "new_data", "retrain": False, "reason": "600 new rows < retraining.min_new_rows=2000"}
    assert bus.drain() == []


def test_a_duplicated_event_is_decided_once(retrain_trigger, bus, cloud, lambda_context):
    waiting = with_detail("retrain_trigger_features_ready", detail__rows=120)
    ready = with_detail(
        "retrain_trigger_features_ready",
        id="2b3c4d5e-6f7a-4b8c-9d0e-1f2a3b4c5d6e",
        time="2026-03-02T11:00:00Z",
        detail__rows=600,
    )

    first = retrain_trigger.lambda_handler(waiting, lambda_context)
    assert retrain_trigger.lambda_handler(waiting, lambda_context) == first
    # Counted once: 120 rows, not 240.
    assert StateTable(cloud.state_table).get("policy#churn-classifier")["rows_since_training"] == 120
    decided = retrain_trigger.lambda_handler(ready, lambda_context)
    assert retrain_trigger.lambda_handler(ready, lambda_context) == decided

    assert decided["retrain"] is True and decided["reason"] == "no model yet and 720 rows available"
    assert len(bus.of("RetrainRequested")) == 1
    assert len(_decisions(cloud.artifacts_bucket)) == 2


def test_a_retried_schedule_slot_is_decided_once(champion, retrain_trigger, bus, cloud, lambda_context):
    cadence = load_event("retrain_trigger_schedule")
    retried = {**cadence, "execution_id": "9e8d7c6b-5a4f-4e3d-8c2b-1a0f9e8d7c6b"}  # Scheduler's retry, same slot

    first = retrain_trigger.lambda_handler(cadence, lambda_context)
    second = retrain_trigger.lambda_handler(retried, lambda_context)

    assert second == first == {"trigger": "schedule", "retrain": True, "reason": "scheduled cadence"}
    assert len(bus.of("RetrainRequested")) == 1
    assert len(_decisions(cloud.artifacts_bucket)) == 1


def test_a_retry_after_a_failed_start_starts_the_run_instead_of_meeting_its_own_cooldown(
    retrain_trigger, cloud, cfg, lambda_context
):
    from dataclasses import replace

    from mlrails.adapters.deployed import event_time, settings
    from mlrails.retraining.trigger import TriggerPorts, handle_trigger, incoming

    event = load_event("retrain_trigger_features_ready")
    deployed = settings(needs_state_machine=True)
    asked = incoming(event)

    def throttled(*_):
        raise RuntimeError("throttled")

    # The first attempt takes the lease, then Step Functions throttles the start.
    failing = replace(TriggerPorts.deployed(cfg, deployed), start_run=throttled)
    with pytest.raises(RuntimeError):
        handle_trigger(
            cfg,
            deployed,
            trigger=asked.trigger,
            trigger_id=asked.trigger_id,
            at=event_time(event),
            new_rows=asked.new_rows,
            ports=failing,
        )

    retried = retrain_trigger.lambda_handler(event, lambda_context)  # Lambda's retry, with the real ports

    assert retried["retrain"] is True
    sfn = client("stepfunctions")
    machine = sfn.list_state_machines()["stateMachines"][0]["stateMachineArn"]
    assert [run["name"] for run in sfn.list_executions(stateMachineArn=machine)["executions"]] == [event["id"]]


def test_two_triggers_at_once_start_one_run(cloud, cfg):
    from dataclasses import replace

    from mlrails.adapters.deployed import settings
    from mlrails.adapters.state import StateTable
    from mlrails.retraining.trigger import TriggerPorts, handle_trigger

    # The second trigger read the state before the first took the lease: its compare-and-set fails.
    deployed = settings(needs_state_machine=True)
    table = StateTable(cloud.state_table)
    table.add("policy#churn-classifier", "rows_since_training", 5000)
    stale = table.get("policy#churn-classifier")

    class ReadBeforeTheLease(StateTable):
        def get(self, pk: str) -> dict:
            return stale

    first = handle_trigger(cfg, deployed, trigger="new_data", trigger_id="a", at=DAY)
    late = replace(TriggerPorts.deployed(cfg, deployed), state=ReadBeforeTheLease(cloud.state_table))
    second = handle_trigger(cfg, deployed, trigger="new_data", trigger_id="b", at=DAY, ports=late)
    assert first.retrain and not second.retrain
    assert second.reason == "another trigger started a run at the same moment"


def test_the_maximum_runs_per_period_is_counted_in_the_state_table_and_audited(
    champion, retrain_trigger, bus, cloud, cfg, lambda_context
):
    # mlrails.yaml: `count` runs per 168 h, a 12 h cooldown; one degradation more, a day apart.
    count = cfg.retraining.max_retrains.count
    assert cfg.retraining.max_retrains.period_hours == 168 and cfg.retraining.cooldown_hours <= 24
    events = [
        with_detail(
            "retrain_trigger_drift_detected",
            id=f"3c4d5e6f-7a8b-4c9d-8e0f-1a2b3c4d5e6{n}",
            time=f"2026-03-0{3 + n}T00:00:00Z",
        )
        for n in range(count + 1)
    ]

    results = [retrain_trigger.lambda_handler(event, lambda_context) for event in events]

    assert [r["retrain"] for r in results] == [True] * count + [False]
    assert results[count]["reason"] == (
        "deferred to 2026-03-10T00:00:00+00:00: drift, input drift detected; "
        f"{count} runs in the last 168 h reach retraining.max_retrains.count={count}: "
        "next run possible from 2026-03-10T00:00:00+00:00"
    )
    assert len(bus.of("RetrainRequested")) == count
    decisions = _decisions(cloud.artifacts_bucket)
    assert [(d["retrain"], d["runs_in_period"]) for d in decisions] == [(True, n) for n in range(count)] + [
        (False, count)
    ]
    assert decisions[count]["reason"] == results[count]["reason"]
    remembered = json.loads(StateTable(cloud.state_table).get("policy#churn-classifier")["recent_retrains"])
    assert remembered == [f"2026-03-0{3 + n}T00:00:00+00:00" for n in range(count)]


def test_a_degraded_model_requests_a_run(champion, retrain_trigger, bus, lambda_context):
    from mlrails.events import parse_detail

    event = load_event("retrain_trigger_performance_degraded")
    parse_detail(event["detail-type"], event["detail"])  # the sample is what performance_check emits

    result = retrain_trigger.lambda_handler(event, lambda_context)

    assert result == {"trigger": "performance", "retrain": True, "reason": "model performance degraded"}
    assert [e["detail"]["trigger_id"] for e in bus.of("RetrainRequested")] == [event["id"]]


def test_a_failed_run_gives_back_its_lease_slot_and_rows(retrain_trigger, bus, cloud, lambda_context):
    started = load_event("retrain_trigger_features_ready")  # 600 rows, no model yet: a run starts
    assert retrain_trigger.lambda_handler(started, lambda_context)["retrain"] is True
    failed = load_event("retrain_trigger_training_failed")  # that run's TrainingFailed (MLflow was down)
    assert failed["detail"]["trigger_id"] == started["id"]

    result = retrain_trigger.lambda_handler(failed, lambda_context)

    assert result["retrain"] is False and result["reason"].startswith("gave back the cooldown lease")
    remembered = StateTable(cloud.state_table).get("policy#churn-classifier")
    assert remembered["rows_since_training"] == 600 and "last_retrain_at" not in remembered
    assert json.loads(remembered["recent_retrains"]) == []
    decision = _decisions(cloud.artifacts_bucket)[-1]
    assert decision["trigger"] == "training_failed" and decision["trigger_id"] == started["id"]
    assert decision["reason"] == (
        "training run failed (MlflowException); gave back the cooldown lease, its "
        "max_retrains slot and 600 new rows: the next trigger may start a run"
    )
    # Within what was the cooldown, the next trigger starts a run: with the rows it gave back.
    retry = with_detail(
        "retrain_trigger_features_ready",
        id="5d4c3b2a-1f0e-4d9c-8b7a-6f5e4d3c2b1a",
        time="2026-03-02T10:30:00Z",
        detail__rows=10,
    )
    assert retrain_trigger.lambda_handler(retry, lambda_context) == {
        "trigger": "new_data",
        "retrain": True,
        "reason": "no model yet and 610 rows available",
    }


def test_a_redelivered_failure_gives_back_nothing_twice(retrain_trigger, bus, cloud, lambda_context):
    retrain_trigger.lambda_handler(load_event("retrain_trigger_features_ready"), lambda_context)
    failed = load_event("retrain_trigger_training_failed")
    retrain_trigger.lambda_handler(failed, lambda_context)
    # The same failure again under another event id (past the handler's idempotency).
    again = retrain_trigger.lambda_handler({**failed, "id": "0a9b8c7d-6e5f-4a3b-2c1d-0e9f8a7b6c5d"}, lambda_context)

    assert again["reason"] == "nothing left to give back (already given back, or a later run holds the lease)"
    assert StateTable(cloud.state_table).get("policy#churn-classifier")["rows_since_training"] == 600


def test_a_failure_after_a_later_run_took_the_lease_gives_back_only_its_slot(
    champion, retrain_trigger, cloud, cfg, lambda_context
):
    # The first run is still going (slow) when the cooldown ends and a second run starts.
    at = [
        datetime(2026, 3, 3, tzinfo=UTC),
        datetime(2026, 3, 3, tzinfo=UTC) + timedelta(hours=cfg.retraining.cooldown_hours),
    ]
    first, second = (
        with_detail(
            "retrain_trigger_drift_detected",
            id=f"4b5c6d7e-8f90-4a1b-9c2d-3e4f5a6b7c8{n}",
            time=f"{t:%Y-%m-%dT%H:%M:%SZ}",
        )
        for n, t in enumerate(at)
    )
    assert all(retrain_trigger.lambda_handler(e, lambda_context)["retrain"] for e in (first, second))
    failed = with_detail(
        "retrain_trigger_training_failed",
        time=f"{at[1] + timedelta(hours=1):%Y-%m-%dT%H:%M:%SZ}",
        detail__trigger_id=first["id"],
        detail__requested_at=at[0].isoformat(),
    )

    result = retrain_trigger.lambda_handler(failed, lambda_context)

    assert result["reason"].startswith("gave back its max_retrains slot")
    remembered = StateTable(cloud.state_table).get("policy#churn-classifier")
    assert remembered["last_trigger_id"] == second["id"]  # the later run keeps its lease
    assert json.loads(remembered["recent_retrains"]) == [at[1].isoformat()]
