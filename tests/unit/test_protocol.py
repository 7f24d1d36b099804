import json

import pytest

from mlrails.errors import BadRequest, PayloadTooLarge, UnsupportedMediaType
from mlrails.protocol import MAX_BODY_BYTES, Column, parse_request

SIGNATURE = [Column("tenure", "numeric"), Column("plan", "categorical"), Column("note", "categorical", nullable=True)]
ROWS = [{"tenure": 3, "plan": "basic"}, {"tenure": 12.5, "plan": "premium", "note": "vip"}]
EXPECTED = {"tenure": [3.0, 12.5], "plan": ["basic", "premium"], "note": [None, "vip"]}


def _json(document) -> bytes:
    return json.dumps(document).encode()


@pytest.mark.parametrize("body", [
    {"dataframe_records": ROWS},
    {"dataframe_split": {"columns": ["tenure", "plan", "note"], "data": [[3, "basic", None], [12.5, "premium", "vip"]]}},
    {"dataframe_split": {"index": [0, 1], "columns": ["tenure", "plan", "note"],
                         "data": [[3, "basic", None], [12.5, "premium", "vip"]]}},
    {"instances": ROWS},
    {"inputs": ROWS},
    {"inputs": {"tenure": [3, 12.5], "plan": ["basic", "premium"], "note": [None, "vip"]}},
])
def test_every_mlflow_format_gives_the_same_batch(body):
    batch = parse_request(_json(body), "application/json", SIGNATURE)
    assert batch.rows == 2
    assert batch.columns == EXPECTED


def test_csv_with_header():
    batch = parse_request(b"tenure,plan,note\n3,basic,\n12.5,premium,vip\n", "text/csv; charset=utf-8", SIGNATURE)
    assert batch.columns == EXPECTED


def test_probabilities_are_requested_through_params():
    batch = parse_request(_json({"dataframe_records": ROWS, "params": {"probabilities": True}}),
                          "application/json", SIGNATURE)
    assert batch.return_probabilities


@pytest.mark.parametrize(("body", "message", "details"), [
    ({"dataframe_records": [{"tenure": 1, "plan": "a", "colour": "red"}]}, "unknown column(s): colour",
     {"unknown": ["colour"]}),
    ({"dataframe_records": [{"plan": "a"}]}, "missing column 'tenure'", {"missing": "tenure"}),
    ({"dataframe_records": [{"plan": "a", "tenure": None}]}, "row 0: column 'tenure' must not be null",
     {"column": "tenure", "row": 0}),
    ({"dataframe_records": [{"tenure": 1, "plan": "a"}, {"tenure": "ten", "plan": "b"}]},
     "row 1: column 'tenure' must be a number, got 'ten'", {"column": "tenure", "row": 1}),
    ({"dataframe_records": [{"tenure": True, "plan": "a"}]}, "got a boolean", {"column": "tenure", "row": 0}),
    ({"dataframe_records": [{"tenure": "NaN", "plan": "a"}]}, "must be finite", {"column": "tenure", "row": 0}),
    ({"dataframe_records": [{"tenure": 1, "plan": ["a"]}]}, "must be a scalar", {"column": "plan", "row": 0}),
    ({"dataframe_records": []}, "holds no rows", None),
    ({"records": ROWS}, "exactly one of", {"found": ["records"]}),
    ({"dataframe_records": ROWS, "instances": ROWS}, "exactly one of", {"found": ["dataframe_records", "instances"]}),
    ({"dataframe_split": {"columns": ["tenure"], "data": [[1, 2]]}}, "row 0 must be a list of 1 values", {"row": 0}),
    ({"inputs": {"tenure": [1, 2], "plan": ["a"]}}, "different lengths", None),
])
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


@pytest.mark.parametrize("body, message", [
    (DEEP, "nested too deeply"),
    (b'{"dataframe_records": [{"tenure": 3, "plan": NaN}]}', "NaN, which is not JSON"),
    (b'{"dataframe_records": [{"tenure": Infinity, "plan": "basic"}]}', "Infinity, which is not JSON"),
    (b'{"dataframe_records": [{"tenure": -Infinity, "plan": "basic"}]}', "-Infinity, which is not JSON"),
    (b'{"dataframe_records": [{"tenure": 3, "plan": "bas\\ud800ic"}]}', "lone UTF-16 surrogate"),
    (b'{"dataframe_records": [{"tenure": 3, "plan": "\\udc00"}]}', "lone UTF-16 surrogate"),
    (b'{"dataframe_records": [{"tenure": 3, "plan": "\xff"}]}', "not valid JSON"),
    (b'{"dataframe_records": [{"tenure": 1' + b"0" * 5000 + b', "plan": "basic"}]}', "not valid JSON"),
])
def test_hostile_json_is_a_400_naming_the_problem(body, message):
    with pytest.raises(BadRequest, match=message):
        parse_request(body, "application/json", SIGNATURE)


def test_a_valid_surrogate_pair_is_text():
    batch = parse_request(b'{"dataframe_records": [{"tenure": 3, "plan": "\\ud83d\\ude00"}]}', "application/json",
                          SIGNATURE)
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
    from mlrails.feedback import parse_feedback

    for body in (b'{"items": ' + b"[" * 50_000 + b"]" * 50_000 + b"}",
                 b'{"prediction_id": "p-1", "label": NaN}', b'{"prediction_id": "p-\\ud800", "label": 1}'):
        with pytest.raises(BadRequest):
            parse_feedback(body)
