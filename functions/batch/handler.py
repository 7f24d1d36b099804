"""batch: the batch state machine's steps (infra/constructs/batch_scoring.py), one phase per
invocation, named by the event's ``phase``:

- ``{"phase": "plan", "input_uri", "output_uri"}`` checks the locations and the champion and
  writes the item list the Distributed Map reads; answers where it is and how many shards;
- ``{"phase": "shard", "items", "output_uri"}`` (one ItemBatcher batch) scores the items and
  leaves the shard's result under results/; a failed shard raises ``ShardFailed`` after that,
  so that the Map counts it against its tolerance as the summary does;
- ``{"phase": "summarize", "output_uri", "execution", "map_error"?}`` writes the summary, raises
  ``BatchFailed`` when too many shards failed, else publishes ``BatchScored``: once per
  ``execution`` (its ARN), so that a retried step answers from its record and publishes nothing.

The step's typed error (``ConfigError``, ``ModelNotReady``, ``BadRequest``...) is the
execution's error as Lambda reports it: the state machine retries none of them.
"""

from typing import Any

from aws_lambda_powertools import Logger, Tracer
from aws_lambda_powertools.utilities.typing import LambdaContext

from mlrails.adapters import deployed
from mlrails.adapters.idempotency import once
from mlrails.batch import job
from mlrails.batch.items import Shard
from mlrails.errors import BadRequest

logger = Logger()
tracer = Tracer()


def _field(event: dict[str, Any], name: str, kind: type) -> Any:
    return deployed.event_field(event, name, kind, step="batch step")


def plan(event: dict[str, Any]) -> dict[str, Any]:
    settings = deployed.settings()
    cfg = deployed.project_config(settings.config_uri)
    planned = job.plan_job(
        _field(event, "input_uri", str),
        _field(event, "output_uri", str),
        cfg,
        settings,
        now=deployed.event_time(event),
    )
    return planned.to_dict()


def shard(event: dict[str, Any]) -> dict[str, Any]:
    settings = deployed.settings()
    cfg = deployed.project_config(settings.config_uri)
    try:
        batch = Shard.of(_field(event, "items", list))
    except TypeError as exc:
        raise BadRequest(f"the shard's items are not the item list's: {exc}") from exc
    result = job.run_shard(batch, _field(event, "output_uri", str), job.ChampionSource.of(settings, cfg))
    if result.failed:
        raise job.ShardFailed(f"shard {result.shard_id}: {result.error}")
    return {"shard_id": result.shard_id, "rows_scored": result.rows_scored, "rows_rejected": result.rows_rejected}


def summarize(event: dict[str, Any]) -> dict[str, Any]:
    settings = deployed.settings()
    cfg = deployed.project_config(settings.config_uri)
    failure = event.get("map_error")
    # The Map's catch hands over Step Functions' error and cause.
    map_error = f"{failure.get('Error')}: {failure.get('Cause')}" if isinstance(failure, dict) else None
    summary = job.summarize(
        _field(event, "output_uri", str), cfg, settings, now=deployed.event_time(event), map_error=map_error
    )
    return {"summary_uri": summary.summary_uri, "rows_scored": summary.rows_scored}


PHASES = {"plan": plan, "shard": shard, "summarize": summarize}


# clear_state: a warm container must not label the next invocation with this one's keys.
@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    phase = PHASES.get(event.get("phase"))
    if phase is None:
        raise BadRequest(f"the batch step's event needs 'phase', one of {sorted(PHASES)}; got {event.get('phase')!r}")
    logger.append_keys(phase=event["phase"], output_uri=event.get("output_uri"))
    if phase is summarize:
        _field(event, "execution", str)  # the idempotency key, named when missing
        result = once(deployed.settings().state_table, "[phase, execution]", summarize, event, lambda_context=context)
    else:
        result = phase(event)
    logger.info("batch step done", extra={"result": result})
    return result
