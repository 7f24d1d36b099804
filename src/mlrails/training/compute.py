"""Where a training run's steps execute: the train function (Lambda) or an ECS Fargate task of
the same image (``training.compute``). With ``auto``, each run is placed by the size of the
features it will read, decided when the retrain trigger starts it (the execution input's
``compute``, which the state machine's first state chooses on).

The rule (:func:`choose`): Fargate when the window's Parquet bytes, times
:data:`IN_MEMORY_EXPANSION`, exceed the train function's memory. Parquet is compressed and
columnar; as a pandas frame, split, and copied by a fit it takes several times its size on
disk, and Lambda's memory is also the ceiling of its CPU. Lambda's 15 minutes are not
predicted from bytes (the estimator decides that): a run that times out there is the sign to
set ``compute: fargate``.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Literal

from mlrails.adapters import s3
from mlrails.config import ProjectConfig
from mlrails.wiring import FEATURES_PARTITION, Prefix

Engine = Literal["lambda", "fargate"]

# Parquet bytes → the memory a training step needs: decompressed columns, the pandas frame,
# the train/holdout split, the estimator's own copies. A conservative, documented factor.
IN_MEMORY_EXPANSION = 10


def partition_day(key: str) -> date | None:
    """The day of the partition ``key`` is in (None: not in a day's partition)."""
    head = key.removeprefix(Prefix.FEATURES.value)
    if not head.startswith(FEATURES_PARTITION):
        return None
    try:
        return date.fromisoformat(head[len(FEATURES_PARTITION) :].split("/", 1)[0])
    except ValueError:
        return None


def window_partitions(partitions: list[str], window_days: float | None) -> list[str]:
    """Of what lies under features/ (day partitions and loose files, as listed), what a run
    reads: everything, or with ``window_days`` the day partitions that can hold a row within
    the window of the newest day. A file lives in the partition of its newest row's day, so an
    older partition holds no row inside the window. Loose files (written before features were
    partitioned) are read whatever their age."""
    days = {prefix: partition_day(prefix) for prefix in partitions}
    dated = [day for day in days.values() if day is not None]
    if window_days is None or not dated:
        return partitions
    first = max(dated) - timedelta(days=window_days)
    return [prefix for prefix in partitions if days[prefix] is None or days[prefix] >= first]


def choose(compute: str, feature_bytes: int, lambda_memory_mb: int) -> Engine:
    """The engine for a run: ``lambda`` and ``fargate`` as configured; ``auto``: Fargate when
    ``feature_bytes`` × :data:`IN_MEMORY_EXPANSION` exceed ``lambda_memory_mb``."""
    if compute != "auto":
        return "fargate" if compute == "fargate" else "lambda"
    return "fargate" if feature_bytes * IN_MEMORY_EXPANSION > lambda_memory_mb * 2**20 else "lambda"


def for_run(cfg: ProjectConfig, data_bucket: str, lambda_memory_mb: int) -> Engine:
    """The engine for a run starting now. Only ``auto`` lists the window's features (their
    sizes, not their contents)."""
    if cfg.training.compute != "auto":
        return choose(cfg.training.compute, 0, lambda_memory_mb)
    partitions = window_partitions(s3.list_prefixes(data_bucket, Prefix.FEATURES.value), cfg.training.window_days)
    size = sum(s3.total_size(data_bucket, prefix, suffix=".parquet") for prefix in partitions)
    return choose("auto", size, lambda_memory_mb)
