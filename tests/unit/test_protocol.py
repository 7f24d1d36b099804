import json

import pytest

from mlrails.errors import BadRequest, PayloadTooLarge, UnsupportedMediaType
from mlrails.serving.protocol import MAX_BODY_BYTES, MAX_CELL_CHARS, MAX_COLUMNS, MAX_ROWS, Column, parse_request

SIGNATURE = [Column("tenure", "numeric"), Column("plan", "categorical"), Column("note", "categorical", nullable=True)]
ROWS = [{"tenure": 3, "plan": "basic"}, {"tenure": 12.5, "plan": "premium", "note": "vip"}]
EXPECTED = {"tenure": [3.0, 12.5], "plan": ["basic", "premium"], "note": [None, "vip"]}


def _json(document) -> bytes:
    return json.dumps(document).encode()


@pytest.mark.parametrize(
    "body",
    [
        {"dataframe_records": ROWS},
        {
            "dataframe_split": {
                "columns": ["tenure", "plan", "note"],
                "data": [[3, "basic", None], [12.5, "premium", "vip"]],
            }
        },
        {
            "dataframe_split": {
                "index": [0, 1],
                "columns": ["tenure", "plan", "note"],
                "data": [[3, "basic", None], [12.5, "premium", "vip"]],
            }
        },
        {"instances": ROWS},
        {"inputs": ROWS},
        {"inputs": {"tenure": [3, 12.5], "plan": ["basic", "premium"], "note": [None, "vip"]}},
    ],
)
def test_every_mlflow_format_gives_the_same_batch(body):
    batch = parse_request(_json(body), "application/json", SIGNATURE)
    assert batch.rows == 2
    assert batch.columns == EXPECTED


def test_csv_with_header():
    batch = parse_request(b"tenure,plan,note\n3,basic,\n12.5,premium,vip\n", "text/csv; charset=utf-8", SIGNATURE)
    assert batch.columns == EXPECTED


def test_probabilities_are_requested_through_params():
    batch = parse_request(
        _json({"dataframe_records": ROWS, "params": {"probabilities": True}}), "application/json", SIGNATURE
    )
    assert batch.return_probabilities


@pytest.mark.parametrize(
    ("body", "message", "details"),
    [
        (
            {"dataframe_records": [{"tenure": 1, "plan": "a", "colour": "red"}]},
            "unknown column(s): colour",
            {"unknown": ["colour"]},
        ),
        ({"dataframe_records": [{"plan": "a"}]}, "missing column 'tenure'", {"missing": "tenure"}),
        (
            {"dataframe_records": [{"plan": "a", "tenure": None}]},
            "row 0: column 'tenure' must not be null",
            {"column": "tenure", "row": 0},
        ),
        (
            {"dataframe_records": [{"tenure": 1, "plan": "a"}, {"tenure": "ten", "plan": "b"}]},
            "row 1: column 'tenure' must be a number, got 'ten'",
            {"column": "tenure", "row": 1},
        ),
        ({"dataframe_records": [{"tenure": True, "plan": "a"}]}, "got a boolean", {"column": "tenure", "row": 0}),
        ({"dataframe_records": [{"tenure": "NaN", "plan": "a"}]}, "must be finite", {"column": "tenure", "row": 0}),
        ({"dataframe_records": [{"tenure": 1, "plan": ["a"]}]}, "must be a scalar", {"column": "plan", "row": 0}),
        ({"dataframe_records": []}, "holds no rows", None),
        ({"records": ROWS}, "exactly one of", {"found": ["records"]}),
        (
            {"dataframe_records": ROWS, "instances": ROWS},
            "exactly one of",
            {"found": ["dataframe_records", "instances"]},
        ),
        (
            {"dataframe_split": {"columns": ["tenure"], "data": [[1, 2]]}},
            "row 0 must be a list of 1 values",
            {"row": 0},
        ),
        ({"inputs": {"tenure": [1, 2], "plan": ["a"]}}, "different lengths", None),
    ],
)
def test_bad_bodies_are_400s_that_name_the_problem(body, message, details):
    with pytest.raises(BadRequest) as error:
        parse_request(_json(body), "application/json", SIGNATURE)
    assert error.value.status == 400
    assert message in error.value.message
    if details is not None:
        assert details.items() <= error.value.details.items()


def test_not_json_and_not_an_object():
    with pytest.raises(BadRequest, match="not valid JSON"):
        parse_request(b"{oops", "application/json", SIGNATURE)
    with pytest.raises(BadRequest, match="JSON object"):
        parse_request(b"[1, 2]", "application/json", SIGNATURE)


