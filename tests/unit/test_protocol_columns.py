"""The column-at-a-time validation answers exactly as the per-cell rule: the same values, or
the same error (message and details, first offending row) for every column it is given."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from mlrails.errors import BadRequest
from mlrails.serving.protocol import MISSING, Column, coerce_value, validate_column

cells = st.one_of(
    st.none(),
    st.just(MISSING),
    st.booleans(),
    st.integers(),
    st.integers(min_value=10**308),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=8),
    st.sampled_from(["1.5", " 2 ", "1_000", "1e309", "NaN", "-inf", "", "ten"]),
    st.lists(st.integers(), max_size=2),
    st.dictionaries(st.text(max_size=2), st.integers(), max_size=2),
)
# Mostly plain columns (the fast paths), with now and then one odd cell anywhere in them.
plain = st.one_of(
    st.lists(
        st.one_of(st.integers(-(10**6), 10**6), st.floats(allow_nan=False, allow_infinity=False)),
        min_size=1,
        max_size=30,
    ),
    st.lists(st.text(max_size=6), min_size=1, max_size=30),
)
columns = st.one_of(
    st.lists(cells, min_size=1, max_size=30),
    st.tuples(plain, st.integers(0, 29), cells).map(lambda t: [*t[0][: t[1]], t[2], *t[0][t[1] :]]),
    plain,
)
signatures = st.builds(Column, st.just("x"), st.sampled_from(["numeric", "categorical"]), st.booleans())


def _outcome(call):
    try:
        return "ok", call()
    except BadRequest as error:
        return "error", (type(error), error.message, error.details)


@settings(max_examples=3000, deadline=None)
@given(values=columns, column=signatures)
def test_a_column_at_a_time_answers_as_cell_by_cell(values, column):
    per_cell = _outcome(lambda: [coerce_value(value, column, row) for row, value in enumerate(values)])
    at_once = _outcome(lambda: validate_column(tuple(values), column))

    assert at_once == per_cell
    if per_cell[0] == "ok":  # and every number is a float, every category a str, as before
        assert [type(v) for v in at_once[1]] == [type(v) for v in per_cell[1]]
