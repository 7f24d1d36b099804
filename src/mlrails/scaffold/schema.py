"""What a data file says about the project it could be: each column's type and nullability,
the target, the task and the timestamp, each choice with the reason it was made (what
`mlrails init` writes into the config as comments, and what it asks a person to check)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Literal

import pandas as pd

from mlrails.data.dataset import parse_times
from mlrails.errors import ConfigError

# Names a target column usually goes by, checked in this order when none is given.
TARGET_NAMES = ("target", "label", "y", "outcome", "class")
# A numeric target with at most this many distinct whole values is read as classes.
MAX_CLASSES = 20
# Names a column of times usually goes by: preferred among several, and required of a column
# of numbers before it is read as epoch seconds or milliseconds.
_TIMESTAMP_NAME = re.compile(r"(time|date|_at$|^at$|^ts$|epoch)", re.IGNORECASE)
# Epoch values between 2001-09-09 and 2096-10-02, in seconds and in milliseconds.
_EPOCH_RANGES = {"epoch_seconds": (1e9, 4e9), "epoch_millis": (1e12, 4e12)}


@dataclass(frozen=True)
class Column:
    name: str
    type: Literal["numeric", "categorical"]
    nullable: bool
    why: str


@dataclass(frozen=True)
class Inferred:
    """The dataset section a file suggests, and what a person should check by hand."""

    target: str
    task: Literal["classification", "regression"]
    timestamp: str | None  # None: no column of times; rows take their arrival time
    timestamp_format: str
    features: list[Column]
    rows: int
    classes: list[str] = field(default_factory=list)
    target_std: float | None = None
    reasons: dict[str, str] = field(default_factory=dict)  # target, task, timestamp: why
    checks: list[str] = field(default_factory=list)


def _filled(column: pd.Series) -> pd.Series:
    return column.dropna()[column.dropna().astype(str).str.strip() != ""]


def _is_numeric(column: pd.Series) -> bool:
    if pd.api.types.is_datetime64_any_dtype(column):
        return False
    values = _filled(column)
    return not values.empty and bool(pd.to_numeric(values, errors="coerce").notna().all())


def _time_format(name: str, column: pd.Series) -> str | None:
    """How ``column`` writes times (``dataset.timestamp_format``), or None when it does not:
    ISO 8601 text, or whole numbers in the epoch range under a name that says time."""
    if pd.api.types.is_datetime64_any_dtype(column):  # Parquet keeps times typed
        return "iso8601"
    values = _filled(column)
    if values.empty:
        return None
    if not _is_numeric(column):
        return "iso8601" if bool(parse_times(values.astype(str)).notna().all()) else None
    numbers = pd.to_numeric(values)
    if not _TIMESTAMP_NAME.search(name) or not bool((numbers == numbers.round()).all()):
        return None
    for fmt, (low, high) in _EPOCH_RANGES.items():
        if bool(numbers.between(low, high).all()):
            return fmt
    return None


def _target(frame: pd.DataFrame, named: str | None) -> tuple[str, str]:
    if named is not None:
        if named not in frame:
            raise ConfigError(f"--target {named}: the data has no such column (columns: {list(frame.columns)})")
        return named, "named with --target"
    by_name = {str(c).lower(): str(c) for c in frame.columns}
    for name in TARGET_NAMES:
        if name in by_name:
            return by_name[name], f"the column named '{by_name[name]}'"
    raise ConfigError(
        f"which column is the target? name it with --target (columns: {list(frame.columns)})",
        details={"columns": [str(c) for c in frame.columns]},
    )


def _task(column: pd.Series, named: str | None) -> tuple[Literal["classification", "regression"], str]:
    if named == "regression" and not _is_numeric(column):
        raise ConfigError("--task regression: the target holds text, not numbers")
    if named is not None:
        return named, "named with --task"  # type: ignore[return-value]
    values = _filled(column)
    if not _is_numeric(column):
        return "classification", "the target holds labels, not numbers"
    numbers = pd.to_numeric(values)
    distinct = numbers.nunique()
    if distinct <= MAX_CLASSES and bool((numbers == numbers.round()).all()):
        return "classification", f"the target holds {distinct} distinct whole numbers (<= {MAX_CLASSES}): classes"
    return "regression", f"the target holds {distinct} distinct numbers: a quantity"


def _timestamp(frame: pd.DataFrame, named: str | None, target: str) -> tuple[str | None, str, str]:
    """The column of times, how it writes them, and why it was chosen."""
    if named is not None:
        if named not in frame:
            raise ConfigError(f"--timestamp {named}: the data has no such column (columns: {list(frame.columns)})")
        fmt = _time_format(named, frame[named])
        if fmt is None:
            raise ConfigError(
                f"--timestamp {named}: its values are neither ISO 8601 times nor epoch seconds or milliseconds; "
                "set dataset.timestamp_format to their strftime pattern (e.g. '%d/%m/%Y %H:%M') by hand"
            )
        return named, fmt, "named with --timestamp"
    formats = {str(c): _time_format(str(c), frame[c]) for c in frame.columns if c != target}
    candidates = [name for name, fmt in formats.items() if fmt is not None]
    if not candidates:
        return None, "iso8601", "no column holds times: each file's rows take its arrival time (see the docs)"
    named_like = [c for c in candidates if _TIMESTAMP_NAME.search(c)]
    chosen = (named_like or candidates)[0]
    others = [c for c in candidates if c != chosen]
    why = f"the column of times ({formats[chosen]})" + (f"; also times: {others}" if others else "")
    return chosen, formats[chosen], why


def infer(
    frame: pd.DataFrame, *, target: str | None = None, timestamp: str | None = None, task: str | None = None
) -> Inferred:
    """Read ``frame`` (every column as text, as a CSV reads) as a project's dataset."""
    if frame.empty:
        raise ConfigError("the data has no rows")
    target_name, target_why = _target(frame, target)
    task_name, task_why = _task(frame[target_name], task)
    time_name, time_format, time_why = _timestamp(frame, timestamp, target_name)
    features, checks = [], []
    for name in frame.columns:
        if name in (target_name, time_name):
            continue
        column = frame[name]
        missing = int(column.isna().sum() + (column.astype(str).str.strip() == "").sum())
        if _filled(column).empty:
            checks.append(f"column '{name}' is empty in every row: left out")
            continue
        numeric = _is_numeric(column)
        distinct = _filled(column).nunique()
        why = "every value is a number" if numeric else f"text, {distinct} distinct values"
        if not numeric and distinct > 0.5 * len(frame) and len(frame) > 50:
            checks.append(f"'{name}' has {distinct} distinct values in {len(frame)} rows: an id? remove it if so")
        if missing:
            why += f"; empty in {missing} of {len(frame)} rows"
        features.append(Column(str(name), "numeric" if numeric else "categorical", missing > 0, why))
    if not features:
        raise ConfigError("the data has no feature columns besides the target and the timestamp")
    labels = _filled(frame[target_name])
    classes = sorted(labels.astype(str).unique().tolist()) if task_name == "classification" else []
    if task_name == "classification" and len(classes) < 2:
        raise ConfigError(f"the target '{target_name}' holds a single class ({classes}): nothing to learn")
    target_std = float(pd.to_numeric(labels).std()) if task_name == "regression" else None
    if int(frame[target_name].isna().sum()):
        checks.append(f"the target '{target_name}' is empty in {int(frame[target_name].isna().sum())} rows")
    return Inferred(
        target=target_name,
        task=task_name,
        timestamp=time_name,
        timestamp_format=time_format,
        features=features,
        rows=len(frame),
        classes=classes,
        target_std=target_std,
        reasons={"target": target_why, "task": task_why, "timestamp": time_why},
        checks=checks,
    )
