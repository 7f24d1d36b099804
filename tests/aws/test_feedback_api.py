"""POST /feedback takes labels only through the feedback API's own credential, item by item:
an id this service did not issue or a label outside the task's domain is refused (422, per
item), the others are stored with the credential that sent them."""

from __future__ import annotations

import json

from mlrails.adapters import s3
from support.aws import api_call, api_event, keys
from support.samples import load_event


def _served(inference, lambda_context, rows: int = 3) -> list[str]:
    status, answer = api_call(inference, load_event("inference_invocations_records"), lambda_context)
    assert status == 200
    return answer["prediction_ids"][:rows]


def _feedback(items: list[dict], **identity) -> dict:
    event = api_event("inference_feedback", body={"items": items})
    event["requestContext"]["identity"].update(identity)
    return event


def _stored(cloud) -> list[dict]:
    return [
        json.loads(line)
        for key in keys(cloud.data_bucket, "feedback/")
        for line in s3.get_bytes(s3.uri(cloud.data_bucket, key)).splitlines()
    ]


def test_the_scoring_api_and_its_key_cannot_label(champion, cloud, inference, lambda_context):
    ids = _served(inference, lambda_context)
    scoring = load_event("inference_invocations_records")["requestContext"]
    event = _feedback([{"prediction_id": ids[0], "label": 1}], apiKeyId=scoring["identity"]["apiKeyId"])
    event["requestContext"]["apiId"] = scoring["apiId"]  # what a /feedback route on the scoring API would send

    status, answer = api_call(inference, event, lambda_context)

    assert status == 403 and answer["error_code"] == "FORBIDDEN"
    assert keys(cloud.data_bucket, "feedback/") == []


def test_a_request_without_a_credential_cannot_label(champion, cloud, inference, lambda_context):
    ids = _served(inference, lambda_context)
    status, answer = api_call(
        inference, _feedback([{"prediction_id": ids[0], "label": 1}], apiKeyId=None), lambda_context
    )
    assert status == 403 and answer["error_code"] == "FORBIDDEN"
    assert keys(cloud.data_bucket, "feedback/") == []


def test_with_iam_the_caller_arn_is_the_credential(champion, cloud, inference, lambda_context):
    ids = _served(inference, lambda_context)
    caller = "arn:aws:sts::123456789012:assumed-role/mlrails-labeller/crm-export"
    event = _feedback([{"prediction_id": ids[0], "label": 0}], apiKeyId=None, apiKey=None, userArn=caller)

    assert api_call(inference, event, lambda_context) == (200, {"accepted": 1})
    assert [item["labelled_by"] for item in _stored(cloud)] == [f"iam:{caller}"]


def test_a_credential_in_the_body_is_not_the_credential(champion, cloud, inference, lambda_context):
    ids = _served(inference, lambda_context)
    event = _feedback([{"prediction_id": ids[0], "label": 1, "labelled_by": "api_key:forged"}])
    status, answer = api_call(inference, event, lambda_context)
    assert status == 400 and answer["details"] == {"item": 0}  # not even a field of an item
    assert keys(cloud.data_bucket, "feedback/") == []


def test_unknown_ids_and_labels_outside_the_classes_are_refused_item_by_item(
    champion, cloud, inference, lambda_context, capsys
):
    first, second, third = _served(inference, lambda_context)
    forged = first[:32] + "0" * 32
    items = [
        {"prediction_id": first, "label": "1"},  # stored as the class 1
        {"prediction_id": "4f9c2e7a1b3d4c5e8f6a7b8c9d0e1f2a", "label": 1},  # never issued here
        {"prediction_id": forged, "label": 0},
        {"prediction_id": second, "label": "maybe"},
        {"prediction_id": third, "label": 0},
    ]

    status, answer = api_call(inference, _feedback(items), lambda_context)

    assert status == 422 and answer["error_code"] == "FEEDBACK_REFUSED"
    assert answer["details"]["accepted"] == 2
    assert [(r["item"], r["reason"]) for r in answer["details"]["refused"]] == [
        (1, "UNKNOWN_PREDICTION_ID"),
        (2, "UNKNOWN_PREDICTION_ID"),
        (3, "LABEL_OUT_OF_DOMAIN"),
    ]
    assert "'maybe' is not one of the model's classes [0, 1]" in answer["details"]["refused"][2]["message"]
    assert [(item["prediction_id"], item["label"]) for item in _stored(cloud)] == [(first, 1), (third, 0)]
    # Counted as metrics (EMF on the function's log): the refused and the stored.
    emitted = [json.loads(line) for line in capsys.readouterr().out.splitlines() if '"_aws"' in line]
    assert (emitted[-1]["FeedbackRefused"], emitted[-1]["FeedbackLabels"]) == ([3.0], [2.0])


def test_when_every_item_is_refused_nothing_is_stored(champion, cloud, inference, lambda_context):
    status, answer = api_call(
        inference, _feedback([{"prediction_id": "4f9c2e7a1b3d4c5e8f6a7b8c9d0e1f2a", "label": 1}]), lambda_context
    )
    assert status == 422 and answer["details"]["accepted"] == 0
    assert keys(cloud.data_bucket, "feedback/") == []


def test_without_a_champion_feedback_is_not_ready(cloud, inference, lambda_context):
    status, answer = api_call(inference, load_event("inference_feedback"), lambda_context)
    assert status == 503 and answer["error_code"] == "MODEL_NOT_READY"
    assert keys(cloud.data_bucket, "feedback/") == []
