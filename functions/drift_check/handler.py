"""drift_check: on its schedule, the capture window vs the champion's reference profile.

A scheduled event (``{"schedule", "scheduled_time", ...}``) checks the window in one pass, or,
when its capture objects exceed ``monitoring.single_pass_max_mb``, hands it to the drift
fan-out state machine (infra/constructs/drift_fanout.py) and answers ``fanned_out``. That state
machine calls this function back, one phase per step, named by the event's ``phase``:

- ``{"phase": "count", "prefix", "items"}`` (one ItemBatcher batch) counts those capture
  objects and leaves the shard's partial under the window's ``partials/``;
- ``{"phase": "judge", "prefix"}`` merges the partials into the window's report, as the single
  pass does, or raises ``ShardsMissing`` when they do not cover the window.
"""

from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from mlrails.adapters import deployed
from mlrails.adapters.idempotency import once
from mlrails.drift.check import DriftOutcome, html_uri
from mlrails.drift.fanout import Fanout, check_window, count_shard, judge_fanout
from mlrails.errors import BadRequest
from mlrails.metric_names import MODEL_DIMENSION, MetricName, per_item

logger = Logger()
tracer = Tracer()
metrics = Metrics()


def _field(event: dict[str, Any], name: str, kind: type) -> Any:
    return deployed.event_field(event, name, kind, step="drift fan-out step")


def _answer(outcome: DriftOutcome, model: str) -> dict[str, Any]:
    if outcome.report is not None and outcome.report.status != "insufficient_data":
        metrics.add_dimension(name=MODEL_DIMENSION, value=model)
        metrics.add_metric(
            name=MetricName.DRIFTED_FEATURE_SHARE, unit=MetricUnit.Percent, value=100 * outcome.report.drifted_share
        )
        metrics.add_metric(name=MetricName.DRIFT_WINDOW_ROWS, unit=MetricUnit.Count, value=outcome.report.rows)
        for name, result in outcome.report.features.items():
            metrics.add_metric(name=per_item(MetricName.PSI, name), unit=MetricUnit.NoUnit, value=result.psi)
            if result.score is not None:  # the feature's deciding measure (Wasserstein, Jensen-Shannon, ...)
                metrics.add_metric(
                    name=per_item(MetricName.DRIFT_SCORE, name), unit=MetricUnit.NoUnit, value=result.score
                )
        if outcome.emitted:  # the alarm counts these: one per DriftDetected event
            metrics.add_metric(name=MetricName.DRIFT_DETECTED, unit=MetricUnit.Count, value=1)
    logger.info(
        "drift check",
        extra={
            "status": outcome.status,
            "report": outcome.report_uri,
            "page": outcome.report_uri and html_uri(outcome.report_uri),
            "consecutive": outcome.consecutive_windows,
            "emitted": outcome.emitted,
        },
    )
    return {
        "status": outcome.status,
        "report_uri": outcome.report_uri,
        "consecutive_windows": outcome.consecutive_windows,
        "drift_detected": outcome.emitted,
    }


def scheduled(event: dict[str, Any]) -> dict[str, Any]:
    settings = deployed.settings(needs_drift_state_machine=True)
    cfg = deployed.project_config(settings.config_uri)
    checked = check_window(cfg, settings, at=deployed.event_time(event))
    if isinstance(checked, Fanout):
        logger.info("drift check fanned out", extra={"execution": checked.execution, "shards": checked.shards})
        return {
            "status": "fanned_out",
            "execution": checked.execution,
            "prefix": checked.prefix,
            "shards": checked.shards,
        }
    return _answer(checked, cfg.model.name)


def count(event: dict[str, Any]) -> dict[str, Any]:
    uri = count_shard(deployed.settings(), _field(event, "prefix", str), _field(event, "items", list))
    logger.info("drift shard counted", extra={"partial": uri})
    return {}  # the partial is in S3: the Map keeps no outputs


def judge(event: dict[str, Any]) -> dict[str, Any]:
    settings = deployed.settings()
    cfg = deployed.project_config(settings.config_uri)
    return _answer(judge_fanout(cfg, settings, _field(event, "prefix", str)), cfg.model.name)


PHASES = {"count": count, "judge": judge}


# clear_state: a warm container must not label the next invocation with this one's keys.
@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    table = deployed.settings().state_table
    if "phase" not in event:
        # One check per scheduled slot, however often the scheduler retries it.
        return once(table, "[schedule, scheduled_time]", scheduled, event, lambda_context=context)
    phase = PHASES.get(event["phase"])
    if phase is None:
        raise BadRequest(f"the drift fan-out step's 'phase' is one of {sorted(PHASES)}; got {event['phase']!r}")
    logger.append_keys(phase=event["phase"], prefix=event.get("prefix"))
    if phase is judge:
        # One verdict per window: a retried judge must not count the window twice in a row.
        return once(table, "[phase, prefix]", judge, event, lambda_context=context)
    return phase(event)
