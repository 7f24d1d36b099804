"""A batch job: plan the items, run the shards, write the summary, tell the bus.

The item list is written under the output prefix first (what the Distributed Map's ItemReader
reads on AWS); shards run through a :data:`Runner` — one after another in this process by
default, on a process pool locally (:mod:`mlrails.local.batch`) — each through
:func:`run_shard`, the entry point a shard function will share. The summary is written however
the job ends; the job fails with :class:`BatchFailed` when more shards failed than
``batch.tolerated_failure_percentage`` allows, and publishes ``BatchScored`` otherwise. The
shards' drift counts are merged into the job's drift report first (:mod:`mlrails.batch.drift`).
"""

from __future__ import annotations

import functools
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

from mlrails.adapters import bus, manifests, s3
from mlrails.batch import drift as batch_drift
from mlrails.batch import items as planning
from mlrails.batch.items import Plan, Shard
from mlrails.batch.rows import parquet_row_groups
from mlrails.batch.shard import ShardResult, score_shard
from mlrails.config import ProjectConfig
from mlrails.errors import ConfigError, MlrailsError, ModelNotReady
from mlrails.events import BatchScored
from mlrails.serving.champion import ChampionCache, cache_for
from mlrails.settings import Settings


class BatchFailed(MlrailsError):
    """More shards failed than ``batch.tolerated_failure_percentage`` allows (the summary,
    written all the same, names each failed shard and its error)."""

    error_code = "BATCH_FAILED"


@dataclass(frozen=True)
class ChampionSource:
    """Where a shard finds the champion: what a worker process needs to load it, and no more
    (a picklable value, unlike a loaded model)."""

    settings: Settings
    model_name: str
    package: str

    @classmethod
    def of(cls, settings: Settings, cfg: ProjectConfig) -> ChampionSource:
        """The champion a function deployed with ``settings`` and ``cfg`` serves."""
        return cls(settings, cfg.model.name, cfg.serving.package)


# A shard's scorer: the shards, the output prefix, where the champion is; a result per shard, in order.
Runner = Callable[[Sequence[Shard], str, ChampionSource], list[ShardResult]]


@functools.cache
def _champions(source: ChampionSource) -> ChampionCache:
    # One cache per process, as inference keeps one per container: the champion loads once and
    # is re-checked (one HEAD) at the settings' TTL, so a process that scores job after job
    # scores each with the current champion (a promotion mid-job shows in the summary's version).
    return cache_for(source.settings, source.model_name, source.package)


def run_shard(shard: Shard, output_prefix: str, source: ChampionSource) -> ShardResult:
    """Score one shard; a failure is its result (failed, with the error), never an exception:
    the job weighs failures against its tolerance."""
    try:
        return score_shard(shard, output_prefix, _champions(source).get())
    except Exception as exc:  # any failure of a shard is the job's to count, as the Map's tolerance does
        error = exc.message if isinstance(exc, MlrailsError) else str(exc)
        return ShardResult(shard.id, len(shard.items), failed=True, error=f"{type(exc).__name__}: {error}")


def in_process(shards: Sequence[Shard], output_prefix: str, source: ChampionSource) -> list[ShardResult]:
    """Run the shards one after another in this process."""
    return [run_shard(shard, output_prefix, source) for shard in shards]


def checked_uri(uri: str, *, prefix: bool) -> str:
    """An ``s3://bucket/key`` location, checked; as a prefix (``prefix``), ending in ``/``."""
    try:
        bucket, key = s3.split_uri(uri)
    except ValueError as exc:
        raise ConfigError(f"{uri!r} is not an s3:// location") from exc
    if not bucket:
        raise ConfigError(f"{uri!r} names no bucket")
    return s3.uri(bucket, key + "/" if prefix and key and not key.endswith("/") else key)


def plan(input_uri: str) -> Plan:
    """The items of every object under ``input_uri`` (a prefix, or one object): Parquet
    objects by row group, from their footers alone (ranged reads)."""
    bucket, prefix = s3.split_uri(input_uri)
    return planning.plan_items(
        s3.list_objects(bucket, prefix),
        lambda uri: parquet_row_groups(s3.RangeReader(uri)),
        uri=functools.partial(s3.uri, bucket),
    )


