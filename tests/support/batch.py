"""Batch test helpers: a shard scorer whose worker process is killed on a chosen input."""

from __future__ import annotations

import os
import signal

from mlrails.batch.items import Shard
from mlrails.batch.job import ChampionSource, run_shard
from mlrails.batch.shard import ShardResult


def dies_on(name: str, shard: Shard, output_prefix: str, source: ChampionSource) -> ShardResult:
    """:func:`run_shard`, but the worker process is killed (SIGKILL: no exception, no result, no
    cleanup), as the kernel's out-of-memory killer does, on a shard reading an object named
    ``name``. Module-level, so a spawned worker can import it (bind ``name`` with functools.partial)."""
    if any(item.uri.rsplit("/", 1)[1] == name for item in shard.items):
        os.kill(os.getpid(), signal.SIGKILL)
    return run_shard(shard, output_prefix, source)
