"""A batch job in three phases, the same on AWS and locally: plan, shards, summary.

*Plan* checks the locations and the champion, writes the item list under the output prefix (what
the Distributed Map's ItemReader reads on AWS) and ``plan.json`` (what the summary needs of
it); *shards* run through :func:`run_shard` — the batch function's shard phase on AWS, a
:data:`Runner` locally (one after another in this process by default, a process pool in
:mod:`mlrails.local.batch`) — each leaving its result under ``results/``; *summarize* lists those
results, writes the summary however the job ends, fails with :class:`BatchFailed` when more
failed than ``batch.tolerated_failure_percentage`` allows, and publishes ``BatchScored``
otherwise; the shards' drift counts are merged into the job's drift report first
(:mod:`mlrails.batch.drift`). :func:`run_job` is the three in a row.
"""

from __future__ import annotations

import functools
import json
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
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
from mlrails.serving.manifest import Manifest
from mlrails.settings import Settings
from mlrails.wiring import Prefix


class BatchFailed(MlrailsError):
    """More shards failed than ``batch.tolerated_failure_percentage`` allows (the summary,
    written all the same, names each failed shard and its error)."""

    error_code = "BATCH_FAILED"


class ShardFailed(MlrailsError):
    """A shard failed (its result, under results/, says why): raised by the batch function so
    that the Distributed Map counts the failure against its tolerance."""

    error_code = "SHARD_FAILED"


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


# Runs :func:`run_shard` over the shards (the output prefix, where the champion is); the results
# are what each shard leaves under results/, which the summary reads.
Runner = Callable[[Sequence[Shard], str, ChampionSource], None]


@functools.cache
def _champions(source: ChampionSource) -> ChampionCache:
    # One cache per process, as inference keeps one per container: the champion loads once and
    # is re-checked (one HEAD) at the settings' TTL, so a process that scores job after job
    # scores each with the current champion (a promotion mid-job shows in the summary's version).
    return cache_for(source.settings, source.model_name, source.package)


def run_shard(shard: Shard, output_prefix: str, source: ChampionSource) -> ShardResult:
    """Score one shard and leave its result under ``results/``; a failure is its result (failed,
    with the error), never an exception: the job weighs failures against its tolerance (on
    AWS the shard function then raises, so that the Map counts it too)."""
    try:
        result = score_shard(shard, output_prefix, _champions(source).get())
    except Exception as exc:  # any failure of a shard is the job's to count, as the Map's tolerance does
        error = exc.message if isinstance(exc, MlrailsError) else str(exc)
        result = ShardResult(shard.id, len(shard.items), failed=True, error=f"{type(exc).__name__}: {error}")
    record_result(shard, output_prefix, result)
    return result


def record_result(shard: Shard, output_prefix: str, result: ShardResult) -> None:
    """Leave ``shard``'s result under the output's ``results/``, where the summary reads it."""
    s3.put_json(shard.result_key(output_prefix), result.to_dict())


def in_process(shards: Sequence[Shard], output_prefix: str, source: ChampionSource) -> None:
    """Run the shards one after another in this process."""
    for shard in shards:
        run_shard(shard, output_prefix, source)


def checked_uri(uri: str, *, prefix: bool) -> str:
    """An ``s3://bucket/key`` location, checked; as a prefix (``prefix``), ending in ``/``."""
    try:
        bucket, key = s3.split_uri(uri)
    except ValueError as exc:
        raise ConfigError(f"{uri!r} is not an s3:// location") from exc
    if not bucket:
        raise ConfigError(f"{uri!r} names no bucket")
    return s3.uri(bucket, key + "/" if prefix and key and not key.endswith("/") else key)


