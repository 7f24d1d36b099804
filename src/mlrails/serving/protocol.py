"""The scoring protocol: MLflow-compatible request bodies in, typed columns out.

Accepted bodies (``application/json``): ``dataframe_split`` ({"columns", "data", "index"?}),
``dataframe_records`` ([{col: value}]), ``instances`` and ``inputs`` (records or a
{col: [values]} mapping); and ``text/csv`` with a header row. Every rejection is a
:class:`BadRequest` (or subclass) naming the field and the row. Limits (body bytes, rows,
columns, keys per record, characters per value) are checked before rows are built, and a CSV
body is read only up to its row limit, so parsing stays linear in the body. No pandas here:
this module sits on the request path.
"""

from __future__ import annotations

import csv
import io
import json
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from mlrails.errors import BadRequest, InvalidValue, PayloadTooLarge, UnsupportedMediaType

FORMATS = ("dataframe_split", "dataframe_records", "instances", "inputs")
MAX_BODY_BYTES = 5 * 1024 * 1024  # under Lambda's 6 MB synchronous payload limit, with headroom
MAX_ROWS = 10_000
# Far beyond any tabular model's signature and any category's name, far below what the body
# limit could carry: a body past either is refused before its rows are built.
MAX_COLUMNS = 1_000  # columns a request names (split, mapping, CSV header), and keys per record
MAX_CELL_CHARS = 1_000  # characters in one value (a string cell, or a category as text)
MISSING = object()  # a record without a column (or a batch row without it), told apart from an explicit null
_MAX_NAMED = 20  # unknown columns an error names
# A \uD800-\uDFFF escape: the only way a lone surrogate (not text) gets into a parsed body,
# since raw UTF-8 cannot hold one. Cheap to search; the exact check runs only on a hit.
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")


def _reject_constant(name: str) -> None:
    raise BadRequest(f"body holds {name}, which is not JSON: send null for a missing value")


def load_json(body: bytes) -> Any:
    """A request body as JSON, in time linear in its size. Every malformed body is a
    :class:`BadRequest`: invalid UTF-8 or JSON, NaN or Infinity, an integer too long to
    convert, a lone UTF-16 surrogate, nesting deeper than the parser's recursion limit."""
    try:
        document = json.loads(body, parse_constant=_reject_constant)
    except RecursionError:  # the C scanner recurses per bracket: a deep body must not be a 500
        raise BadRequest("body is nested too deeply to be a request") from None
    except ValueError as exc:  # JSONDecodeError, UnicodeDecodeError, integers too long to convert
        raise BadRequest(f"body is not valid JSON: {exc}") from exc
    if _SURROGATE_ESCAPE.search(body):
        try:  # a valid pair decodes to one code point: whatever cannot be encoded is alone
            json.dumps(document, ensure_ascii=False).encode("utf-8")
        except UnicodeEncodeError:
            raise BadRequest("body holds a lone UTF-16 surrogate escape (\\ud800-\\udfff), which is not text") from None
    return document


@dataclass(frozen=True)
class Column:
    name: str
    type: str  # "numeric" | "categorical"
    nullable: bool = False


@dataclass(frozen=True)
class Batch:
    """Validated input: one list per feature, in signature order."""

    columns: dict[str, list[Any]]
    rows: int
    return_probabilities: bool = False


def _check_rows(count: int, max_rows: int) -> None:
    if count > max_rows:
        raise PayloadTooLarge(f"{count} rows exceed the limit of {max_rows} per request")


def _check_width(count: int, where: str) -> None:
    if count > MAX_COLUMNS:
        raise BadRequest(
            f"{where} has {count} columns; the limit is {MAX_COLUMNS} per request",
            details={"columns": count, "limit": MAX_COLUMNS},
        )


def _too_long(value: str, column: Column, row: int) -> InvalidValue:
    return InvalidValue(
        f"row {row}: column '{column.name}' holds a value of {len(value)} characters; "
        f"the limit is {MAX_CELL_CHARS} per value",
        details={"column": column.name, "row": row, "limit": MAX_CELL_CHARS},
        problem="too_long",
    )


def _check_names(names: Sequence[str], expected: Sequence[str]) -> None:
    """Refuse names outside the signature, naming the first few: a hostile body may hold
    hundreds of thousands, and the answer must stay small."""
    known = set(expected)
    unknown = [n for n in names if n not in known]
    if unknown:
        shown = [n if len(n) <= 40 else n[:37] + "..." for n in unknown[:_MAX_NAMED]]
        details: dict[str, Any] = {"unknown": shown, "expected": list(expected)}
        more = ""
        if len(unknown) > len(shown):
            details["unknown_count"] = len(unknown)
            more = f" and {len(unknown) - len(shown)} more"
        raise BadRequest(f"unknown column(s): {', '.join(shown)}{more}", details=details)


