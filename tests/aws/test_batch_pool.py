"""The local batch runner's process pool on moto's server mode: a worker that dies outright
fails the one shard it held, saying how it ended, a new worker scores the rest, and the job
writes its summary (as a crashed invocation fails its child of the Distributed Map only)."""

from __future__ import annotations

import functools

import pytest

from mlrails.adapters import s3
from mlrails.batch.job import BatchFailed, run_job
from mlrails.local.batch import pool
from mlrails.settings import Settings
from support.batch import dies_on

from .test_batch_scoring import OUT, _inputs, _with_batch


@pytest.fixture
def endpoint(cloud):
    """moto's server mode onto this test's in-process backends, for the spawned workers."""
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


def test_a_worker_that_dies_fails_its_shard_only_and_a_new_worker_scores_the_rest(cloud, cfg, champion, endpoint):
    _inputs(cloud, cfg)  # a.csv, b.jsonl, c.parquet (three row groups): five shards of one item
    # One worker, so the shards run in key order: a.csv scores, the worker is killed on
    # b.jsonl, and its replacement scores c.parquet's three row groups.
    runner = pool(endpoint, 1, functools.partial(dies_on, "b.jsonl"))
    strict = _with_batch(cfg, items_per_batch=1, tolerated_failure_percentage=0)
    with pytest.raises(BatchFailed, match="1 of 5 shards failed"):
        run_job(
            f"s3://{cloud.data_bucket}/batch/in/",
            f"s3://{cloud.data_bucket}/{OUT}",
            strict,
            Settings.from_env(),
            runner=runner,
        )
    summary = s3.get_json(s3.uri(cloud.data_bucket, OUT + "summary.json"))
    (died,) = [r for r in summary["shard_results"] if r["failed"]]
    assert died["error"].startswith("WorkerDied: the worker process scoring this shard was killed by SIGKILL")
    assert len(summary["shard_results"]) == 5
    assert summary["rows_scored"] == 19 + 25 and summary["failed"] is True
    # The drift report covers the four shards that finished.
    assert summary["drift"]["shards_counted"] == 4 and summary["drift"]["rows"] == 19 + 25


def test_workers_that_die_as_they_start_fail_their_shards_and_the_job_still_ends(cloud, cfg, champion, endpoint):
    from support import dies_at_start

    _inputs(cloud, cfg)  # five items: three shards of two
    runner = pool(endpoint, 2, dies_at_start.score)
    with pytest.raises(BatchFailed, match="3 of 3 shards failed"):
        run_job(
            f"s3://{cloud.data_bucket}/batch/in/",
            f"s3://{cloud.data_bucket}/{OUT}",
            _with_batch(cfg, items_per_batch=2, tolerated_failure_percentage=0),
            Settings.from_env(),
            runner=runner,
        )
    summary = s3.get_json(s3.uri(cloud.data_bucket, OUT + "summary.json"))
    errors = [r["error"] for r in summary["shard_results"]]
    assert len(errors) == 3 and all(
        e.startswith("WorkerDied: the worker process scoring this shard exited with code 3") for e in errors
    )
