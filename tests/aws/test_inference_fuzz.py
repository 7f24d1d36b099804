"""Malformed bodies, generated: whatever arrives, the answer is a JSON 4xx (or a 200 when the
body happens to be valid) — never a 5xx, never an unhandled exception."""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from support.aws import api_call, api_event
from support.samples import load_event

COLUMNS = ["tenure_months", "monthly_charges", "support_calls", "plan", "region"]
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=12),
    st.sampled_from(["basic", "north", "1e309", "NaN", "", "-0"]),
)
values = st.recursive(
    scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=8), inner, max_size=3)),
    max_leaves=6,
)
names = st.one_of(st.sampled_from(COLUMNS), st.text(max_size=10))
records = st.lists(st.dictionaries(names, values, max_size=6), max_size=4)
documents = st.one_of(
    st.fixed_dictionaries({"dataframe_records": st.one_of(records, values)}),
    st.fixed_dictionaries(
        {
            "dataframe_split": st.one_of(
                values,
                st.fixed_dictionaries(
                    {
                        "columns": st.one_of(st.lists(names, max_size=6), values),
                        "data": st.one_of(st.lists(st.lists(values, max_size=6), max_size=3), values),
                    }
                ),
            )
        }
    ),
    st.fixed_dictionaries({"instances": st.one_of(records, values)}),
    st.fixed_dictionaries({"inputs": st.one_of(records, st.dictionaries(names, st.lists(values, max_size=3)), values)}),
    st.dictionaries(st.text(max_size=20), values, max_size=3),
    values,
)
bodies = st.one_of(
    documents.map(json.dumps), st.text(max_size=200), st.binary(max_size=200).map(lambda b: b.decode("latin-1"))
)
content_types = st.sampled_from(
    [
        "application/json",
        "text/csv",
        "application/json; charset=utf-8",
        "text/plain",
        "application/x-www-form-urlencoded",
        "",
    ]
)


@pytest.fixture
def scoring(champion, handler, lambda_context, monkeypatch):
    from mlrails.adapters import deployed

    # One manifest check for the whole run: this test is about parsing, not hot swaps.
    monkeypatch.setenv("MLRAILS_MANIFEST_TTL_SECONDS", "3600")
    deployed.reset()
    inference = handler("inference")
    assert api_call(inference, load_event("inference_invocations_records"), lambda_context)[0] == 200
    return inference


@settings(
    max_examples=1200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
)
@given(body=bodies, content_type=content_types)
def test_no_body_gets_a_5xx(scoring, lambda_context, body, content_type):
    status, answer = api_call(
        scoring,
        api_event("inference_invocations_records", body=body, content_type=content_type or None),
        lambda_context,
    )
    assert status < 500, answer
    if status != 200:
        assert set(answer) == {"error_code", "message", "details"} and answer["message"]