def _records_to_columns(
    records: Any, field: str, expected: Sequence[str], max_rows: int
) -> tuple[list[str], list[list[Any]]]:
    if not isinstance(records, list):
        raise BadRequest(f"'{field}' must be a list of records", details={"field": field})
    if not records:
        return [], []
    _check_rows(len(records), max_rows)
    if all(isinstance(r, dict) for r in records):
        widths = list(map(len, records))
        if max(widths) > MAX_COLUMNS:
            wide = next(i for i, width in enumerate(widths) if width > MAX_COLUMNS)
            raise BadRequest(
                f"'{field}' record {wide} has {widths[wide]} keys; the limit is {MAX_COLUMNS} keys per record",
                details={"field": field, "row": wide, "limit": MAX_COLUMNS},
            )
        # Names in first-seen order, in one pass; unknown ones are refused before a row is
        # built, so the rows cost (records x known columns), never records x distinct keys.
        names = list(dict.fromkeys(key for record in records for key in record))
        _check_names(names, expected)
        return names, [[record.get(n, MISSING) for n in names] for record in records]
    bad = next((i for i, r in enumerate(records) if not isinstance(r, dict)), 0)
    raise BadRequest(f"'{field}' row {bad} must be an object of column: value", details={"field": field, "row": bad})


def _split_to_columns(body: Any, expected: Sequence[str]) -> tuple[list[str], list[list[Any]]]:
    if not isinstance(body, dict):
        raise BadRequest("'dataframe_split' must be an object with 'columns' and 'data'")
    unknown = sorted(set(body) - {"columns", "data", "index"})
    if unknown:
        raise BadRequest(f"'dataframe_split' has unknown key(s) {unknown}", details={"keys": unknown})
    columns, data = body.get("columns"), body.get("data")
    if not isinstance(columns, list) or not all(isinstance(c, str) for c in columns):
        raise BadRequest("'dataframe_split.columns' must be a list of column names")
    if not isinstance(data, list):
        raise BadRequest("'dataframe_split.data' must be a list of rows")
    _check_width(len(columns), "'dataframe_split.columns'")
    _check_names(columns, expected)
    for i, row in enumerate(data):
        if not isinstance(row, list) or len(row) != len(columns):
            raise BadRequest(
                f"'dataframe_split.data' row {i} must be a list of {len(columns)} values", details={"row": i}
            )
    return columns, data


def _mapping_to_columns(body: dict[str, Any], field: str, expected: Sequence[str]) -> tuple[list[str], list[list[Any]]]:
    _check_width(len(body), f"'{field}'")
    _check_names(list(body), expected)
    lists = [v for v in body.values() if isinstance(v, list)]
    if len(lists) != len(body):
        raise BadRequest(f"'{field}' as a mapping must hold a list of values per column")
    lengths = {len(v) for v in lists}
    if len(lengths) > 1:
        raise BadRequest(f"'{field}' columns have different lengths {sorted(lengths)}")
    names = list(body)
    return names, [list(row) for row in zip(*lists)] if lists else []


def _parse_json(body: bytes, expected: Sequence[str], max_rows: int) -> tuple[list[str], list[list[Any]], bool]:
    document = load_json(body)
    if not isinstance(document, dict):
        raise BadRequest(f"body must be a JSON object with one of {list(FORMATS)}")
    present = [f for f in FORMATS if f in document]
    extra = sorted(set(document) - set(FORMATS) - {"params"})
    if len(present) != 1 or extra:
        raise BadRequest(f"body must hold exactly one of {list(FORMATS)}", details={"found": sorted(document)})
    params = document.get("params") or {}
    if not isinstance(params, dict):
        raise BadRequest("'params' must be an object")
    probabilities = params.get("probabilities", False)
    if not isinstance(probabilities, bool):
        raise BadRequest("'params.probabilities' must be true or false")
    field = present[0]
    payload = document[field]
    if field == "dataframe_split":
        names, rows = _split_to_columns(payload, expected)
    elif isinstance(payload, dict):
        names, rows = _mapping_to_columns(payload, field, expected)
    else:
        names, rows = _records_to_columns(payload, field, expected, max_rows)
    return names, rows, probabilities


