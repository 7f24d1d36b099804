"""A drift check whose window is too big for one pass: counted in shards, then judged.

:func:`check_window` is the scheduled check: it counts a window in one function
(:func:`mlrails.drift.check.check_plan`) unless the window's capture objects total more than
``monitoring.single_pass_max_mb``; then :func:`fan_out` writes, under the window's own prefix
(``reports/drift/<model>/<window end>/`` in the artifacts bucket):

- ``plan.json`` — the :class:`~mlrails.drift.check.WindowPlan` (champion, window, objects);
- ``items.json`` — one item per capture object, ``{"index", "key", "size"}``: what the Distributed
  Map's ItemReader reads; its ItemBatcher hands ``per_shard`` consecutive items to each shard,
  so that no shard holds more than the budget;

and starts the drift fan-out state machine, its execution named after the window's end, so a
retried schedule event starts no second run (and the window's first plan stays). Each shard
(:func:`count_shard`) leaves its partial under ``partials/``, keyed by its first item: a
retried (or redriven) shard overwrites its own. The judge (:func:`judge_fanout`) merges them
with :func:`mlrails.drift.check.judge_window` — the very step of the single pass, so the report
is the one a single pass gives — but only when the partials cover every object of the plan
exactly once; otherwise it raises :class:`ShardsMissing` and leaves no report and the
consecutive-window count untouched: a verdict from part of a window could call drift (or its
absence) on rows it never saw.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from mlrails.adapters import executions, s3
from mlrails.config import ProjectConfig
from mlrails.drift.check import DriftOutcome, WindowPlan, check_plan, count_captures, judge_window, plan_window
from mlrails.errors import BadRequest, ConfigError, MlrailsError
from mlrails.settings import Settings
from mlrails.wiring import drift_reports_prefix

PLAN_FILE = "plan.json"
ITEMS_FILE = "items.json"
PARTIALS = "partials/"
_MB = 2**20
# A child's input holds its batch of items, and Step Functions caps it at 256 KiB: an item
# (index, capture key, size) is ~150 bytes, so 1,000 leave room whatever the objects weigh.
MAX_OBJECTS_PER_SHARD = 1000


class ShardsMissing(MlrailsError):
    """The partials of a fanned-out window do not cover its objects exactly once (a shard
    died, or left a partial twice): the judge refuses to give a verdict on them."""

    error_code = "DRIFT_SHARDS_MISSING"


def window_prefix(cfg: ProjectConfig, end: datetime) -> str:
    """The key prefix of the fan-out of the window ending at ``end`` (beside its report)."""
    return f"{drift_reports_prefix(cfg.model.name)}{end:%Y-%m-%dT%H%M%SZ}/"


def fits_one_pass(plan: WindowPlan, max_mb: float) -> bool:
    """Whether one function counts the plan's objects within the budget."""
    return sum(plan.sizes) <= max_mb * _MB


