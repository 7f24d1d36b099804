"""Scoring one shard with the champion, through the API's serving code (ONNX when compiled).

Every item's rows are read, validated row by row (:mod:`mlrails.batch.rows`) and predicted by
:func:`mlrails.serving.champion.predict`; the shard writes one Parquet part of scored rows and,
when some were refused, one JSON Lines file of them with their reasons, both at keys fixed by
the shard's items: a rerun overwrites them, and so its drift counts (:mod:`mlrails.batch.drift`).
Any error leaves this function (the Distributed
Map counts a failed shard against its tolerance; the local runner records it).
"""

from __future__ import annotations

import io
import json
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import Any

from mlrails.adapters import s3
from mlrails.batch import drift
from mlrails.batch import rows as row_io
from mlrails.batch.items import Item, Shard
from mlrails.serving.champion import Champion
from mlrails.serving.predictors import Scores

PREDICTION = "prediction"
PROBABILITY = "probability_"  # one column per class: probability_<class>
SOURCE = "source_uri"
ROW = "row_number"  # the row's number in its object (Parquet: from the file's first row)


def _ours(name: str) -> bool:
    """Whether an output column of this name is the shard's own (an input column so named is left out)."""
    return name in (PREDICTION, SOURCE, ROW) or name.startswith(PROBABILITY)


@dataclass(frozen=True)
class ShardResult:
    """What one shard did: its counts, where its output went, and whether it failed."""

    shard_id: str
    items: int
    rows_in: int = 0
    rows_scored: int = 0
    rejected: dict[str, int] = field(default_factory=dict)  # rows refused, by reason
    model_version: str | None = None
    part_uri: str | None = None
    rejected_uri: str | None = None
    failed: bool = False
    error: str | None = None
    # Wall time scoring the shard (read, validate, predict, write), the champion already
    # loaded: what a shard invocation bills beyond its cold start.
    seconds: float | None = None

    @property
    def rows_rejected(self) -> int:
        """Rows refused, whatever the reason."""
        return sum(self.rejected.values())

    def to_dict(self) -> dict[str, Any]:
        """The result as the summary holds it (and a Distributed Map's result writer would)."""
        return asdict(self)


def _read(item: Item, champion: Champion) -> row_io.Rows:
    if item.format == "parquet":
        return row_io.read_parquet(s3.RangeReader(item.uri), item.row_group or 0)
    body = s3.get_bytes(item.uri)
    return row_io.read_csv(body) if item.format == "csv" else row_io.read_jsonl(body)


def _scored(item: Item, validated: row_io.Validated, champion: Champion, classes: list[str]) -> dict[str, Any]:
    """The item's scored rows, by output column (lists, numpy or Arrow arrays, as they came)."""
    batch = validated.batch
    columns: dict[str, Any] = {c.name: batch.columns[c.name] for c in champion.signature}
    # Columns outside the signature (an id) ride along, unless one bears a name of ours.
    columns.update({name: values for name, values in validated.extra.items() if not _ours(name)})
    # The model's arrays whole, not the API's JSON-native values row by row.
    scores = champion.predictor.scores(batch) if batch.rows else Scores([])
    columns[PREDICTION] = scores.predictions
    for name in classes:
        known = scores.probabilities is not None and name in scores.classes
        columns[PROBABILITY + name] = scores.probabilities[:, scores.classes.index(name)] if known else None
    columns[SOURCE] = _repeated(item.uri, batch.rows)
    columns[ROW] = validated.numbers
    return columns


def _repeated(text: str, count: int):
    """``count`` times ``text`` as an Arrow string array, built in Arrow: converting a list of a
    million references to one string took Arrow over a second here."""
    import pyarrow as pa

    return pa.repeat(pa.scalar(text, type=pa.string()), count)


def _part(columns: list[dict[str, Any]], champion: Champion, classes: list[str]) -> bytes:
    import pyarrow as pa
    import pyarrow.parquet as pq

    inputs = [c.name for c in champion.signature]
    extra = list(dict.fromkeys(n for part in columns for n in part if n not in inputs and not _ours(n)))
    names = inputs + extra + [PREDICTION] + [PROBABILITY + n for n in classes] + [SOURCE, ROW]
    types = {c.name: pa.float64() if c.type == "numeric" else pa.string() for c in champion.signature}
    types.update({PROBABILITY + n: pa.float64() for n in classes})
    types[SOURCE], types[ROW] = pa.string(), pa.int64()
    lengths = [len(part[ROW]) for part in columns]
    # The prediction's type is the model's (labels or values): inferred from the values.
    arrays = [_column([part.get(name) for part in columns], lengths, types.get(name), name in inputs) for name in names]
    table = pa.Table.from_arrays(arrays, names=names)
    # Dictionary pages for text only (categories, the source): numbers rarely repeat, and
    # trying a dictionary on every number column first costs the write about threefold.
    text = [field.name for field in table.schema if pa.types.is_string(field.type)]
    buffer = io.BytesIO()
    pq.write_table(table, buffer, use_dictionary=text)
    return buffer.getvalue()