def test_content_type_size_and_row_limits():
    with pytest.raises(UnsupportedMediaType) as error:
        parse_request(_json({"inputs": ROWS}), None, SIGNATURE)
    assert error.value.status == 415
    with pytest.raises(PayloadTooLarge) as error:
        parse_request(b" " * (MAX_BODY_BYTES + 1), "application/json", SIGNATURE)
    assert error.value.status == 413
    with pytest.raises(PayloadTooLarge, match="3 rows exceed the limit of 2"):
        parse_request(_json({"inputs": ROWS + ROWS[:1]}), "application/json", SIGNATURE, max_rows=2)


def test_csv_row_width_is_checked():
    with pytest.raises(BadRequest, match="CSV row 0 has 2 values, the header has 3"):
        parse_request(b"tenure,plan,note\n1,a\n", "text/csv", SIGNATURE)


# Hostile bodies: each is a 400 (or a 413) that names the problem, in time linear in the body;
# before, the first was a 500 (RecursionError), the NaN category and the lone surrogate 200s.
DEEP = b'{"dataframe_records": ' + b"[" * 50_000 + b"]" * 50_000 + b"}"


@pytest.mark.parametrize(
    "body, message",
    [
        (DEEP, "nested too deeply"),
        (b'{"dataframe_records": [{"tenure": 3, "plan": NaN}]}', "NaN, which is not JSON"),
        (b'{"dataframe_records": [{"tenure": Infinity, "plan": "basic"}]}', "Infinity, which is not JSON"),
        (b'{"dataframe_records": [{"tenure": -Infinity, "plan": "basic"}]}', "-Infinity, which is not JSON"),
        (b'{"dataframe_records": [{"tenure": 3, "plan": "bas\\ud800ic"}]}', "lone UTF-16 surrogate"),
        (b'{"dataframe_records": [{"tenure": 3, "plan": "\\udc00"}]}', "lone UTF-16 surrogate"),
        (b'{"dataframe_records": [{"tenure": 3, "plan": "\xff"}]}', "not valid JSON"),
        (b'{"dataframe_records": [{"tenure": 1' + b"0" * 5000 + b', "plan": "basic"}]}', "not valid JSON"),
    ],
)
def test_hostile_json_is_a_400_naming_the_problem(body, message):
    with pytest.raises(BadRequest, match=message):
        parse_request(body, "application/json", SIGNATURE)


def test_a_valid_surrogate_pair_is_text():
    batch = parse_request(
        b'{"dataframe_records": [{"tenure": 3, "plan": "\\ud83d\\ude00"}]}', "application/json", SIGNATURE
    )
    assert batch.columns["plan"] == ["\N{GRINNING FACE}"]


def test_many_distinct_keys_are_refused_as_unknown_columns_before_rows_are_built():
    """10,000 one-key records with distinct keys (~120 KB): the names were gathered with a list
    lookup per key (quadratic, ~34 s), then every record was expanded to every name."""
    body = _json({"dataframe_records": [{f"k{i}": 1} for i in range(10_000)]})
    with pytest.raises(BadRequest, match="unknown column") as refused:
        parse_request(body, "application/json", SIGNATURE)
    assert refused.value.details["unknown"][:2] == ["k0", "k1"] and refused.value.details["unknown_count"] == 10_000
    assert len(refused.value.details["unknown"]) == 20 and "and 9980 more" in refused.value.message


def test_too_many_records_are_refused_before_rows_are_built():
    with pytest.raises(PayloadTooLarge, match="10001 rows exceed the limit of 10000"):
        parse_request(_json({"dataframe_records": [{}] * 10_001}), "application/json", SIGNATURE)


def test_feedback_refuses_the_same_hostile_json():
    from mlrails.feedback.intake import parse_feedback

    for body in (
        b'{"items": ' + b"[" * 50_000 + b"]" * 50_000 + b"}",
        b'{"prediction_id": "p-1", "label": NaN}',
        b'{"prediction_id": "p-\\ud800", "label": 1}',
    ):
        with pytest.raises(BadRequest):
            parse_feedback(body)


# Explicit limits, each a 400 that names it: keys per record and columns per request
# (MAX_COLUMNS), characters per value (MAX_CELL_CHARS). Before, a wide record or header was
# only refused as unknown columns, and a long value was served.
WIDE = [f"k{i}" for i in range(MAX_COLUMNS + 1)]