def objects_per_shard(sizes: Sequence[int], max_mb: float) -> int:
    """How many consecutive objects a shard counts: as many of the largest as fit the budget
    (at least one), so that no shard exceeds it whichever objects it gets, and no more than
    :data:`MAX_OBJECTS_PER_SHARD`."""
    return max(1, min(MAX_OBJECTS_PER_SHARD, int(max_mb * _MB // max(max(sizes, default=1), 1))))


@dataclass(frozen=True)
class Fanout:
    """A window handed to the fan-out: where its files are, and how it is cut."""

    execution: str
    bucket: str
    prefix: str
    objects: int
    per_shard: int

    @property
    def shards(self) -> int:
        """How many shards the ItemBatcher makes of the item list."""
        return -(-self.objects // self.per_shard)

    def execution_input(self) -> dict[str, Any]:
        """What the state machine starts with: where the item list is, and the batch size."""
        return {
            "bucket": self.bucket,
            "prefix": self.prefix,
            "items_key": self.prefix + ITEMS_FILE,
            "per_shard": self.per_shard,
        }


def fan_out(cfg: ProjectConfig, settings: Settings, plan: WindowPlan) -> Fanout:
    """Write the plan and the item list of ``plan``'s window under its prefix and start the
    fan-out state machine's execution for the window (at most one per window). The window's
    first plan stays: a retry (whose listing may have found a late capture object) hands on
    the same objects, the same item list and the same input, to the execution already running."""
    if settings.drift_state_machine is None:
        raise ConfigError("environment variable MLRAILS_DRIFT_STATE_MACHINE must be set to fan a window out")
    bucket, prefix = settings.artifacts_bucket, window_prefix(cfg, plan.end)
    plan_uri = s3.uri(bucket, prefix + PLAN_FILE)
    if not s3.put_once(plan_uri, s3.json_bytes(plan.to_dict())):
        plan = WindowPlan.from_dict(s3.get_json(plan_uri))
    objects = enumerate(zip(plan.keys, plan.sizes, strict=True))
    items = [{"index": i, "key": key, "size": size} for i, (key, size) in objects]
    s3.put_json(s3.uri(bucket, prefix + ITEMS_FILE), items)
    name = f"{cfg.model.name[:50]}-{plan.end:%Y%m%dT%H%M%SZ}"
    fanout = Fanout(name, bucket, prefix, len(items), objects_per_shard(plan.sizes, cfg.monitoring.single_pass_max_mb))
    executions.start(settings.drift_state_machine, name, fanout.execution_input(), what="drift fan-out")
    return fanout


def check_window(cfg: ProjectConfig, settings: Settings, *, at: datetime) -> DriftOutcome | Fanout:
    """The scheduled check of the window ending at ``at``: its outcome, counted in one pass, or
    the fan-out it was handed to (too big for one)."""
    plan = plan_window(cfg, settings, at=at)
    if plan is None or fits_one_pass(plan, cfg.monitoring.single_pass_max_mb):
        return check_plan(cfg, settings, plan)
    return fan_out(cfg, settings, plan)


def _plan(settings: Settings, prefix: str) -> WindowPlan:
    return WindowPlan.from_dict(s3.get_json(s3.uri(settings.artifacts_bucket, prefix + PLAN_FILE)))


def count_shard(settings: Settings, prefix: str, items: Sequence[Mapping[str, Any]]) -> str:
    """Count one shard's ``items`` (an ItemBatcher batch of the item list) and leave its partial
    under ``partials/``, with the indices it covers; the partial's URI."""
    if not items:
        raise ShardsMissing("a shard of the drift fan-out was handed no items")
    plan = _plan(settings, prefix)
    try:
        indices = [int(item["index"]) for item in items]
    except (KeyError, TypeError, ValueError) as exc:
        raise BadRequest(f"the shard's items are not the item list's ({{index, key, size}} each): {exc!r}") from exc
    if not all(0 <= i < len(plan.keys) for i in indices):
        raise BadRequest(f"the shard's item indices {indices} are not all among the plan's {len(plan.keys)} objects")
    partial = count_captures(plan, settings, [plan.keys[i] for i in indices])
    uri = s3.uri(settings.artifacts_bucket, f"{prefix}{PARTIALS}{indices[0]:08d}.json")
    s3.put_json(uri, {"indices": indices, "partial": partial})
    return uri


def judge_fanout(cfg: ProjectConfig, settings: Settings, prefix: str) -> DriftOutcome:
    """Merge the shards' partials into the window's report (:func:`judge_window`), once they
    cover every object of the plan exactly once; raise :class:`ShardsMissing` otherwise."""
    plan, bucket = _plan(settings, prefix), settings.artifacts_bucket
    documents = [s3.get_json(s3.uri(bucket, key)) for key in s3.list_keys(bucket, prefix + PARTIALS)]
    counted = sorted(i for document in documents for i in document["indices"])
    if counted != list(range(len(plan.keys))):
        missing = len(set(range(len(plan.keys))) - set(counted))
        raise ShardsMissing(
            f"the partials under s3://{bucket}/{prefix}{PARTIALS} cover {len(set(counted))} of the window's "
            f"{len(plan.keys)} capture objects ({missing} missing, {len(counted) - len(set(counted))} twice): "
            "no verdict on part of a window",
            details={"objects": len(plan.keys), "missing": missing},
        )
    return judge_window(cfg, settings, plan, [document["partial"] for document in documents])