def _column(chunks: list[Any], lengths: list[int], kind, model_input: bool):
    """One output column from each item's values, as Arrow chunks when the items agree on its
    type (no copy), else typed as one list (an item without the column has None there).
    ``model_input``: a checked input column, where NaN stands for a null number."""
    import pyarrow as pa

    pieces = [
        _array(values if values is not None else [None] * length, kind, model_input)
        for values, length in zip(chunks, lengths, strict=True)
        if length
    ]
    if len({piece.type for piece in pieces}) == 1:
        return pa.chunked_array(pieces)
    if not pieces:
        return pa.array([], type=kind or pa.null())
    # Items typed apart (a number here, a word there, an id missing from one): as one list.
    values = [v for chunk, length in zip(chunks, lengths, strict=True) for v in _values(chunk, length)]
    return _array(values, kind, model_input)


def _values(chunk: Any, length: int) -> list:
    if chunk is None:
        return [None] * length
    return chunk if isinstance(chunk, list) else chunk.tolist() if hasattr(chunk, "tolist") else chunk.to_pylist()


def _array(values: Any, kind, model_input: bool = False):
    """A column as Arrow holds it: typed, or inferred (an Arrow array as read); values of no
    one type (JSON Lines extras: a number here, a word there) are kept as their JSON text."""
    import pyarrow as pa

    if isinstance(values, pa.Array):
        return values.cast(kind) if kind is not None else _plain(values)
    try:
        return pa.array(values, type=kind, from_pandas=model_input)
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        texts = [None if v is None else json.dumps(v, default=str) for v in _values(values, len(values))]
        return pa.array(texts, type=pa.string())


def _plain(values):
    """An Arrow column typed as its Python values would be (what reading any format gives, so
    that parts agree): integers as int64, floats as float64, text as string; other types (and
    integers past int64) through their Python values."""
    import pyarrow as pa

    if pa.types.is_dictionary(values.type):
        values = values.dictionary_decode()
    kind = values.type
    plain = {pa.types.is_integer: pa.int64(), pa.types.is_floating: pa.float64(), pa.types.is_boolean: pa.bool_()}
    plain |= {pa.types.is_string: pa.string(), pa.types.is_large_string: pa.string()}
    target = next((type_ for test, type_ in plain.items() if test(kind)), None)
    try:
        return values.cast(target) if target is not None else pa.array(values.to_pylist())
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        return _array(values.to_pylist(), None)


def score_shard(shard: Shard, output_prefix: str, champion: Champion) -> ShardResult:
    """Score ``shard`` with ``champion``; write its part (and refused rows) under ``output_prefix``
    (an ``s3://`` URI ending in ``/``). Raises on any failure: nothing is half-counted."""
    started = time.perf_counter()
    classes = [str(c) for c in champion.manifest.classes or []]
    parts: list[dict[str, Any]] = []
    rejected_lines: list[bytes] = []
    reasons: Counter[str] = Counter()
    rows_in = 0
    for item in shard.items:
        read = _read(item, champion)
        validated = row_io.validate(read, champion.signature)
        rows_in += read.count
        parts.append(_scored(item, validated, champion, classes))
        for rejection in validated.rejected:
            reasons[rejection.reason] += 1
            line = {"source_uri": item.uri, **asdict(rejection)}
            rejected_lines.append(json.dumps(line, sort_keys=True, default=str).encode())
    part_uri = shard.part_key(output_prefix)
    s3.put_bytes(part_uri, _part(parts, champion, classes), "application/vnd.apache.parquet")
    drift.write_partial(shard, output_prefix, champion.manifest, parts, PREDICTION)
    rejected_uri = shard.rejected_key(output_prefix)
    if rejected_lines:
        s3.put_bytes(rejected_uri, b"\n".join(rejected_lines) + b"\n", "application/x-ndjson")
    else:
        s3.delete(rejected_uri)  # a rerun that refuses nothing leaves no earlier run's refusals
    return ShardResult(
        shard_id=shard.id,
        items=len(shard.items),
        rows_in=rows_in,
        rows_scored=rows_in - sum(reasons.values()),
        rejected=dict(sorted(reasons.items())),
        model_version=champion.manifest.version,
        part_uri=part_uri,
        rejected_uri=rejected_uri if rejected_lines else None,
        seconds=round(time.perf_counter() - started, 3),
    )
