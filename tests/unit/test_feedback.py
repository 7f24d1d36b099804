"""Feedback, item by item: ids this service issued (signed), labels in the task's domain,
and the credential a label records."""

from __future__ import annotations

import math

import pytest

from mlrails.feedback.intake import (
    LABEL_OUT_OF_DOMAIN,
    UNKNOWN_PREDICTION_ID,
    credential,
    domain_label,
    judge,
    refusal_error,
)
from mlrails.serving import prediction_ids

KEY = b"a test key"


def test_an_issued_id_verifies_and_nothing_else_does():
    ids = prediction_ids.issue(KEY, 3)
    assert len(set(ids)) == 3 and all(prediction_ids.issued(KEY, i) for i in ids)
    nonce, tag = ids[0][:32], ids[0][32:]
    flipped = tag[:-1] + ("0" if tag[-1] != "0" else "1")
    assert not prediction_ids.issued(KEY, nonce + flipped)  # a forged tag
    assert not prediction_ids.issued(b"another environment's key", ids[0])
    assert not prediction_ids.issued(KEY, "4f9c2e7a1b3d4c5e8f6a7b8c9d0e1f2a")  # an id of the old, unsigned form
    assert not prediction_ids.issued(KEY, ids[0].upper())
    assert not prediction_ids.issued(KEY, ids[0] + "0")


@pytest.mark.parametrize("label, stored", [(1, 1), (0, 0), ("1", 1), (1.0, 1), ("0", 0)])
def test_a_class_label_is_stored_as_the_class_it_names(label, stored):
    assert domain_label(label, "classification", [0, 1]) == (stored, None)


@pytest.mark.parametrize("label", ["maybe", 2, 0.5, "1.5", True, False, "", "yes"])
def test_a_label_outside_the_classes_is_refused(label):
    stored, why = domain_label(label, "classification", [0, 1])
    assert stored is None and "is not one of the model's classes [0, 1]" in why


def test_text_classes_take_their_own_text():
    assert domain_label("churn", "classification", ["churn", "stay"]) == ("churn", None)
    assert domain_label("Churn", "classification", ["churn", "stay"])[0] is None


@pytest.mark.parametrize("label, stored", [(3, 3.0), (-0.25, -0.25), ("1.5", 1.5)])
def test_a_regression_label_is_a_finite_number(label, stored):
    assert domain_label(label, "regression", None) == (stored, None)


@pytest.mark.parametrize("label", ["n/a", True, math.inf, float("1e400"), "inf", "nan"])
def test_a_regression_label_that_is_no_finite_number_is_refused(label):
    stored, why = domain_label(label, "regression", None)
    assert stored is None and "is not a finite number" in why


def test_judge_keeps_the_good_items_and_names_each_refused_one():
    good, other = prediction_ids.issue(KEY, 2)
    items = [
        {"prediction_id": good, "label": "1"},
        {"prediction_id": "never-served", "label": 1},
        {"prediction_id": other, "label": "maybe"},
        {"prediction_id": other, "label": 0},
    ]

    accepted, refused = judge(
        items, task="classification", classes=[0, 1], issued=lambda i: prediction_ids.issued(KEY, i)
    )

    assert accepted == [{"prediction_id": good, "label": 1}, {"prediction_id": other, "label": 0}]
    assert [(r.item, r.reason) for r in refused] == [(1, UNKNOWN_PREDICTION_ID), (2, LABEL_OUT_OF_DOMAIN)]
    error = refusal_error(len(accepted), refused)
    assert (error.status, error.error_code) == (422, "FEEDBACK_REFUSED")
    assert error.to_body()["details"] == {
        "accepted": 2,
        "refused": [
            {"item": 1, "reason": UNKNOWN_PREDICTION_ID, "message": "prediction_id was not issued by this service"},
            {
                "item": 2,
                "reason": LABEL_OUT_OF_DOMAIN,
                "message": "label 'maybe' is not one of the model's classes [0, 1]",
            },
        ],
    }


def test_the_credential_comes_from_the_request_context():
    assert credential({"apiKeyId": "a1b2c3", "userArn": None}) == "api_key:a1b2c3"
    assert credential({"apiKeyId": None, "userArn": "arn:aws:sts::123456789012:assumed-role/labeller/s"}) == (
        "iam:arn:aws:sts::123456789012:assumed-role/labeller/s"
    )
    assert credential({"apiKey": "local", "sourceIp": "127.0.0.1"}) is None
    assert credential({"apiKeyId": ""}) is None