def checked_locations(input_uri: str, output_uri: str, settings: Settings) -> tuple[str, str]:
    """The job's input and output, checked: both under the data bucket's batch/ prefix, the only
    place the batch function may read and write (its role says so on AWS, and the local copy keeps
    the same rule, so a job refused there is refused here), the output not under the input."""
    input_uri, output_uri = checked_uri(input_uri, prefix=False), checked_uri(output_uri, prefix=True)
    allowed = s3.uri(settings.data_bucket, Prefix.BATCH.value)
    for name, location in (("input", input_uri), ("output", output_uri)):
        if not location.startswith(allowed) or location == allowed:
            raise ConfigError(
                f"the {name} {location} is not under {allowed}: batch jobs read and write only below the "
                f"data bucket's {Prefix.BATCH.value} prefix (e.g. {allowed}<job>/input/ and {allowed}<job>/output/)"
            )
    if output_uri.startswith(input_uri):
        raise ConfigError(
            f"the output {output_uri} lies under the input {input_uri}: a rerun would score its own output"
        )
    return input_uri, output_uri


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
class JobPlan:
    """What the plan phase hands on: to the Map (where the item list is) and to the runner (the
    shards). Small on purpose: a state machine's state holds at most 256 KiB."""

    output_uri: str
    bucket: str
    items_key: str
    items: int
    shards: list[Shard] = field(repr=False)

    def to_dict(self) -> dict[str, Any]:
        """The plan as the state machine's state holds it (the shards are the Map's to make)."""
        return {
            "output_uri": self.output_uri,
            "bucket": self.bucket,
            "items_key": self.items_key,
            "items": self.items,
            "shards": len(self.shards),
        }


def plan_job(input_uri: str, output_uri: str, cfg: ProjectConfig, settings: Settings, *, now: datetime) -> JobPlan:
    """Plan a job started at ``now``: check its locations and champion (raises
    :class:`ConfigError` or :class:`ModelNotReady` before any work), forget an earlier run's
    results under the output, and write the item list and ``plan.json``."""
    input_uri, output_uri = checked_locations(input_uri, output_uri, settings)
    champion = manifests.read_current(settings.artifacts_bucket, cfg.model.name)
    if champion is None:
        raise ModelNotReady(f"no {cfg.model.name} champion to score with: train and promote one first")
    found = plan(input_uri)
    bucket, key = s3.split_uri(output_uri)
    # The summary counts every result under results/ as this job's: none of an earlier run's stays.
    for stale in list(s3.list_keys(bucket, key + planning.RESULTS)):
        s3.delete(s3.uri(bucket, stale))
    s3.put_bytes(output_uri + planning.ITEMS_FILE, found.item_list(), "application/json")
    shards = planning.shards(found.items, cfg.batch.items_per_batch)
    planned = {
        "input_uri": input_uri,
        "started_at": now.isoformat(),
        # The champion whose reference profile the drift report judges by (the summary's).
        "champion": json.loads(champion.to_json()),
        "items": len(found.items),
        "shards": len(shards),
        "skipped": [asdict(s) for s in found.skipped],
    }
    s3.put_json(output_uri + planning.PLAN_FILE, planned)
    return JobPlan(output_uri, bucket, key + planning.ITEMS_FILE, len(found.items), shards)


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
    # Of the failed shards, those that left no result (their invocation timed out or crashed).
    shards_without_result: int
    tolerated_failure_percentage: float
    failed: bool
    rows_in: int
    rows_scored: int
    rows_rejected: int
    rejected: dict[str, int]  # rows refused, by reason
    shard_results: list[dict[str, Any]]
    drift: dict[str, Any]  # the drift report's verdict and where it is (mlrails.batch.drift.BatchDrift)
    error: str | None = None  # why the job's map itself failed, when it did (AWS)

    def to_dict(self) -> dict[str, Any]:
        """The summary as JSON holds it."""
        return asdict(self)

    @property
    def summary_uri(self) -> str:
        """Where the summary is written."""
        return self.output_uri + planning.SUMMARY_FILE


