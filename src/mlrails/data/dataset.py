"""Reading and validating tabular files against the configured dataset schema.

A file either validates completely or is rejected as a whole with a machine-readable
reason (:class:`DataFileRejected`): a partly-kept file is harder to reason about than a
quarantined one that a person fixes and re-uploads.
"""

from __future__ import annotations

import hashlib
import io
from datetime import date, datetime
from pathlib import PurePosixPath

import pandas as pd

from mlrails.config import Dataset
from mlrails.errors import DataFileRejected
from mlrails.wiring import FEATURES_PARTITION, FEATURES_UPLOADS, Prefix

_EXAMPLES = 5  # bad rows named in a rejection; enough to find the problem, small enough to read


def read_parquet(body: bytes) -> pd.DataFrame:
    """Parquet bytes → DataFrame, single-threaded: pyarrow's CPU thread pool can abort the
    process at interpreter exit (seen with pyarrow 25 and 26: about one run in four), and
    our objects are small enough that threads gain nothing."""
    return pd.read_parquet(io.BytesIO(body), use_threads=False)


def read_table(body: bytes, key: str) -> pd.DataFrame:
    """Parse CSV (optionally gzipped) or Parquet bytes, chosen by the key's suffix."""
    suffixes = PurePosixPath(key).suffixes
    if not body:
        raise DataFileRejected("empty", f"{key} is empty (0 bytes)")
    try:
        if suffixes[-1:] == [".parquet"]:
            return read_parquet(body)
        if suffixes[-1:] == [".csv"] or suffixes[-2:] == [".csv", ".gz"]:
            compression = "gzip" if suffixes[-1] == ".gz" else None
            return pd.read_csv(
                io.BytesIO(body), compression=compression, dtype=str, keep_default_na=False, na_values=[""]
            )
    except (ValueError, OSError, pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise DataFileRejected("unreadable", f"{key} cannot be parsed: {exc}") from exc
    raise DataFileRejected(
        "unsupported_format", f"{key} is neither .csv, .csv.gz nor .parquet", details={"suffixes": suffixes}
    )


def _blank_as_missing(column: pd.Series) -> pd.Series:
    if not (pd.api.types.is_object_dtype(column) or pd.api.types.is_string_dtype(column)):
        return column
    return column.mask(column.map(lambda value: isinstance(value, str) and not value.strip()))


def _bad_rows(mask: pd.Series) -> list[int]:
    return [int(i) for i in mask[mask].index[:_EXAMPLES]]


def _numeric(frame: pd.DataFrame, column: str) -> pd.Series:
    original = frame[column]
    converted = pd.to_numeric(original, errors="coerce")
    bad = converted.isna() & original.notna()
    if bad.any():
        rows = _bad_rows(bad)
        raise DataFileRejected(
            "type_mismatch",
            f"column '{column}' must be numeric; row {rows[0]} holds {original[rows[0]]!r}",
            details={"column": column, "rows": rows, "count": int(bad.sum())},
        )
    return converted.astype("float64")


def parse_times(values: pd.Series, fmt: str = "iso8601") -> pd.Series:
    """Timestamps written as ``fmt`` (``dataset.timestamp_format``) → UTC datetimes; NaT where
    a value is empty or not one. A time without a zone is read as UTC."""
    if fmt in ("epoch_seconds", "epoch_millis"):
        numbers = pd.to_numeric(values, errors="coerce")
        return pd.to_datetime(numbers, unit="s" if fmt == "epoch_seconds" else "ms", utc=True, errors="coerce")
    return pd.to_datetime(values, errors="coerce", utc=True, format="ISO8601" if fmt == "iso8601" else fmt)


def validate_frame(
    frame: pd.DataFrame, dataset: Dataset, *, with_target: bool = True, arrived_at: datetime | None = None
) -> pd.DataFrame:
    """Check columns, types, nulls and timestamps; return the typed schema columns only.

    Extra columns (ids, notes) are dropped, not rejected: raw exports often carry them, and
    the raw file itself is kept untouched. A dataset without a timestamp of its own takes
    ``arrived_at`` (the file's arrival) for every row.
    """
    if frame.empty:
        raise DataFileRejected("empty", "the file holds no rows")
    if dataset.timestamp is None:
        if arrived_at is None:
            raise ValueError("a dataset without a timestamp column needs the rows' arrival time")
        frame = frame.assign(**{dataset.time_column: arrived_at.isoformat()})
    required = [dataset.time_column, *dataset.feature_names] + ([dataset.target] if with_target else [])
    missing = [c for c in required if c not in frame.columns]
    if missing:
        raise DataFileRejected(
            "missing_columns",
            f"missing column(s): {', '.join(missing)}",
            details={"missing": missing, "found": [str(c) for c in frame.columns]},
        )
    # A cell of spaces is an empty cell, as `mlrails init` read it when it inferred nullability.
    frame = frame[required].reset_index(drop=True).apply(_blank_as_missing)
    out = pd.DataFrame(index=frame.index)

    timestamps = parse_times(frame[dataset.time_column], dataset.timestamp_format)
    bad = timestamps.isna()
    if bad.any():
        rows = _bad_rows(bad)
        raise DataFileRejected(
            "bad_timestamp",
            f"column '{dataset.time_column}' has an empty timestamp, or one not written as "
            f"{dataset.timestamp_format} (dataset.timestamp_format), in row {rows[0]}",
            details={"column": dataset.time_column, "rows": rows, "count": int(bad.sum())},
        )
    out[dataset.time_column] = timestamps

    for feature in dataset.features:
        column = frame[feature.name]
        if feature.type == "numeric":
            out[feature.name] = _numeric(frame, feature.name)
        else:
            out[feature.name] = column.astype("string").astype(object).where(column.notna(), None)
        if not feature.nullable and out[feature.name].isna().any():
            rows = _bad_rows(out[feature.name].isna())
            raise DataFileRejected(
                "null_values",
                f"column '{feature.name}' is not nullable but row {rows[0]} is empty",
                details={"column": feature.name, "rows": rows, "count": int(out[feature.name].isna().sum())},
            )

    if with_target:
        if frame[dataset.target].isna().any():
            rows = _bad_rows(frame[dataset.target].isna())
            raise DataFileRejected(
                "null_values",
                f"target '{dataset.target}' is empty in row {rows[0]}",
                details={"column": dataset.target, "rows": rows},
            )
        if dataset.task == "regression":
            out[dataset.target] = _numeric(frame, dataset.target)
        else:
            out[dataset.target] = class_labels(frame[dataset.target])
    return out


def class_labels(column: pd.Series) -> pd.Series:
    """Class labels as integers when they all are (0/1 stays 0/1 in the API), else strings
    (also how fed-back labels and captured predictions are compared, see :mod:`mlrails.feedback.labels`)."""
    numbers = pd.to_numeric(column, errors="coerce")
    if numbers.notna().all() and (numbers == numbers.round()).all():
        return numbers.astype("int64")
    return column.astype("string").astype(object)


def prepare_features(frame: pd.DataFrame, dataset: Dataset, *, arrived_at: datetime | None = None) -> pd.DataFrame:
    """Validated raw rows → feature rows: typed, de-duplicated, in time order.

    The placeholder pipeline's features are the validated columns themselves; derived
    features belong in the model's own Pipeline so training and serving share them.
    """
    clean = validate_frame(frame, dataset, arrived_at=arrived_at)
    return clean.drop_duplicates().sort_values(dataset.time_column, kind="stable").reset_index(drop=True)


# Features are partitioned by day: each file lives in the partition of its newest row's UTC
# date, so a partition holds only rows up to its day's end, and training bounded by a window
# lists only the partitions that can hold a row inside it (mlrails.training.lifecycle).


def partition_prefix(day: date) -> str:
    """The features partition of one UTC day: ``features/date=2026-03-01/``."""
    return f"{Prefix.FEATURES.value}{FEATURES_PARTITION}{day:%Y-%m-%d}/"


def newest_day(features: pd.DataFrame, dataset: Dataset) -> date:
    """The UTC date of the newest row of validated (non-empty) features."""
    return pd.to_datetime(features[dataset.time_column], utc=True).max().date()


def features_key(raw_key: str, day: date) -> str:
    """Deterministic features key for a raw key whose newest row is on ``day``, so a retried
    event overwrites, not duplicates. The source suffix stays in the name, so ``a.csv`` and
    ``a.parquet`` never collide: ``raw/2026/11/batch.csv`` with rows up to 2026-11-03 →
    ``features/date=2026-11-03/raw/2026/11/batch.csv.parquet``."""
    return f"{partition_prefix(day)}{FEATURES_UPLOADS}{raw_key.removeprefix(Prefix.RAW.value)}.parquet"


def content_hash(frame: pd.DataFrame) -> str:
    """A stable hash of a frame's rows, values and order (lineage: which data made a model;
    whether a file's rows changed)."""
    hashed = pd.util.hash_pandas_object(frame.reset_index(drop=True), index=False).to_numpy()
    return hashlib.sha256(hashed.tobytes()).hexdigest()


def to_parquet(frame: pd.DataFrame) -> bytes:
    """Serialize features as Parquet (the training and drift inputs)."""
    buffer = io.BytesIO()
    frame.to_parquet(buffer, index=False)
    return buffer.getvalue()
