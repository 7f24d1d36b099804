import json

import pytest

from mlrails.errors import BadRequest
from mlrails.events import DriftDetected, FeaturesReady, parse_detail, to_entry
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
