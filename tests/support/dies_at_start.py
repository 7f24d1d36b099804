"""A shard scorer whose worker process dies as it starts: importing this module in a process
the local batch pool spawned exits it (code 3) before it reads the shard sent to it, as a
worker killed for memory while loading the champion would."""

from __future__ import annotations

import multiprocessing
import os

from mlrails.batch.items import Shard
from mlrails.batch.job import ChampionSource
from mlrails.batch.shard import ShardResult

# Imported while the spawned process unpickles its target, named by then (not yet bootstrapped).
if multiprocessing.current_process().name != "MainProcess":
    os._exit(3)


def score(shard: Shard, output_prefix: str, source: ChampionSource) -> ShardResult:
    raise AssertionError("a worker that imports this module never scores")
