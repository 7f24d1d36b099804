"""A Parquet item's columns are checked whole in Arrow and numpy when typed as the model takes
them: the same rows pass and are refused, with the same reasons, messages and values, as when
the same values are checked one by one as Python values (the API's rule)."""

from __future__ import annotations

import math

import numpy as np
import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st

from mlrails.batch.rows import Rows, arrow_column, validate
from mlrails.serving.protocol import MAX_CELL_CHARS, Column


def _maybe_null(values: st.SearchStrategy) -> st.SearchStrategy:
    return st.one_of(values, st.none())


# Each Arrow type a Parquet column may have, with values it holds: mostly plain ones (the fast
# path), now and then a null, NaN, an infinity or an overlong text (the per-value path).
_texts = st.one_of(
    st.text(max_size=6), st.sampled_from(["1.5", " 2 ", "ten", "NaN", ""]), st.just("x" * (MAX_CELL_CHARS + 1))
)
_typed = st.one_of(
    st.tuples(st.just(pa.int64()), st.lists(_maybe_null(st.integers(-(2**63), 2**63 - 1)), min_size=1, max_size=20)),
    st.tuples(st.just(pa.int32()), st.lists(_maybe_null(st.integers(-(2**31), 2**31 - 1)), min_size=1, max_size=20)),
    st.tuples(st.just(pa.uint64()), st.lists(_maybe_null(st.integers(0, 2**64 - 1)), min_size=1, max_size=20)),
    st.tuples(st.just(pa.float64()), st.lists(_maybe_null(st.floats()), min_size=1, max_size=20)),
    st.tuples(st.just(pa.float32()), st.lists(_maybe_null(st.floats(width=32)), min_size=1, max_size=20)),
    st.tuples(st.just(pa.bool_()), st.lists(_maybe_null(st.booleans()), min_size=1, max_size=20)),
    st.tuples(
        st.sampled_from([pa.string(), pa.large_string()]), st.lists(_maybe_null(_texts), min_size=1, max_size=20)
    ),
    st.tuples(st.just("dictionary"), st.lists(_maybe_null(_texts), min_size=1, max_size=20)),
)
_columns = st.builds(Column, st.just("x"), st.sampled_from(["numeric", "categorical"]), st.booleans())


def _arrow(kind, values: list) -> pa.Array:
    if kind == "dictionary":
        return pa.array(values, type=pa.string()).dictionary_encode()
    return pa.array(values, type=kind)


def _python(values) -> list:
    """A checked column as Python values: an array's NaN (a nullable number's null) as None."""
    if isinstance(values, pa.Array):
        return values.to_pylist()
    listed = values.tolist() if isinstance(values, np.ndarray) else list(values)
    return [None if isinstance(v, float) and math.isnan(v) else v for v in listed]


@settings(max_examples=1500, deadline=None)
@given(typed=_typed, column=_columns, first=st.integers(0, 10**6))
def test_an_arrow_column_checked_whole_answers_as_its_values_one_by_one(typed, column, first):
    kind, values = typed
    arrow = _arrow(kind, values)
    numbers = list(range(first, first + len(values)))
    ids = [f"c{i}" for i in range(len(values))]
    whole = validate(Rows({"x": arrow, "id": pa.array(ids)}, numbers, []), [column])
    one_by_one = validate(Rows({"x": arrow.to_pylist(), "id": ids}, numbers, []), [column])

    assert whole.numbers == one_by_one.numbers
    # Rows, reasons, messages and values alike (by repr: a refused NaN is not equal to itself).
    assert [repr(r) for r in whole.rejected] == [repr(r) for r in one_by_one.rejected]
    assert whole.batch.rows == one_by_one.batch.rows
    assert _python(whole.batch.columns["x"]) == _python(one_by_one.batch.columns["x"])
    assert _python(whole.extra["id"]) == _python(one_by_one.extra["id"])


def test_a_typed_clean_column_takes_the_whole_column_path_and_any_problem_the_per_value_one():
    numbers, text = Column("n", "numeric"), Column("c", "categorical", nullable=True)
    checked = arrow_column(pa.array([1, 2, 3], type=pa.int32()), numbers)
    assert checked.dtype == np.float64 and checked.tolist() == [1.0, 2.0, 3.0]
    assert arrow_column(pa.array(["a", None]), text).tolist() == ["a", None]
    # Each of these needs a value-by-value answer (a reason per row, or the API's str()).
    assert arrow_column(pa.array([1.0, None]), numbers) is None  # null where none may be
    assert arrow_column(pa.array([1.0, float("nan")]), numbers) is None
    assert arrow_column(pa.array([1.0, float("-inf")]), numbers) is None
    assert arrow_column(pa.array([True, False]), numbers) is None
    assert arrow_column(pa.array(["1.5", "2"]), numbers) is None  # numbers as text
    assert arrow_column(pa.array([1, 2]), text) is None  # str(1) is the API's category, not Arrow's
    assert arrow_column(pa.array(["x" * (MAX_CELL_CHARS + 1)]), text) is None


def test_a_refused_row_of_a_parquet_item_keeps_its_reason_and_its_other_values():
    rows = Rows(
        {"n": pa.array([1.0, float("inf"), None, 4.0]), "id": pa.array(["a", "b", "c", "d"])}, [10, 11, 12, 13], []
    )
    checked = validate(rows, [Column("n", "numeric")])
    assert checked.numbers == [10, 13] and _python(checked.batch.columns["n"]) == [1.0, 4.0]
    assert [(r.row, r.reason, r.values) for r in checked.rejected] == [
        (11, "n: not_finite", {"n": float("inf"), "id": "b"}),
        (12, "n: missing", {"n": None, "id": "c"}),
    ]
    assert checked.extra["id"].to_pylist() == ["a", "d"]
