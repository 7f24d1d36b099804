"""The local batch runner's process pool on moto's server mode: a worker that dies outright
fails the shards it leaves unfinished, and the job still writes its summary."""

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


def test_a_worker_that_dies_fails_the_unfinished_shards_and_the_summary_is_written(cloud, cfg, champion, endpoint):
    _inputs(cloud, cfg)  # a.csv, b.jsonl, c.parquet (three row groups): five shards of one item
    # One worker, so the shards run in key order: a.csv scores, the worker dies on b.jsonl,
    # and the pool fails every shard not finished by then.
    runner = pool(endpoint, 1, functools.partial(dies_on, "b.jsonl"))
    strict = _with_batch(cfg, items_per_batch=1, tolerated_failure_percentage=0)
    with pytest.raises(BatchFailed, match="4 of 5 shards failed"):
        run_job(
            f"s3://{cloud.data_bucket}/batch/in/",
            f"s3://{cloud.data_bucket}/{OUT}",
            strict,
            Settings.from_env(),
            runner=runner,
        )
    summary = s3.get_json(s3.uri(cloud.data_bucket, OUT + "summary.json"))
    (scored,) = [r for r in summary["shard_results"] if not r["failed"]]  # a.csv's
    died = [r for r in summary["shard_results"] if r["failed"]]
    assert scored["rows_scored"] == 19 and len(died) == 4
    assert all(r["error"].startswith("WorkerDied: a worker process") for r in died)
    assert summary["rows_scored"] == 19 and summary["failed"] is True
    # The drift report covers the one shard that finished.
    assert summary["drift"]["shards_counted"] == 1 and summary["drift"]["rows"] == 19
