"""The retrain trigger: apply the policy to a trigger, record why, request a run or defer the
trigger to when the cooldown allows one; start a deferred trigger's run when its time comes;
and when a run fails, give back what starting it took."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, Literal

from mlrails.adapters import manifests, s3, training_runs
from mlrails.adapters.bus import publish
from mlrails.adapters.state import StateTable
from mlrails.config import ProjectConfig
from mlrails.errors import BadRequest
from mlrails.events import FeaturesReady, RetrainRequested, TrainingFailed, parse_detail
from mlrails.retraining import policy
from mlrails.settings import Settings
from mlrails.training import compute
from mlrails.wiring import TRAINING, DetailType, Prefix, function


@dataclass(frozen=True)
class TriggerPorts:
    """What the retrain trigger talks to: the policy's memory (``state``), whether a champion
    exists, the decision log (``log(name, record)``), the training state machine
    (``start_run(trigger_id, run_input)``), the bus (``publish(request, at)``) and the engine a
    run starting now executes on (``engine()``: :func:`mlrails.training.compute.for_run`)
    :meth:`deployed` builds the real ones; a test passes its own."""

    state: StateTable
    has_champion: Callable[[], bool]
    log: Callable[[str, dict[str, Any]], None]
    start_run: Callable[[str, dict[str, Any]], str]
    publish: Callable[[RetrainRequested, datetime], None]
    engine: Callable[[], compute.Engine]

    @classmethod
    def deployed(cls, cfg: ProjectConfig, settings: Settings) -> TriggerPorts:
        reports = f"{Prefix.REPORTS.value}retrain/{cfg.model.name}/"
        return cls(
            state=StateTable(settings.state_table),
            has_champion=lambda: manifests.read_current(settings.artifacts_bucket, cfg.model.name) is not None,
            log=lambda name, record: s3.put_json(s3.uri(settings.artifacts_bucket, f"{reports}{name}.json"), record),
            start_run=lambda trigger_id, run_input: training_runs.start(
                settings.training_state_machine, trigger_id, run_input
            ),
            publish=lambda request, at: publish(request, settings, time=at),
            # The train function's memory as deployed: the wiring's, which the CDK app gives it.
            engine=lambda: compute.for_run(cfg, settings.data_bucket, function(TRAINING.function).memory_mb),
        )


def handle_trigger(
    cfg: ProjectConfig,
    settings: Settings,
    *,
    trigger: policy.Trigger,
    trigger_id: str,
    at: datetime,
    new_rows: int = 0,
    deferred_to: datetime | None = None,
    ports: TriggerPorts | None = None,
) -> policy.PolicyDecision:
    """Decide, write the decision to the audit log, and on yes take the cooldown lease,
    start the training run (named after the trigger) and publish ``RetrainRequested``. A
    trigger that only the cooldown or ``max_retrains`` declines is deferred (:func:`_defer`);
    ``deferred_to`` marks the decision :func:`run_deferred` asks for a deferred trigger.

    Safe under concurrency and retries: the lease is a compare-and-set on the last retrain
    time (two triggers cannot both start a run), and a retry of a trigger that already holds
    the lease goes on to start its run instead of meeting its own cooldown. Taking the lease
    consumes every deferral: the run it starts serves them."""
    ports = ports or TriggerPorts.deployed(cfg, settings)
    state, pk = ports.state, f"policy#{cfg.model.name}"
    remembered = state.get(pk)
    rows = state.add(pk, "rows_since_training", new_rows) if new_rows else int(remembered.get("rows_since_training", 0))
    last = remembered.get("last_retrain_at")
    recent = tuple(datetime.fromisoformat(t) for t in json.loads(remembered.get("recent_retrains", "[]")))
    has_champion = ports.has_champion()
    if remembered.get("last_trigger_id") == trigger_id:
        decision = policy.PolicyDecision(True, remembered.get("last_reason", "retry of an accepted trigger"))
    else:
        current = policy.PolicyState(
            has_champion=has_champion,
            rows_since_training=rows,
            last_retrain_at=datetime.fromisoformat(last) if last else None,
            recent_retrains=recent,
        )
        decision = policy.decide(trigger, current, cfg, at)
        if decision.retrain and deferred_to is not None:
            decision = replace(decision, reason=f"{decision.reason}, deferred to {deferred_to.isoformat()}")
        # The runs of the period are written with the lease: one atomic compare-and-set.
        counted = [t.isoformat() for t in policy.within_period(recent, cfg, at)] + [at.isoformat()]
        # What the lease takes is remembered with it, for a failed run to give back (give_back).
        if decision.retrain and not state.compare_and_set(
            pk,
            expected={"last_retrain_at": last},
            last_retrain_at=at,
            last_trigger_id=trigger_id,
            last_trigger=trigger,
            last_reason=decision.reason,
            recent_retrains=json.dumps(counted),
            lease_previous_retrain_at=last,
            lease_rows=rows,
            **dict.fromkeys(map(_deferral, policy.DEFERRABLE)),
        ):
            decision = policy.PolicyDecision(False, "another trigger started a run at the same moment")
        elif decision.deferred_to is not None:
            decision = _defer(state, pk, trigger, decision, decision.deferred_to, remembered, at)
    ports.log(
        f"{at:%Y-%m-%dT%H%M%SZ}-{trigger_id}",
        {
            "trigger": trigger,
            "trigger_id": trigger_id,
            "at": at.isoformat(),
            "retrain": decision.retrain,
            "reason": decision.reason,
            "rows_since_training": rows,
            "has_champion": has_champion,
            "runs_in_period": len(policy.within_period(recent, cfg, at)),
            **({"deferred_to": decision.deferred_to.isoformat()} if decision.deferred_to else {}),
        },
    )
    if decision.retrain:
        request = RetrainRequested(
            cfg.model.name,
            settings.environment,
            decision.reason,
            trigger_id,
            s3.uri(settings.data_bucket, Prefix.FEATURES.value),
        )
        # compute: the state machine's first state runs the steps on that engine (training.compute).
        ports.start_run(trigger_id, {"request": request.to_detail(), "time": at.isoformat(), "compute": ports.engine()})
        ports.publish(request, at)
        if rows:  # consume what this run trains on; rows counted meanwhile stay counted
            state.add(pk, "rows_since_training", -rows)
    return decision


def _deferral(trigger: policy.Trigger) -> str:
    """The state attribute that holds when a deferred trigger may start its run: one per
    trigger, so that deferring one never overwrites another (a drift trigger is not lost
    behind new data) and concurrent deferrals never conflict."""
    return f"deferred_{trigger}"


def _defer(
    state: StateTable,
    pk: str,
    trigger: policy.Trigger,
    decision: policy.PolicyDecision,
    deferred_to: datetime,
    remembered: dict[str, Any],
    at: datetime,
) -> policy.PolicyDecision:
    """Remember a deferred trigger, keeping the earlier time when it already waits for one
    that has not come yet (a time that has come was put to the policy again: the new one
    replaces it). Written only while the lease the policy saw still holds: a run started
    since serves the trigger (and consumed the deferrals)."""
    waiting = remembered.get(_deferral(trigger))
    earlier = datetime.fromisoformat(waiting) if waiting is not None else None
    if earlier is not None and at < earlier <= deferred_to:
        if earlier == deferred_to:
            return decision
        return replace(decision, reason=f"{decision.reason}; already deferred to {waiting}", deferred_to=earlier)
    if state.compare_and_set(
        pk, expected={"last_retrain_at": remembered.get("last_retrain_at")}, **{_deferral(trigger): deferred_to}
    ):
        return decision
    return policy.PolicyDecision(False, "another trigger took or gave back the cooldown lease at the same moment")


def run_deferred(
    cfg: ProjectConfig,
    settings: Settings,
    *,
    check_id: str,
    at: datetime,
    ports: TriggerPorts | None = None,
) -> tuple[policy.Trigger, policy.PolicyDecision] | None:
    """The deferred-retrain check (a schedule, hourly): once a deferred trigger's time has
    come, put it to the policy again, as itself, under this check's id, which names its run;
    the most relevant first (:data:`policy.DEFERRABLE`). None when nothing is due: no decision
    is logged.

    The policy decides again: yes starts the run (and consumes every deferral, as any run
    does); too soon still defers it anew; a deferral no longer worth a run (its switch turned
    off, a first model trained meanwhile that the new rows do not reach min_new_rows on) is
    forgotten. A retry of a check that took the lease goes on to start its run."""
    ports = ports or TriggerPorts.deployed(cfg, settings)
    state, pk = ports.state, f"policy#{cfg.model.name}"
    remembered = state.get(pk)
    if remembered.get("last_trigger_id") == check_id:
        retried: policy.Trigger = remembered["last_trigger"]
        return retried, handle_trigger(cfg, settings, trigger=retried, trigger_id=check_id, at=at, ports=ports)
    due = [
        (trigger, remembered[_deferral(trigger)])
        for trigger in policy.DEFERRABLE
        if _deferral(trigger) in remembered and datetime.fromisoformat(remembered[_deferral(trigger)]) <= at
    ]
    if not due:
        return None
    trigger, waiting = due[0]
    decision = handle_trigger(
        cfg,
        settings,
        trigger=trigger,
        trigger_id=check_id,
        at=at,
        deferred_to=datetime.fromisoformat(waiting),
        ports=ports,
    )
    if not decision.retrain and decision.deferred_to is None:
        state.compare_and_set(pk, expected={_deferral(trigger): waiting}, **{_deferral(trigger): None})
    return trigger, decision


def give_back(
    cfg: ProjectConfig,
    settings: Settings,
    *,
    trigger_id: str,
    requested_at: datetime,
    error: str,
    at: datetime,
    ports: TriggerPorts | None = None,
) -> str:
    """A training run failed (``TrainingFailed``): give back what starting it took, so that the
    next trigger may start a run instead of meeting a cooldown, a spent ``max_retrains`` slot
    and a zeroed new-rows counter for a model that was never trained. Returns what was given
    back, which the decision log records.

    The run's ``max_retrains`` slot always goes back. The cooldown lease and the new rows go
    back only while the failed run still holds the lease: a run started since has taken the
    lease, and it trains on those rows. One conditional update, so a redelivered event gives
    back nothing twice."""
    ports = ports or TriggerPorts.deployed(cfg, settings)
    state, pk = ports.state, f"policy#{cfg.model.name}"
    remembered = state.get(pk)
    recent = json.loads(remembered.get("recent_retrains", "[]"))
    slots = [t for t in recent if datetime.fromisoformat(t) != requested_at]
    if remembered.get("last_trigger_id") == trigger_id:
        rows = int(remembered.get("lease_rows", 0))
        given = state.compare_and_set(
            pk,
            expected={"last_trigger_id": trigger_id},
            add={"rows_since_training": rows} if rows else None,
            last_retrain_at=remembered.get("lease_previous_retrain_at"),
            last_trigger_id=None,
            last_trigger=None,
            last_reason=None,
            lease_previous_retrain_at=None,
            lease_rows=None,
            recent_retrains=json.dumps(slots),
        )
        outcome = (
            f"gave back the cooldown lease, its max_retrains slot and {rows} new rows: the next trigger may start a run"
            if given
            else "nothing: another trigger took the lease meanwhile"
        )
    elif len(slots) < len(recent) and state.compare_and_set(
        pk, expected={"recent_retrains": json.dumps(recent)}, recent_retrains=json.dumps(slots)
    ):
        outcome = "gave back its max_retrains slot (a later run holds the cooldown lease and trains on its rows)"
    else:
        outcome = "nothing left to give back (already given back, or a later run holds the lease)"
    ports.log(
        f"{at:%Y-%m-%dT%H%M%SZ}-{trigger_id}-failed",
        {
            "trigger": "training_failed",
            "trigger_id": trigger_id,
            "at": at.isoformat(),
            "retrain": False,
            "requested_at": requested_at.isoformat(),
            "reason": f"training run failed ({error}); {outcome}",
        },
    )
    return outcome


# The project events that are triggers, and the trigger each one is.
_TRIGGERS: dict[DetailType, policy.Trigger] = {
    DetailType.FEATURES_READY: "new_data",
    DetailType.DRIFT_DETECTED: "drift",
    DetailType.PERFORMANCE_DEGRADED: "performance",
}


# The schedules that invoke the retrain trigger (mlrails.wiring.SCHEDULES), and what each asks:
# the cadence is a trigger; the deferred-retrain check asks whether a deferred trigger is due.
_SCHEDULED: dict[str, policy.Trigger | Literal["deferred"]] = {
    "RetrainCadence": "schedule",
    "DeferredRetrain": "deferred",
}


@dataclass(frozen=True)
class Incoming:
    """What an invocation asks the policy: which trigger (``deferred``: the deferred-retrain
    check, :func:`run_deferred`), its id (what makes a retry the same trigger), and the new
    rows it brings."""

    trigger: policy.Trigger | Literal["deferred"]
    trigger_id: str
    new_rows: int = 0


def incoming(event: dict[str, Any]) -> Incoming:
    """A schedule's invocation or a project event, as the policy's question. A malformed event
    (unknown type or schedule, another schema version, a missing field) is a :class:`BadRequest`."""
    if "schedule" in event:
        name, slot = event["schedule"], event.get("scheduled_time")
        if not isinstance(name, str) or name not in _SCHEDULED:
            raise BadRequest(f"schedule {name!r} does not invoke the retrain trigger")
        try:
            datetime.fromisoformat(slot)
        except (TypeError, ValueError):
            raise BadRequest(f"schedule {name!r}: scheduled_time {slot!r} is not an ISO 8601 time") from None
        # The slot, not Scheduler's per-attempt execution id: a retried invocation is the same trigger.
        return Incoming(_SCHEDULED[name], f"{name}-{slot}")
    detail = parse_detail(event.get("detail-type", ""), event.get("detail") or {})
    if detail.detail_type not in _TRIGGERS:
        raise BadRequest(f"{detail.detail_type.value} is not a retrain trigger")
    rows = detail.rows if isinstance(detail, FeaturesReady) else 0
    return Incoming(_TRIGGERS[detail.detail_type], event["id"], rows)


def failed_run(event: dict[str, Any]) -> TrainingFailed | None:
    """The ``TrainingFailed`` detail when ``event`` is one, else None."""
    if event.get("detail-type") != DetailType.TRAINING_FAILED:
        return None
    detail = parse_detail(event["detail-type"], event.get("detail") or {})
    if not isinstance(detail, TrainingFailed):
        raise BadRequest(f"{event['detail-type']} did not parse as TrainingFailed")
    return detail
