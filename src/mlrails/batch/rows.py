"""An item's rows, read and validated against the champion's signature a row at a time: pure.

Validation is the API's (:mod:`mlrails.serving.protocol`): a column at a time while every value
of it passes, and value by value only in a column that fails, so a bad row is refused with its
reason and loses nothing else. A Parquet column stays an Arrow array: typed as the model takes
it (numbers, text) it is checked whole with Arrow and numpy, and only a column of another type,
or one that fails, is turned into Python values for the API's checks. Columns outside the
signature (an id) are not the model's: they ride along, beside the prediction or in a refused
row's values.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, BinaryIO

from mlrails.errors import BadRequest, InvalidValue
from mlrails.serving.protocol import MAX_CELL_CHARS, MISSING, Batch, Column, coerce_value, validate_column

if TYPE_CHECKING:
    import numpy as np
    import pyarrow as pa

MALFORMED = "malformed row"  # the reason of a row the format itself cannot read


@dataclass(frozen=True)
class Rejection:
    """A refused row: its number in the item (0-based, header excluded), the reason it is
    counted under (``<column>: <problem>``, or :data:`MALFORMED`), the message, its values."""

    row: int
    reason: str
    message: str
    values: dict[str, Any]


@dataclass(frozen=True)
class Rows:
    """What an item holds: its values by column (a list, with ``MISSING`` where a record lacks
    one; an Arrow array when read from Parquet), each row's number, and the rows its format
    could not read."""

    columns: dict[str, list[Any] | pa.Array]
    numbers: list[int]
    malformed: list[Rejection]

    @property
    def count(self) -> int:
        """Rows read, readable or not."""
        return len(self.numbers) + len(self.malformed)


@dataclass(frozen=True)
class Validated:
    """The rows that passed, typed for the model (``numbers``: their row numbers; ``extra``: their
    values of columns outside the signature, as read), and those refused. A column checked
    whole from Arrow is a numpy array (numbers as float64, a null of a nullable one as NaN;
    text as objects, a null as None); any other is a list, as the API types it."""

    batch: Batch
    numbers: list[int]
    rejected: list[Rejection]
    extra: dict[str, list[Any] | pa.Array]


def _text(body: bytes) -> str:
    try:
        return body.decode("utf-8-sig")  # a spreadsheet's byte-order mark is no part of the header
    except UnicodeDecodeError as exc:
        raise BadRequest(f"not UTF-8 text: {exc}") from exc


def read_csv(body: bytes) -> Rows:
    """A CSV object with a header row; an empty cell is a missing value (as in the API)."""
    reader = csv.reader(io.StringIO(_text(body)))
    header = next(reader, None)
    if not header:
        raise BadRequest("a CSV object needs a header row naming the columns")
    columns: dict[str, list[Any]] = {name: [] for name in header}
    numbers: list[int] = []
    malformed: list[Rejection] = []
    row = -1
    try:
        for values in reader:
            if not values:
                continue  # a blank line is no row
            row += 1
            if len(values) != len(header):
                message = f"row {row} has {len(values)} values, the header has {len(header)}"
                malformed.append(Rejection(row, MALFORMED, message, {"values": values}))
                continue
            numbers.append(row)
            for name, value in zip(header, values, strict=True):
                columns[name].append(value if value != "" else None)
    except csv.Error as exc:  # the rest of the object cannot be read as CSV
        malformed.append(Rejection(row + 1, MALFORMED, f"not CSV from row {row + 1}: {exc}", {}))
    return Rows(columns, numbers, malformed)


def read_jsonl(body: bytes) -> Rows:
    """A JSON Lines object: one JSON object per line; a key left out is a missing value."""
    records: list[tuple[int, dict[str, Any]]] = []
    malformed: list[Rejection] = []
    lines = (line for line in _text(body).splitlines() if line.strip())
    for row, line in enumerate(lines):
        try:
            record = json.loads(line)
        except (ValueError, RecursionError) as exc:
            malformed.append(Rejection(row, MALFORMED, f"row {row} is not JSON: {exc}", {"line": line[:1000]}))
            continue
        if not isinstance(record, dict):
            malformed.append(Rejection(row, MALFORMED, f"row {row} is not a JSON object", {"line": line[:1000]}))
            continue
        records.append((row, record))
    names = list(dict.fromkeys(key for _, record in records for key in record))
    columns = {name: [record.get(name, MISSING) for _, record in records] for name in names}
    return Rows(columns, [row for row, _ in records], malformed)


def read_parquet(file: BinaryIO, row_group: int) -> Rows:
    """One row group of a Parquet file (a seekable file: only that group's column chunks are
    read). Row numbers count from the file's first row."""
    import pyarrow.parquet as pq

    parquet = pq.ParquetFile(file)
    # One thread: a shard is one function invocation (about one vCPU); shards run side by side.
    table = parquet.read_row_group(row_group, use_threads=False)
    first = sum(parquet.metadata.row_group(i).num_rows for i in range(row_group))
    columns = {name: table.column(name).combine_chunks() for name in table.column_names}
    return Rows(columns, list(range(first, first + table.num_rows)), [])