def _parse_csv(body: bytes, expected: Sequence[str], max_rows: int) -> tuple[list[str], list[list[Any]], bool]:
    """The header, then rows until the limit: a body with more lines than ``max_rows`` is
    refused at line ``max_rows + 1``, the rest never read. Blank lines are skipped but count
    as lines (a body of newlines would otherwise be read to its end for nothing)."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BadRequest(f"body is not valid UTF-8 CSV: {exc}") from exc
    reader = csv.reader(io.StringIO(text.rstrip("\r\n")))  # trailing newlines are no lines
    rows: list[list[Any]] = []
    try:
        header = next(reader, None)
        if not header:
            raise BadRequest("CSV body needs a header row naming the columns")
        _check_width(len(header), "the CSV header")
        _check_names(header, expected)
        for line, row in enumerate(reader):
            if line == max_rows:
                raise PayloadTooLarge(f"the body holds more than {max_rows} rows; the limit is {max_rows} per request")
            if not row:
                continue
            if len(row) != len(header):
                raise BadRequest(
                    f"CSV row {len(rows)} has {len(row)} values, the header has {len(header)}",
                    details={"row": len(rows)},
                )
            rows.append([v if v != "" else None for v in row])
    except csv.Error as exc:
        raise BadRequest(f"body is not valid UTF-8 CSV: {exc}") from exc
    return header, rows, False


def _preview(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def coerce_value(value: Any, column: Column, row: int) -> Any:
    """One value of ``column`` as the model takes it (a float, a category's text, or None when
    nullable); an :class:`~mlrails.errors.InvalidValue` naming the row and what is wrong."""
    if value is MISSING or value is None:
        if column.nullable:
            return None
        raise InvalidValue(
            f"row {row}: column '{column.name}' must not be null or missing",
            details={"column": column.name, "row": row},
            problem="missing",
        )
    if column.type == "numeric":
        if isinstance(value, str) and len(value) > MAX_CELL_CHARS:
            raise _too_long(value, column, row)
        if isinstance(value, bool):
            raise InvalidValue(
                f"row {row}: column '{column.name}' must be a number, got a boolean",
                details={"column": column.name, "row": row},
                problem="not_a_number",
            )
        try:
            number = float(value)
        except (TypeError, ValueError, OverflowError):
            raise InvalidValue(
                f"row {row}: column '{column.name}' must be a number, got {_preview(value)}",
                details={"column": column.name, "row": row},
                problem="not_a_number",
            ) from None
        if not math.isfinite(number):
            raise InvalidValue(
                f"row {row}: column '{column.name}' must be finite, got {_preview(value)}",
                details={"column": column.name, "row": row},
                problem="not_finite",
            )
        return number
    if isinstance(value, (dict, list)):
        raise InvalidValue(
            f"row {row}: column '{column.name}' must be a scalar category",
            details={"column": column.name, "row": row},
            problem="not_a_category",
        )
    text = str(value)
    if len(text) > MAX_CELL_CHARS:
        raise _too_long(text, column, row)
    return text


# The JSON (and CSV) values a column's fast path takes whole: exact types, so a bool (an int
# subclass) or the missing marker sends the column down the per-cell path.
_NUMBER_TYPES = frozenset({float, int, str})
_CATEGORY_TYPES = frozenset({str, int, float, bool})


def validate_column(values: Sequence[Any], column: Column) -> list[Any]:
    """The column's values coerced as :func:`coerce_value` does, a column at a time: one pass of
    builtins over a column of plain values (most requests: the 100-row budget), and the
    per-cell path otherwise, which also raises the error naming the first offending row."""
    types = set(map(type, values))
    if column.type == "numeric" and types <= _NUMBER_TYPES and _longest(values, types) <= MAX_CELL_CHARS:
        try:
            numbers = list(map(float, values))
        except (ValueError, OverflowError):  # a word, or an int too large for a float
            numbers = None
        if numbers is not None and all(map(math.isfinite, numbers)):
            return numbers
    elif column.type != "numeric" and types <= _CATEGORY_TYPES:
        strings = list(map(str, values))
        if max(map(len, strings), default=0) <= MAX_CELL_CHARS:
            return strings
    return [coerce_value(value, column, row) for row, value in enumerate(values)]


def _longest(values: Sequence[Any], types: set[type]) -> int:
    """The longest string among ``values``: one pass of builtins when all are strings (a CSV
    column), a filter when some are, nothing when none is."""
    if str not in types:
        return 0
    return max(map(len, values if types == {str} else [v for v in values if type(v) is str]))


def parse_request(
    body: bytes, content_type: str | None, signature: Sequence[Column], *, max_rows: int = MAX_ROWS
) -> Batch:
    """Parse and validate a scoring request against the model's input signature."""
    if len(body) > MAX_BODY_BYTES:
        raise PayloadTooLarge(f"body is {len(body)} bytes; the limit is {MAX_BODY_BYTES}")
    media = (content_type or "").split(";")[0].strip().lower()
    expected = [c.name for c in signature]
    if media == "application/json":
        names, rows, probabilities = _parse_json(body, expected, max_rows)
    elif media == "text/csv":
        names, rows, probabilities = _parse_csv(body, expected, max_rows)
    else:
        raise UnsupportedMediaType(f"Content-Type must be application/json or text/csv, got {content_type!r}")
    if not rows:
        raise BadRequest("the request holds no rows")
    _check_rows(len(rows), max_rows)
    _check_names(names, expected)
    if len(set(names)) != len(names):
        raise BadRequest("duplicate column names", details={"columns": names})
    position = {n: i for i, n in enumerate(names)}
    by_column = list(zip(*rows, strict=True))  # every row has len(names) values: checked by each format
    columns: dict[str, list[Any]] = {}
    for column in signature:
        index = position.get(column.name)
        if index is None and not column.nullable:
            raise BadRequest(f"missing column '{column.name}'", details={"missing": column.name, "expected": expected})
        columns[column.name] = validate_column(by_column[index] if index is not None else [None] * len(rows), column)
    return Batch(columns=columns, rows=len(rows), return_probabilities=probabilities)