@pytest.mark.parametrize(
    "body, content_type, message",
    [
        (
            _json({"dataframe_records": [{"tenure": 1, "plan": "a"}, dict.fromkeys(WIDE, 1)]}),
            "application/json",
            f"'dataframe_records' record 1 has {MAX_COLUMNS + 1} keys; the limit is {MAX_COLUMNS} keys per record",
        ),
        (
            _json({"instances": [dict.fromkeys(WIDE, 1)]}),
            "application/json",
            f"'instances' record 0 has {MAX_COLUMNS + 1} keys; the limit is {MAX_COLUMNS} keys per record",
        ),
        (
            _json({"dataframe_split": {"columns": WIDE, "data": []}}),
            "application/json",
            f"'dataframe_split.columns' has {MAX_COLUMNS + 1} columns; the limit is {MAX_COLUMNS} per request",
        ),
        (
            _json({"inputs": {name: [1] for name in WIDE}}),
            "application/json",
            f"'inputs' has {MAX_COLUMNS + 1} columns; the limit is {MAX_COLUMNS} per request",
        ),
        (
            ",".join(WIDE).encode() + b"\n" + b"1," * MAX_COLUMNS + b"1\n",
            "text/csv",
            f"the CSV header has {MAX_COLUMNS + 1} columns; the limit is {MAX_COLUMNS} per request",
        ),
    ],
)
def test_too_many_keys_or_columns_is_a_400_naming_the_limit(body, content_type, message):
    with pytest.raises(BadRequest) as refused:
        parse_request(body, content_type, SIGNATURE)
    assert refused.value.status == 400 and refused.value.message == message
    assert refused.value.details["limit"] == MAX_COLUMNS


@pytest.mark.parametrize(
    "body, content_type, column",
    [
        (
            _json(
                {"dataframe_records": [{"tenure": 1, "plan": "a"}, {"tenure": 2, "plan": "x" * (MAX_CELL_CHARS + 1)}]}
            ),
            "application/json",
            "plan",
        ),
        (
            _json(
                {
                    "dataframe_split": {
                        "columns": ["tenure", "plan", "note"],
                        "data": [[1, "a", None], [2, "b", 7 * 10**MAX_CELL_CHARS]],
                    }
                }
            ),
            "application/json",
            "note",
        ),  # a category as text: a 1001-digit integer
        (b"tenure,plan\n1,a\n" + b"0" * MAX_CELL_CHARS + b"1,b\n", "text/csv", "tenure"),  # a number, but 1001 digits
    ],
)
def test_a_value_over_the_cell_limit_is_a_400_naming_it(body, content_type, column):
    with pytest.raises(BadRequest) as refused:
        parse_request(body, content_type, SIGNATURE)
    assert refused.value.message == (
        f"row 1: column '{column}' holds a value of {MAX_CELL_CHARS + 1} characters; "
        f"the limit is {MAX_CELL_CHARS} per value"
    )
    assert refused.value.details == {"column": column, "row": 1, "limit": MAX_CELL_CHARS}


def test_a_value_at_the_cell_limit_is_served():
    batch = parse_request(
        _json({"dataframe_records": [{"tenure": 1, "plan": "x" * MAX_CELL_CHARS}]}), "application/json", SIGNATURE
    )
    assert batch.columns["plan"] == ["x" * MAX_CELL_CHARS]


def test_csv_is_read_only_up_to_the_row_limit():
    """Reading stops at the row past the limit: the rows after it, here one too short, are
    never checked (before, every row was read and checked first, ~0.7 s for a 5 MB body)."""
    body = b"tenure,plan\n" + b"1,a\n" * MAX_ROWS + b"1,a\n" + b"1\n"
    with pytest.raises(PayloadTooLarge, match=f"more than {MAX_ROWS} rows; the limit is {MAX_ROWS} per request"):
        parse_request(body, "text/csv", SIGNATURE)
    assert parse_request(b"tenure,plan\n" + b"1,a\n" * MAX_ROWS + b"\n\n", "text/csv", SIGNATURE).rows == MAX_ROWS


def test_blank_csv_lines_count_toward_the_row_limit():
    with pytest.raises(PayloadTooLarge):
        parse_request(b"tenure,plan\n" + b"\n" * 3 + b"1,a\n", "text/csv", SIGNATURE, max_rows=3)
    assert parse_request(b"tenure,plan\n\n1,a\n", "text/csv", SIGNATURE, max_rows=3).rows == 1


def test_feedback_ids_and_labels_have_the_cell_limit():
    from mlrails.feedback.intake import parse_feedback

    assert parse_feedback(_json({"prediction_id": "p" * MAX_CELL_CHARS, "label": 1}))
    for item in (
        {"prediction_id": "p" * (MAX_CELL_CHARS + 1), "label": 1},
        {"prediction_id": "p-1", "label": "y" * (MAX_CELL_CHARS + 1)},
    ):
        with pytest.raises(BadRequest, match=f"characters; the limit is {MAX_CELL_CHARS}"):
            parse_feedback(_json(item))


def test_feedback_has_the_body_limit():
    from mlrails.feedback.intake import parse_feedback

    with pytest.raises(PayloadTooLarge, match=f"the limit is {MAX_BODY_BYTES}") as refused:
        parse_feedback(b'{"items": [' + b" " * MAX_BODY_BYTES + b"]}")
    assert refused.value.status == 413