def parquet_row_groups(file: BinaryIO) -> list[int]:
    """Rows per row group of a Parquet file, from its footer alone."""
    import pyarrow.parquet as pq

    metadata = pq.read_metadata(file)
    return [metadata.row_group(i).num_rows for i in range(metadata.num_row_groups)]


def validate(rows: Rows, signature: list[Column]) -> Validated:
    """Type ``rows`` for the model; a row with a bad value is refused with the first column's
    reason (in signature order), the others go on."""
    count = len(rows.numbers)
    typed: dict[str, Any] = {}
    refused: dict[int, Rejection] = {}
    for column in signature:
        values = rows.columns.get(column.name)
        checked = None if values is None or isinstance(values, list) else arrow_column(values, column)
        if checked is not None:
            typed[column.name] = checked
            continue
        values = [MISSING] * count if values is None else _python(values)
        try:
            typed[column.name] = validate_column(values, column)
        except BadRequest:
            typed[column.name] = [_one(value, column, index, rows, refused) for index, value in enumerate(values)]
    keep = [index for index in range(count) if index not in refused]
    if len(keep) < count:
        typed = {name: _take(values, keep) for name, values in typed.items()}
    batch = Batch(columns=typed, rows=len(keep), return_probabilities=True)
    rejected = sorted([*rows.malformed, *refused.values()], key=lambda rejection: rejection.row)
    known = {c.name for c in signature}
    extra = {
        name: _take(values, keep) if len(keep) < count or isinstance(values, list) else values
        for name, values in rows.columns.items()
        if name not in known
    }
    return Validated(batch, [rows.numbers[index] for index in keep], rejected, extra)


def arrow_column(values: pa.Array, column: Column) -> np.ndarray | None:
    """An Arrow column typed for the model whole, as :func:`~mlrails.serving.protocol.coerce_value`
    types each value: numbers (integers or floats, all finite) as float64, text (no value longer
    than the API's limit) as str objects; a null, where ``column`` is nullable, as NaN or None.
    None when any value would not pass (a null where none may be, NaN, infinity, a value too
    long) or the type is not one of those (booleans, decimals, numbers as text...): the caller
    then checks the column value by value."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    if pa.types.is_dictionary(values.type):  # a category column written by pandas
        values = values.dictionary_decode()
    if values.null_count and not column.nullable:
        return None
    kind = values.type
    if column.type == "numeric":
        if not (pa.types.is_integer(kind) or pa.types.is_floating(kind)):
            return None
        numbers = values.to_numpy(zero_copy_only=False).astype(np.float64)
        passes = np.isfinite(numbers)
        if values.null_count:
            passes |= values.is_null().to_numpy(zero_copy_only=False)
        return numbers if passes.all() else None
    if not (pa.types.is_string(kind) or pa.types.is_large_string(kind)):
        return None
    if len(values) and (pc.max(pc.utf8_length(values)).as_py() or 0) > MAX_CELL_CHARS:
        return None
    return values.to_numpy(zero_copy_only=False)


def _python(values: list[Any] | pa.Array) -> list[Any]:
    return values if isinstance(values, list) else values.to_pylist()


def _take(values: Any, keep: list[int]) -> Any:
    """The kept rows of a column: a list (a missing value as None), or an array indexed whole."""
    if isinstance(values, list):
        return [None if values[index] is MISSING else values[index] for index in keep]
    import numpy as np

    return values.take(np.asarray(keep, dtype=np.int64))


def _cell(values: list[Any] | pa.Array, index: int) -> Any:
    return values[index] if isinstance(values, list) else values[index].as_py()


def _one(value: Any, column: Column, index: int, rows: Rows, refused: dict[int, Rejection]) -> Any:
    """One value coerced; a refused one marks its row (first reason kept) and stands as None."""
    row = rows.numbers[index]
    try:
        return coerce_value(value, column, row)
    except InvalidValue as exc:
        if index not in refused:
            values = {name: _cell(column_values, index) for name, column_values in rows.columns.items()}
            shown = {name: v for name, v in values.items() if v is not MISSING}
            refused[index] = Rejection(row, f"{column.name}: {exc.problem}", exc.message, shown)
        return None
