"""The raw table typed against the schema, leniently: every problem counted, none fatal.

:func:`mlrails.data.dataset.validate_frame` stops at the first problem because a pipeline must
reject a bad file whole; a feasibility check wants all of them, so here a value that does
not parse becomes missing and is counted as a type mismatch instead.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

from mlrails.config import Dataset
from mlrails.data.dataset import parse_times
from mlrails.errors import MlrailsError


class CheckError(MlrailsError):
    """The check cannot run: no data at that place, unreadable data, or data the config does not describe."""

    error_code = "CHECK_ERROR"


@dataclass(frozen=True)
class Mismatch:
    """Values of a column that do not parse as the schema's type."""

    count: int
    examples: list[tuple[int, str]]  # (row, value as written)


@dataclass(frozen=True)
class TypedData:
    """Schema columns, typed; values that do not parse are missing and counted in ``mismatches``."""

    frame: pd.DataFrame
    missing: dict[str, int]  # empty in the file, per schema column (before typing)
    mismatches: dict[str, Mismatch] = field(default_factory=dict)
    has_target: bool = True
    extra_columns: list[str] = field(default_factory=list)

    @property
    def rows(self) -> int:
        """Rows in the file."""
        return len(self.frame)


def _mismatch(original: pd.Series, typed: pd.Series) -> Mismatch | None:
    bad = original.notna() & typed.isna()
    if not bad.any():
        return None
    rows = bad[bad].index[:3]
    return Mismatch(int(bad.sum()), [(int(i), str(original[i])) for i in rows])


def _labels(column: pd.Series) -> pd.Series:
    """Class labels as integers when they all are (like the pipeline), else strings."""
    present = column.dropna()
    numbers = pd.to_numeric(present, errors="coerce")
    if len(present) and numbers.notna().all() and (numbers == numbers.round()).all():
        return pd.to_numeric(column, errors="coerce").astype("Int64").astype(object).where(column.notna(), None)
    return column.astype("string").astype(object).where(column.notna(), None)


def type_columns(raw: pd.DataFrame, dataset: Dataset) -> TypedData:
    """Type the schema's columns of ``raw``; raise :class:`CheckError` if the config does
    not describe this data (the timestamp or a feature column is absent). A missing target
    column is not an error but a finding: data without labels is a real answer."""
    required = [*([dataset.timestamp] if dataset.timestamp else []), *dataset.feature_names]
    absent = [c for c in required if c not in raw.columns]
    if absent:
        found = ", ".join(map(str, raw.columns[:20])) + (" …" if len(raw.columns) > 20 else "")
        raise CheckError(
            f"the data does not match the config: column(s) {', '.join(absent)} named in dataset "
            f"(timestamp, features) are not in the data, which has: {found}",
            details={"absent": absent, "found": [str(c) for c in raw.columns]},
        )
    raw = raw.reset_index(drop=True)
    has_target = dataset.target in raw.columns
    schema = required + ([dataset.target] if has_target else [])
    out = pd.DataFrame(index=raw.index)
    mismatches: dict[str, Mismatch] = {}

    def note(name: str, original: pd.Series, typed: pd.Series) -> None:
        found = _mismatch(original, typed)
        if found:
            mismatches[name] = found

    if dataset.timestamp:
        stamps = parse_times(raw[dataset.timestamp], dataset.timestamp_format)
        note(dataset.timestamp, raw[dataset.timestamp], stamps)
        out[dataset.timestamp] = stamps
    for feature in dataset.features:
        column = raw[feature.name]
        if feature.type == "numeric":
            out[feature.name] = pd.to_numeric(column, errors="coerce").astype("float64")
            note(feature.name, column, out[feature.name])
        else:
            out[feature.name] = column.astype("string").astype(object).where(column.notna(), None)
    if has_target:
        column = raw[dataset.target]
        if dataset.task == "regression":
            out[dataset.target] = pd.to_numeric(column, errors="coerce").astype("float64")
            note(dataset.target, column, out[dataset.target])
        else:
            out[dataset.target] = _labels(column)
    return TypedData(
        frame=out,
        missing={c: int(raw[c].isna().sum()) for c in schema},
        mismatches=mismatches,
        has_target=has_target,
        extra_columns=[str(c) for c in raw.columns if c not in schema],
    )
