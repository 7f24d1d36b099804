"""The retrain trigger: apply the policy to a trigger, record why, request a run."""

from __future__ import annotations

from datetime import datetime

from mlrails import policy
from mlrails.adapters import manifests, s3, training_runs
from mlrails.adapters.bus import publish
from mlrails.adapters.state import StateTable
from mlrails.config import ProjectConfig
from mlrails.events import RetrainRequested
from mlrails.settings import Settings
from mlrails.wiring import Prefix


def handle_trigger(cfg: ProjectConfig, settings: Settings, *, trigger: policy.Trigger, trigger_id: str,
                   at: datetime, new_rows: int = 0) -> policy.PolicyDecision:
    """Decide, write the decision to the audit log, and on yes start the training run
    (named after the trigger) and publish ``RetrainRequested``."""
    state, pk = StateTable(settings.state_table), f"policy#{cfg.model.name}"
    remembered = state.get(pk)
    rows = state.add(pk, "rows_since_training", new_rows) if new_rows else int(remembered.get("rows_since_training", 0))
    last = remembered.get("last_retrain_at")
    current = policy.PolicyState(
        has_champion=manifests.read_current(settings.artifacts_bucket, cfg.model.name) is not None, rows_since_training=rows,
        last_retrain_at=datetime.fromisoformat(last) if last else None,
    )
    decision = policy.decide(trigger, current, cfg, at)
    s3.put_json(
        s3.uri(settings.artifacts_bucket,
               f"{Prefix.REPORTS.value}retrain/{cfg.model.name}/{at:%Y-%m-%dT%H%M%SZ}-{trigger_id}.json"),
        {"trigger": trigger, "trigger_id": trigger_id, "at": at.isoformat(), "retrain": decision.retrain,
         "reason": decision.reason, "rows_since_training": rows, "has_champion": current.has_champion},
    )
    if decision.retrain:
        state.put(pk, last_retrain_at=at, rows_since_training=0)
        request = RetrainRequested(cfg.model.name, settings.environment, decision.reason, trigger_id,
                                   s3.uri(settings.data_bucket, Prefix.FEATURES.value))
        training_runs.start(settings.training_state_machine, trigger_id,
                            {"request": request.to_detail(), "time": at.isoformat()})
        publish(request, settings.bus_name, time=at)
    return decision
