"""Large and deep bodies, generated: every format of /invocations and /feedback gets bodies up
to (and just over) the body limit, built by repeating a generated record, row or line, and
values nested from a few levels to far past the parser's recursion limit. Whatever arrives,
the parser answers with a typed 4xx (:class:`BadRequest` or a subclass) or a batch, never
another exception. tests/aws/test_inference_fuzz.py throws small malformed bodies at the
whole handler; bench/parse.py times the worst bodies at the limit."""

from __future__ import annotations

import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mlrails.errors import BadRequest
from mlrails.feedback.intake import parse_feedback
from mlrails.serving.protocol import MAX_BODY_BYTES, Column, parse_request

SIGNATURE = [Column("tenure", "numeric"), Column("plan", "categorical"), Column("note", "categorical", nullable=True)]
NAMES = [c.name for c in SIGNATURE]

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(10**30), 10**30),
    st.floats(allow_nan=False),
    st.text(max_size=6),
    st.sampled_from(["basic", "1.5", "", "\ud83d\ude00"]),
)
names = st.one_of(st.sampled_from(NAMES), st.text(max_size=6))
records = st.dictionaries(names, scalars, max_size=4)
# What a body repeats until it is large: (head, one unit, separator, tail) per format; the
# unit is text so that a raw fragment (mostly not JSON) can stand in for a well-formed one.
json_units = st.one_of(
    records.map(json.dumps),
    st.lists(scalars, max_size=4).map(json.dumps),
    scalars.map(json.dumps),
    st.text(max_size=12),
)
csv_units = st.one_of(
    st.lists(st.one_of(st.text(max_size=5), st.just("1.5")), min_size=0, max_size=4).map(",".join), st.text(max_size=12)
)
feedback_units = st.one_of(
    st.fixed_dictionaries({"prediction_id": st.text(max_size=8), "label": scalars}).map(json.dumps), json_units
)

FRAMES = {  # format -> (head, separator, tail, units)
    "dataframe_records": ('{"dataframe_records": [', ",", "]}", json_units),
    "instances": ('{"instances": [', ",", "]}", json_units),
    "inputs records": ('{"inputs": [', ",", "]}", json_units),
    "inputs mapping": ('{"inputs": {"tenure": [', ",", '], "plan": ["a"]}}', json_units),
    "dataframe_split": ('{"dataframe_split": {"columns": ["tenure", "plan"], "data": [', ",", "]}}", json_units),
    "split columns": ('{"dataframe_split": {"data": [], "columns": [', ",", "]}}", json_units),
    "csv": ("tenure,plan,note\n", "\n", "\n", csv_units),
    "feedback items": ('{"items": [', ",", "]}", feedback_units),
    "feedback one": ('{"prediction_id": "p-1", "label": ', "", "}", json_units),
}
# Small, half the limit, a few bytes under it, and one byte over (a 413 before any parsing).
SIZES = st.sampled_from([200, 20_000, MAX_BODY_BYTES // 2, MAX_BODY_BYTES - 64, MAX_BODY_BYTES + 1])
DEPTHS = st.sampled_from([0, 0, 3, 900, 1_100, 50_000, 1_000_000])


class Body(bytes):
    """A body that a failing example prints as its format, size and first bytes, not 5 MB."""

    frame = ""

    def __repr__(self) -> str:
        return f"<{self.frame}: {len(self):,} bytes, {bytes(self[:80])!r}...>"


@st.composite
def large_bodies(draw) -> Body:
    frame = draw(st.sampled_from(sorted(FRAMES)))
    head, sep, tail, units = FRAMES[frame]
    unit = draw(units)
    depth = draw(DEPTHS)
    opener, closer = draw(st.sampled_from([("[", "]"), ('{"a": ', "}")]))
    piece = (opener * depth + unit + closer * depth).encode("utf-8", "surrogatepass")
    size = draw(SIZES)
    room = size - len(head) - len(tail)
    count = max(1, room // (len(piece) + len(sep))) if piece else 1
    body = head.encode() + sep.encode().join([piece] * count) + tail.encode()
    if size > MAX_BODY_BYTES and len(body) <= MAX_BODY_BYTES:  # the one-byte-over case, whatever the unit
        body += b" " * (MAX_BODY_BYTES + 1 - len(body))
    case = Body(body)
    case.frame = frame
    return case


def _outcome(call) -> str:
    try:
        call()
    except BadRequest as error:  # every refusal is typed and a 4xx, with a message
        assert 400 <= error.status < 500 and error.message, error
        return f"{error.status}"
    return "ok"


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(body=large_bodies())
def test_large_and_deep_bodies_get_a_typed_4xx_or_a_batch(body: Body):
    frame = body.frame
    if frame.startswith("feedback"):
        outcome = _outcome(lambda: parse_feedback(body))
    else:
        content_type = "text/csv" if frame == "csv" else "application/json"
        outcome = _outcome(lambda: parse_request(body, content_type, SIGNATURE))
    if len(body) > MAX_BODY_BYTES:  # refused before parsing, /feedback too (it parsed any size)
        assert outcome == "413"
