"""inference: the champion behind API Gateway (POST /invocations, /feedback; GET /ping, /version)."""

from __future__ import annotations

import json
import re

import pytest
from sklearn.dummy import DummyClassifier

import mlrails
from mlrails.adapters import manifests, s3
from mlrails.promotion import rails
from mlrails.serving import artifacts
from mlrails.serving.manifest import Manifest, current_key
from support.aws import api_call, api_event, keys
from support.samples import load_event

ROWS = [
    {"tenure_months": 14.2, "monthly_charges": 58.3, "support_calls": 1, "plan": "standard", "region": "north"},
    {"tenure_months": 2.5, "monthly_charges": 31.9, "support_calls": 4, "plan": "basic", "region": "east"},
    {"tenure_months": 40.0, "monthly_charges": 99.1, "support_calls": 0, "plan": "premium", "region": "west"},
]


def _expected_predictions(manifest: Manifest) -> list:
    import pandas as pd

    model = rails.load_model(manifest)
    return [p.item() for p in model.predict(pd.DataFrame(ROWS))]


def test_before_any_model_scoring_answers_503_and_ping_still_answers(inference, lambda_context):
    status, body = api_call(inference, load_event("inference_invocations_split"), lambda_context)
    assert status == 503
    assert body["error_code"] == "MODEL_NOT_READY" and "no model has been promoted yet" in body["message"]

    assert api_call(inference, load_event("inference_version"), lambda_context)[0] == 503
    assert api_call(inference, load_event("inference_ping"), lambda_context) == (200, {"status": "ok"})


@pytest.mark.parametrize(
    "event_name",
    [
        "inference_invocations_split",
        "inference_invocations_records",
        "inference_invocations_instances",
        "inference_invocations_inputs",
        "inference_invocations_csv",
    ],
)
def test_every_payload_format_is_scored_by_the_champion(event_name, champion, inference, lambda_context):
    status, body = api_call(inference, load_event(event_name), lambda_context)

    assert status == 200
    assert body["predictions"] == _expected_predictions(champion)
    assert len(set(body["prediction_ids"])) == 3
    # 128 random bits and a 128-bit HMAC of them (mlrails.serving.prediction_ids).
    assert all(re.fullmatch(r"[0-9a-f]{64}", i) for i in body["prediction_ids"])
    assert body["model_name"] == "churn-classifier" and body["model_version"] == "1"
    assert "probabilities" not in body


def test_probabilities_on_request(champion, inference, lambda_context):
    request = json.loads(load_event("inference_invocations_split")["body"]) | {"params": {"probabilities": True}}

    status, body = api_call(inference, api_event("inference_invocations_split", body=request), lambda_context)

    assert status == 200 and len(body["probabilities"]) == 3
    for row in body["probabilities"]:
        assert set(row) == {"0", "1"} and sum(row.values()) == pytest.approx(1.0)
    model = rails.load_model(champion)
    assert body["probabilities"][0]["1"] == pytest.approx(float(model.class_prior_[1]))


def _split(data: list, columns: list | None = None) -> dict:
    return {"dataframe_split": {"columns": columns or list(ROWS[0]), "data": data}}


