import json

import pytest

from mlrails.errors import BadRequest
from mlrails.events import BatchScored, DriftDetected, FeaturesReady, parse_detail, to_entry
from mlrails.wiring import EVENT_SOURCE, SCHEMA_VERSION


def test_entries_carry_source_type_version_and_bus():
    detail = FeaturesReady("m", "dev", "s3://d/raw/a.csv", "s3://d/features/a.parquet", 10)
    entry = to_entry(detail, "bus")
    assert entry["Source"] == EVENT_SOURCE
    assert entry["DetailType"] == "FeaturesReady"
    assert entry["EventBusName"] == "bus"
    assert json.loads(entry["Detail"]) == {
        "schema_version": SCHEMA_VERSION,
        "model": "m",
        "environment": "dev",
        "source_uri": "s3://d/raw/a.csv",
        "features_uri": "s3://d/features/a.parquet",
        "rows": 10,
    }


def test_round_trip():
    detail = DriftDetected("m", "dev", "s3://a/r.json", "3", ["plan"], 0.2, 2)
    assert parse_detail("DriftDetected", detail.to_detail()) == detail


def test_unknown_versions_and_missing_fields_are_refused():
    detail = DriftDetected("m", "dev", "s3://a/r.json", "3", ["plan"], 0.2, 2).to_detail()
    with pytest.raises(BadRequest, match="schema_version"):
        parse_detail("DriftDetected", {**detail, "schema_version": "0"})
    with pytest.raises(BadRequest, match="missing"):
        parse_detail("DriftDetected", {k: v for k, v in detail.items() if k != "report_uri"})
    with pytest.raises(BadRequest, match="unknown detail type"):
        parse_detail("Nope", detail)


def test_a_field_added_with_a_default_may_be_absent_from_an_older_detail():
    detail = BatchScored("m", "dev", "s3://d/in/", "s3://d/out/", "s3://d/out/summary.json", "3", 10, 9, 1, 2, 0)
    older = {k: v for k, v in detail.to_detail().items() if not k.startswith("drift") and k != "prediction_drifted"}
    assert parse_detail("BatchScored", older) == detail
    with pytest.raises(BadRequest, match="missing"):
        parse_detail("BatchScored", {k: v for k, v in older.items() if k != "rows_in"})