@dataclass(frozen=True)
class Summary:
    """What a job did, as written to ``summary.json`` under its output prefix."""

    input_uri: str
    output_uri: str
    model_name: str
    model_version: str  # the champion's version (several, comma-separated, if it changed mid-job)
    started_at: str
    duration_seconds: float
    items: int
    skipped: list[dict[str, str]]
    shards: int
    shards_failed: int
    tolerated_failure_percentage: float
    failed: bool
    rows_in: int
    rows_scored: int
    rows_rejected: int
    rejected: dict[str, int]  # rows refused, by reason
    shard_results: list[dict[str, Any]]
    drift: dict[str, Any]  # the drift report's verdict and where it is (mlrails.batch.drift.BatchDrift)

    def to_dict(self) -> dict[str, Any]:
        """The summary as JSON holds it."""
        return asdict(self)


def _too_many_failed(failed: int, total: int, tolerated_percentage: float) -> bool:
    return failed * 100 > tolerated_percentage * total


def run_job(
    input_uri: str,
    output_uri: str,
    cfg: ProjectConfig,
    settings: Settings,
    *,
    runner: Runner = in_process,
    clock: Callable[[], float] = time.monotonic,
    now: datetime | None = None,
) -> Summary:
    """Score every row under ``input_uri`` into ``output_uri`` with the champion; the summary.
    Raises :class:`ModelNotReady` before any work when nothing is promoted, and
    :class:`BatchFailed` (after writing the summary) when too many shards failed."""
    started, began = now or datetime.now(UTC), clock()
    input_uri, output_uri = checked_uri(input_uri, prefix=False), checked_uri(output_uri, prefix=True)
    if output_uri.startswith(input_uri):
        raise ConfigError(
            f"the output {output_uri} lies under the input {input_uri}: a rerun would score its own output"
        )
    champion = manifests.read_current(settings.artifacts_bucket, cfg.model.name)
    if champion is None:
        raise ModelNotReady(f"no {cfg.model.name} champion to score with: train and promote one first")
    found = plan(input_uri)
    s3.put_bytes(output_uri + planning.ITEMS_FILE, found.item_list(), "application/json")
    shards = planning.shards(found.items, cfg.batch.items_per_batch)
    results = runner(shards, output_uri, ChampionSource.of(settings, cfg)) if shards else []
    rejected: Counter[str] = Counter()
    for result in results:
        rejected.update(result.rejected)
    failed = sum(r.failed for r in results)
    versions = sorted({r.model_version for r in results if r.model_version}) or [champion.version]
    drift = batch_drift.report_drift(results, output_uri, champion, cfg.monitoring, input_uri=input_uri)
    summary = Summary(
        input_uri=input_uri,
        output_uri=output_uri,
        model_name=cfg.model.name,
        model_version=", ".join(versions),
        started_at=started.isoformat(),
        duration_seconds=round(clock() - began, 3),
        items=len(found.items),
        skipped=[asdict(s) for s in found.skipped],
        shards=len(shards),
        shards_failed=failed,
        tolerated_failure_percentage=cfg.batch.tolerated_failure_percentage,
        failed=_too_many_failed(failed, len(shards), cfg.batch.tolerated_failure_percentage),
        rows_in=sum(r.rows_in for r in results),
        rows_scored=sum(r.rows_scored for r in results),
        rows_rejected=sum(rejected.values()),
        rejected=dict(sorted(rejected.items())),
        shard_results=[r.to_dict() for r in results],
        drift=drift.to_dict(),
    )
    summary_uri = output_uri + planning.SUMMARY_FILE
    s3.put_json(summary_uri, summary.to_dict())
    if summary.failed:
        raise BatchFailed(
            f"{failed} of {len(shards)} shards failed, more than the tolerated "
            f"{cfg.batch.tolerated_failure_percentage:g}%: see {summary_uri}",
            details={"summary_uri": summary_uri, "shards_failed": failed, "shards": len(shards)},
        )
    detail = BatchScored(
        model=cfg.model.name,
        environment=settings.environment,
        input_uri=input_uri,
        output_uri=output_uri,
        summary_uri=summary_uri,
        model_version=summary.model_version,
        rows_in=summary.rows_in,
        rows_scored=summary.rows_scored,
        rows_rejected=summary.rows_rejected,
        shards=summary.shards,
        shards_failed=failed,
        drift_status=drift.status,
        drifted_features=drift.drifted_features,
        prediction_drifted=drift.prediction_drifted,
        drift_report_uri=drift.report_uri,
    )
    bus.publish(detail, settings, time=now)
    return summary