@pytest.mark.parametrize(
    ("event_name", "body", "content_type", "status", "error_code", "details"),
    [
        pytest.param(
            "inference_unknown_column",
            None,
            None,
            400,
            "BAD_REQUEST",
            {"unknown": ["customer_id"], "expected": list(ROWS[0])},
            id="unknown-column",
        ),
        pytest.param("inference_bad_json", None, None, 400, "BAD_REQUEST", None, id="bad-json"),
        pytest.param(
            "inference_wrong_type",
            None,
            None,
            400,
            "BAD_REQUEST",
            {"column": "monthly_charges", "row": 1},
            id="wrong-type",
        ),
        pytest.param(
            "inference_invocations_records",
            {"dataframe_records": [ROWS[0], {k: v for k, v in ROWS[1].items() if k != "region"}]},
            None,
            400,
            "BAD_REQUEST",
            {"column": "region", "row": 1},
            id="missing-value-in-a-row",
        ),
        pytest.param(
            "inference_invocations_split",
            _split([r[:4] for r in [list(x.values()) for x in ROWS]], list(ROWS[0])[:4]),
            None,
            400,
            "BAD_REQUEST",
            {"missing": "region", "expected": list(ROWS[0])},
            id="missing-column",
        ),
        pytest.param(
            "inference_invocations_split",
            _split([[14.2, 58.3, True, "basic", "east"]]),
            None,
            400,
            "BAD_REQUEST",
            {"column": "support_calls", "row": 0},
            id="boolean-for-a-number",
        ),
        pytest.param(
            "inference_invocations_split",
            _split([list(ROWS[0].values()), [1.0, None, 2, "basic", "east"]]),
            None,
            400,
            "BAD_REQUEST",
            {"column": "monthly_charges", "row": 1},
            id="null",
        ),
        pytest.param(
            "inference_invocations_split",
            _split([list(ROWS[0].values()), [1.0, 2.0]]),
            None,
            400,
            "BAD_REQUEST",
            {"row": 1},
            id="short-row",
        ),
        pytest.param("inference_invocations_split", _split([]), None, 400, "BAD_REQUEST", None, id="empty-rows"),
        pytest.param(
            "inference_invocations_records",
            {"dataframe_records": []},
            None,
            400,
            "BAD_REQUEST",
            None,
            id="empty-records",
        ),
        pytest.param(
            "inference_invocations_split",
            {"dataframe_split": _split([])["dataframe_split"], "instances": []},
            None,
            400,
            "BAD_REQUEST",
            None,
            id="two-formats",
        ),
        pytest.param(
            "inference_invocations_csv",
            "tenure_months,monthly_charges,support_calls,plan,region\n1,2,3,basic,east\n4,lots,6,basic,west\n",
            None,
            400,
            "BAD_REQUEST",
            {"column": "monthly_charges", "row": 1},
            id="csv-bad-number",
        ),
        pytest.param(
            "inference_invocations_split",
            None,
            "text/plain",
            415,
            "UNSUPPORTED_MEDIA_TYPE",
            None,
            id="wrong-content-type",
        ),
    ],
)
def test_bad_requests_get_a_4xx_naming_field_and_row(
    event_name, body, content_type, status, error_code, details, champion, cloud, inference, lambda_context
):
    event = api_event(event_name, body=body, content_type=content_type)

    answer_status, answer = api_call(inference, event, lambda_context)

    assert answer_status == status, answer
    assert answer["error_code"] == error_code and answer["message"]
    if details is not None:
        assert answer["details"] == details
    assert keys(cloud.data_bucket, "capture/") == []


def test_error_messages_name_what_is_wrong(champion, inference, lambda_context):
    _, unknown = api_call(inference, load_event("inference_unknown_column"), lambda_context)
    _, wrong = api_call(inference, load_event("inference_wrong_type"), lambda_context)
    _, broken = api_call(inference, load_event("inference_bad_json"), lambda_context)
    _, empty = api_call(inference, api_event("inference_invocations_split", body=_split([])), lambda_context)

    assert unknown["message"] == "unknown column(s): customer_id"
    assert wrong["message"] == "row 1: column 'monthly_charges' must be a number, got 'n/a'"
    assert broken["message"].startswith("body is not valid JSON")
    assert empty["message"] == "the request holds no rows"


def test_feedback_is_stored_by_date(cloud, champion, inference, lambda_context):
    event = load_event("inference_feedback")

    status, body = api_call(inference, event, lambda_context)

    assert (status, body) == (200, {"accepted": 2})
    key = "feedback/date=2026-03-02/5d4c3b2a-1f0e-4d9c-8b7a-6f5e4d3c2b11.jsonl"
    assert keys(cloud.data_bucket, "feedback/") == [key]
    lines = [json.loads(line) for line in s3.get_bytes(s3.uri(cloud.data_bucket, key)).decode().splitlines()]
    sent = json.loads(event["body"])["items"]
    # With the credential that sent it, from API Gateway's request context.
    assert lines == [
        {**item, "received_at": "2026-03-02T15:02:40+00:00", "labelled_by": "api_key:f1e2d3c4b5"} for item in sent
    ]


def test_malformed_feedback_is_a_400_naming_the_item(cloud, inference, lambda_context):
    body = {
        "items": [
            {"prediction_id": "4f9c2e7a1b3d4c5e8f6a7b8c9d0e1f2a", "label": 1},
            {"prediction_id": "a0b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5"},
        ]
    }

    status, answer = api_call(inference, api_event("inference_feedback", body=body), lambda_context)

    assert status == 400 and answer["details"] == {"item": 1}
    assert keys(cloud.data_bucket, "feedback/") == []