def _too_many_failed(failed_items: int, items: int, tolerated_percentage: float) -> bool:
    # As the Distributed Map judges its ToleratedFailurePercentage: by items, every item of a
    # failed batch counted failed. With shards of equal size, the share of shards.
    return failed_items * 100 > tolerated_percentage * items


def _results(output_uri: str) -> list[ShardResult]:
    bucket, key = s3.split_uri(output_uri + planning.RESULTS)
    return [ShardResult(**s3.get_json(s3.uri(bucket, k))) for k in s3.list_keys(bucket, key)]


def summarize(
    output_uri: str, cfg: ProjectConfig, settings: Settings, *, now: datetime, map_error: str | None = None
) -> Summary:
    """Summarize the job planned under ``output_uri`` from its shards' results, at ``now``: write
    ``summary.json``, then raise :class:`BatchFailed` when too many shards failed (or the map
    itself did: ``map_error``), else publish ``BatchScored``."""
    output_uri = checked_uri(output_uri, prefix=True)
    planned = s3.get_json(output_uri + planning.PLAN_FILE)
    results = _results(output_uri)
    rejected: Counter[str] = Counter()
    for result in results:
        rejected.update(result.rejected)
    without_result = max(planned["shards"] - len(results), 0)
    failed = sum(r.failed for r in results) + without_result
    scored_items = sum(r.items for r in results if not r.failed)
    champion = Manifest.from_json(json.dumps(planned["champion"]))
    versions = sorted({r.model_version for r in results if r.model_version}) or [champion.version]
    drift = batch_drift.report_drift(results, output_uri, champion, cfg.monitoring, input_uri=planned["input_uri"])
    started = datetime.fromisoformat(planned["started_at"])
    summary = Summary(
        input_uri=planned["input_uri"],
        output_uri=output_uri,
        model_name=cfg.model.name,
        model_version=", ".join(versions),
        started_at=planned["started_at"],
        duration_seconds=round((now - started).total_seconds(), 3),
        items=planned["items"],
        skipped=planned["skipped"],
        shards=planned["shards"],
        shards_failed=failed,
        shards_without_result=without_result,
        tolerated_failure_percentage=cfg.batch.tolerated_failure_percentage,
        failed=map_error is not None
        or _too_many_failed(planned["items"] - scored_items, planned["items"], cfg.batch.tolerated_failure_percentage),
        rows_in=sum(r.rows_in for r in results),
        rows_scored=sum(r.rows_scored for r in results),
        rows_rejected=sum(rejected.values()),
        rejected=dict(sorted(rejected.items())),
        shard_results=[r.to_dict() for r in sorted(results, key=lambda r: r.shard_id)],
        drift=drift.to_dict(),
        error=map_error,
    )
    summary_uri = summary.summary_uri
    s3.put_json(summary_uri, summary.to_dict())
    if summary.failed:
        tolerated = cfg.batch.tolerated_failure_percentage
        reason = f"the map failed: {map_error}" if map_error else f"more than the tolerated {tolerated:g}% of the items"
        raise BatchFailed(
            f"{failed} of {summary.shards} shards failed, {reason}: see {summary_uri}",
            details={"summary_uri": summary_uri, "shards_failed": failed, "shards": summary.shards},
        )
    detail = BatchScored(
        model=cfg.model.name,
        environment=settings.environment,
        input_uri=summary.input_uri,
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
    """Score every row under ``input_uri`` into ``output_uri`` with the champion: the plan, the
    shards on ``runner``, the summary (``now``: when the job starts; its duration by ``clock``)."""
    started, began = now or datetime.now(UTC), clock()
    planned = plan_job(input_uri, output_uri, cfg, settings, now=started)
    if planned.shards:
        runner(planned.shards, planned.output_uri, ChampionSource.of(settings, cfg))
    finished = started + timedelta(seconds=clock() - began)
    return summarize(planned.output_uri, cfg, settings, now=finished)
