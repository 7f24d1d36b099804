"""`mlrails batch` on the local runtime: the job of :mod:`mlrails.batch.job`, its shards on a
process pool of ``batch.max_concurrency`` workers (what the Distributed Map's concurrency is on
AWS), with the same item list, batching and output layout.

Worker processes cannot see this process's in-process moto: each is pointed at its server mode
(:meth:`mlrails.local.cloud.LocalCloud.endpoint`) with ``AWS_ENDPOINT_URL``, as the local
training task is. Workers are spawned, not forked: a fork would copy the in-process mock, and
its writes would go to the copy.

A shard that raises is a failed result (:func:`mlrails.batch.job.run_shard`). A worker that dies
outright — killed for memory, a crash in native code — breaks the whole pool: every shard not
finished by then gets a failed result saying so, and the job still writes its summary and
weighs the failures against its tolerance, as the Distributed Map counts a crashed invocation.
"""

from __future__ import annotations

import hashlib
import multiprocessing
import os
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path

from mlrails.adapters import s3
from mlrails.batch.items import Shard
from mlrails.batch.job import ChampionSource, Runner, Summary, record_result, run_job, run_shard
from mlrails.batch.shard import ShardResult
from mlrails.errors import ConfigError
from mlrails.local.runtime import LocalRuntime
from mlrails.settings import Settings
from mlrails.wiring import Prefix, function

# The function whose settings a job runs with locally: the batch function, as on AWS.
_SETTINGS_OF = "batch"


def _point_at(endpoint: str) -> None:
    os.environ["AWS_ENDPOINT_URL"] = endpoint


def _settle(future: Future[ShardResult], shard: Shard, output_prefix: str) -> None:
    """Wait for a shard; when its worker died first, leave the failed result it could not."""
    try:
        future.result()
    except BrokenProcessPool:
        # The pool cannot say which worker died, nor how (its exit code stays inside it).
        error = (
            "WorkerDied: a worker process of the pool ended abruptly (killed, out of memory, or a "
            "crash in native code) before this shard finished; the pool stopped with it"
        )
        record_result(shard, output_prefix, ShardResult(shard.id, len(shard.items), failed=True, error=error))


def pool(endpoint: str, workers: int, score: Callable[[Shard, str, ChampionSource], ShardResult] = run_shard) -> Runner:
    """A runner that scores shards with ``score`` on up to ``workers`` processes talking to
    moto at ``endpoint``; each shard leaves its result in S3, where the summary reads it."""

    def run(shards: Sequence[Shard], output_prefix: str, source: ChampionSource) -> None:
        context = multiprocessing.get_context("spawn")
        size = max(1, min(workers, len(shards)))
        with ProcessPoolExecutor(size, mp_context=context, initializer=_point_at, initargs=(endpoint,)) as executor:
            futures = [executor.submit(score, shard, output_prefix, source) for shard in shards]
            for future, shard in zip(futures, shards, strict=True):
                _settle(future, shard, output_prefix)

    return run


def upload_files(runtime: LocalRuntime, path: Path) -> str:
    """Put a local file, or every file under a folder, into the data bucket under
    ``batch/<content hash>/input/``; the prefix's URI. The same files, the same prefix: a rerun
    scores them into the same output keys."""
    if not path.exists():
        raise ConfigError(f"no file or folder at {path}")
    files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
    if not files:
        raise ConfigError(f"{path} holds no files")
    base = path.parent if path.is_file() else path
    contents = {f.relative_to(base).as_posix(): f.read_bytes() for f in files}
    digest = hashlib.sha256()
    for name, body in sorted(contents.items()):
        digest.update(name.encode() + b"\0" + hashlib.sha256(body).digest())
    prefix = f"{Prefix.BATCH.value}{digest.hexdigest()[:16]}/"
    bucket = runtime.cloud.names.data_bucket
    for name, body in contents.items():
        s3.put_bytes(s3.uri(bucket, f"{prefix}input/{name}"), body)
    return s3.uri(bucket, f"{prefix}input/")


def run_local(
    runtime: LocalRuntime, input_location: str, output_uri: str | None, *, workers: int | None = None
) -> Summary:
    """Score ``input_location`` (an ``s3://`` location in the local cloud, or a local file or
    folder, uploaded first) with the local champion; the summary."""
    cloud = runtime.cloud
    if input_location.startswith("s3://"):
        if output_uri is None:
            raise ConfigError("--output: where the scored rows go (an s3:// prefix) is needed with an s3:// input")
        input_uri = input_location
    else:
        input_uri = upload_files(runtime, Path(input_location))
        # Beside the uploaded input: batch/<content hash>/output/.
        output_uri = output_uri or input_uri[: -len("input/")] + "output/"
    settings = Settings.from_env(cloud.environment_for(function(_SETTINGS_OF)))
    runner = pool(cloud.endpoint(), workers or cloud.cfg.batch.max_concurrency)
    return run_job(input_uri, output_uri, cloud.cfg, settings, runner=runner, now=runtime.now)