def test_version_names_the_serving_champion(champion, inference, lambda_context):
    status, body = api_call(inference, load_event("inference_version"), lambda_context)

    assert status == 200
    assert body == {
        "model_name": "churn-classifier",
        "model_version": "1",
        "run_id": champion.run_id,
        "trained_at": champion.trained_at,
        "promoted_at": champion.promoted_at,
        "lock_sha256": None,  # trained here, not released from a lock
        "kit_version": mlrails.__version__,
    }


def test_new_champion_is_served_without_reloading_the_function(champion, cloud, inference, lambda_context):
    before = api_call(inference, load_event("inference_invocations_records"), lambda_context)[1]
    assert before["model_version"] == "1"
    # Promotion writes the model, then the manifest: emulate it with a model that always says "churn".
    always = DummyClassifier(strategy="constant", constant=1).fit([[0]] * 2, [0, 1])
    bucket, prefix = cloud.artifacts_bucket, "models/churn-classifier/v2/"
    model_uri = s3.uri(bucket, prefix + "model.skops")
    manifest = json.loads(champion.to_json()) | {
        "version": "2",
        "artifact_uri": model_uri,
        "previous_version": "1",
        "files": {model_uri: manifests.put_file(model_uri, artifacts.dumps(always))},
    }
    s3.put_bytes(s3.uri(bucket, current_key("churn-classifier")), json.dumps(manifest).encode(), "application/json")

    status, after = api_call(inference, load_event("inference_invocations_records"), lambda_context)

    assert status == 200 and after["model_version"] == "2" and after["predictions"] == [1, 1, 1]
    assert api_call(inference, load_event("inference_version"), lambda_context)[1]["model_version"] == "2"


def test_a_champion_that_fails_to_load_does_not_take_the_endpoint_down(champion, cloud, inference, lambda_context):
    assert api_call(inference, load_event("inference_invocations_records"), lambda_context)[0] == 200
    bucket, broken = cloud.artifacts_bucket, "models/churn-classifier/v3/model.skops"
    broken_uri = s3.uri(bucket, broken)
    manifest = json.loads(champion.to_json()) | {
        "version": "3",
        "artifact_uri": broken_uri,
        "files": {broken_uri: manifests.put_file(broken_uri, b"not skops")},
    }
    s3.put_bytes(s3.uri(bucket, current_key("churn-classifier")), json.dumps(manifest).encode(), "application/json")

    status, body = api_call(inference, load_event("inference_invocations_records"), lambda_context)

    assert status == 200 and body["model_version"] == "1"  # the last good champion keeps serving
    assert inference.champions().reload_failures == 1


@pytest.mark.parametrize("number", ["9" * 400, "9" * 5000])
def test_numbers_too_large_for_a_float_are_a_400(number, champion, inference, lambda_context):
    body = (
        '{"dataframe_records": [{"tenure_months": ' + number + ', "monthly_charges": 1, "support_calls": 1, '
        '"plan": "basic", "region": "east"}]}'
    )
    status, answer = api_call(inference, api_event("inference_invocations_records", body=body), lambda_context)
    assert status == 400 and answer["error_code"] == "BAD_REQUEST"
    assert len(answer["message"]) < 200  # the message quotes a preview, not the whole value


@pytest.mark.parametrize(
    "event_name, body",
    [
        ("inference_invocations_records", '{"dataframe_records": ' + "[" * 20_000 + "]" * 20_000 + "}"),
        ("inference_feedback", '{"items": ' + "[" * 20_000 + "]" * 20_000 + "}"),
        (
            "inference_invocations_records",
            '{"dataframe_records": [{"tenure_months": 1, "monthly_charges": 1, '
            '"support_calls": 1, "plan": NaN, "region": "east"}]}',
        ),
        ("inference_feedback", '{"prediction_id": "4f9c2e7a1b3d4c5e8f6a7b8c9d0e1f2a", "label": "\\udfff"}'),
    ],
    ids=["deep-invocations", "deep-feedback", "nan-category", "lone-surrogate-label"],
)
def test_hostile_json_is_a_json_400_on_both_post_routes(event_name, body, cloud, champion, inference, lambda_context):
    """Deep nesting was a 500 (RecursionError), a NaN category and a lone surrogate 200s."""
    status, answer = api_call(inference, api_event(event_name, body=body), lambda_context)
    assert status == 400 and answer["error_code"] == "BAD_REQUEST" and answer["message"]
    assert keys(cloud.data_bucket, "feedback/") == []
