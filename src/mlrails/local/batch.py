"""`mlrails batch` on the local runtime: the job of :mod:`mlrails.batch.job`, its shards on a
process pool of ``batch.max_concurrency`` workers (what the Distributed Map's concurrency is on
AWS), with the same item list, batching and output layout.

Worker processes cannot see this process's in-process moto: each is pointed at its server mode
(:meth:`mlrails.local.cloud.LocalCloud.endpoint`) with ``AWS_ENDPOINT_URL``, as the local
training task is. Workers are spawned, not forked: a fork would copy the in-process mock, and
its writes would go to the copy.

A shard that raises is a failed result (:func:`mlrails.batch.job.run_shard`). A worker that dies
outright — killed for memory, a crash in native code — fails the one shard it held, with how it
ended (the signal or exit code), and a new worker takes its place for the shards still waiting:
as on AWS, where a crashed invocation fails its child of the Distributed Map and no other. The
job then writes its summary and weighs the failures against its tolerance.
"""

from __future__ import annotations

import contextlib
import hashlib
import multiprocessing
import os
import signal
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from multiprocessing.connection import Connection, wait
from multiprocessing.process import BaseProcess
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


Scorer = Callable[[Shard, str, ChampionSource], ShardResult]


def _work(tasks: Connection, endpoint: str, score: Scorer) -> None:
    """A worker process: scores each shard it is sent, answering when done, until sent None."""
    os.environ["AWS_ENDPOINT_URL"] = endpoint
    while (task := tasks.recv()) is not None:
        score(*task)  # the shard's result is in S3: the answer only says it is done
        tasks.send(True)


@dataclass(eq=False)
class _Worker:
    process: BaseProcess
    tasks: Connection
    shard: Shard | None = None  # the shard it scores now


def _died(process: BaseProcess, shard: Shard, output_prefix: str) -> None:
    """Leave the failed result of the ``shard`` that ``process`` died with, saying how it ended."""
    process.join()
    code = process.exitcode
    how = f"exited with code {code}"
    if code is not None and code < 0:
        with contextlib.suppress(ValueError):
            how = f"was killed by {signal.Signals(-code).name}"
    error = (
        f"WorkerDied: the worker process scoring this shard {how} before it finished "
        "(killed for memory, or a crash in native code)"
    )
    record_result(shard, output_prefix, ShardResult(shard.id, len(shard.items), failed=True, error=error))


def pool(endpoint: str, workers: int, score: Scorer = run_shard) -> Runner:
    """A runner that scores shards with ``score`` on up to ``workers`` processes talking to
    moto at ``endpoint``, one shard per worker at a time; each shard leaves its result in S3,
    where the summary reads it (a worker that dies leaves its shard's failed result here)."""

    def run(shards: Sequence[Shard], output_prefix: str, source: ChampionSource) -> None:
        context = multiprocessing.get_context("spawn")
        waiting = deque(shards)

        def started() -> _Worker:
            tasks, theirs = context.Pipe()
            process = context.Process(target=_work, args=(theirs, endpoint, score), daemon=True)
            process.start()
            theirs.close()  # the worker's end lives in the worker: its death closes the pipe here
            return _Worker(process, tasks)

        def hand_on(worker: _Worker) -> _Worker:
            """The next shard to ``worker``, or to a new worker in its place if it died idle."""
            if not waiting:
                worker.shard = None
                return worker
            if not worker.process.is_alive():
                worker.tasks.close()
                worker = started()
            worker.shard = waiting.popleft()
            # One that dies from here on dies with the shard: the loop below sees it.
            with contextlib.suppress(OSError):
                worker.tasks.send((worker.shard, output_prefix, source))
            return worker

        crew = [started() for _ in range(max(1, min(workers, len(shards))))]
        try:
            crew = [hand_on(worker) for worker in crew]
            while busy := [w for w in crew if w.shard is not None]:
                ready = wait([w.tasks for w in busy] + [w.process.sentinel for w in busy])
                for worker in busy:
                    if worker.tasks not in ready and worker.process.sentinel not in ready:
                        continue
                    try:
                        worker.tasks.recv()
                    # EOF, or a reset when it died before reading the shard sent to it.
                    except (EOFError, OSError):
                        _died(worker.process, worker.shard, output_prefix)
                        worker.tasks.close()
                    crew[crew.index(worker)] = hand_on(worker)
        except BaseException:
            for worker in crew:  # interrupted: nothing waits for the shards still running
                worker.process.kill()
            raise
        finally:
            for worker in crew:
                with contextlib.suppress(OSError):
                    worker.tasks.send(None)
            for worker in crew:
                worker.process.join()

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
