"""Adapters are the only door to AWS, and botocore does not leak through it: a refused or
failed call leaves an adapter as a typed error (mlrails.errors), whatever the service."""

from __future__ import annotations

import pytest

from mlrails.adapters import s3, training_runs
from mlrails.adapters.bus import put
from mlrails.adapters.state import StateTable
from mlrails.errors import AwsError, StorageError, StorageNotFound
from mlrails.events import TrainingFailed, to_entry


def test_s3_answers_are_typed(aws):
    with pytest.raises(StorageNotFound) as missing:
        s3.get_bytes("s3://no-such-bucket/key")
    assert missing.value.code == "NoSuchBucket" and missing.value.status == 404
    assert s3.get_optional("s3://no-such-bucket/key") is None
    with pytest.raises(StorageError):
        list(s3.list_keys("no-such-bucket", "prefix/"))


def test_the_state_table_and_step_functions_answers_are_typed(aws):
    with pytest.raises(AwsError) as table:
        StateTable("no-such-table").get("policy#m")
    assert table.value.code == "ResourceNotFoundException" and table.value.status == 503
    with pytest.raises(AwsError, match="starting training run t1"):
        training_runs.start("arn:aws:states:us-east-1:123456789012:stateMachine:none", "t1", {})


def test_the_bus_answer_is_typed(aws):
    with pytest.raises(AwsError, match="publishing TrainingFailed"):
        put(to_entry(TrainingFailed("m", "test", "t1", "E", "c", "2026-03-02T00:00:00+00:00"), "no-such-bus"))
