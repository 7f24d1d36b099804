"""feature_prep: S3 Object Created under raw/ → typed Parquet features and FeaturesReady, or quarantine."""

from __future__ import annotations

import io
import json
from datetime import timedelta

import pandas as pd
import pytest

from mlrails.adapters import s3
from mlrails.adapters.clients import client
from mlrails.data import dataset
from mlrails.local.synthetic import churn_frame
from support.aws import DAY, keys, upload
from support.samples import load_event

RAW = churn_frame(250, DAY - timedelta(days=1), seed=11)


def _csv(frame: pd.DataFrame) -> bytes:
    return frame.to_csv(index=False).encode()


def _parquet(frame: pd.DataFrame) -> bytes:
    buffer = io.BytesIO()
    frame.to_parquet(buffer, index=False)
    return buffer.getvalue()


def _event_for(key: str, sequencer: str = "0065E5A3D4E5F6A733") -> dict:
    """The bad-file sample event, about another object."""
    event = load_event("feature_prep_bad_file")
    event["detail"]["object"].update(key=key, sequencer=sequencer)
    return event


@pytest.mark.parametrize(
    ("event_name", "encode", "features_key"),
    [
        # In the partition of the newest row's day (RAW's rows are of 03-01).
        ("feature_prep_raw_csv", _csv, "features/date=2026-03-01/raw/2026/03/02/crm-export.csv.parquet"),
        (
            "feature_prep_raw_parquet",
            _parquet,
            "features/date=2026-03-01/raw/2026/03/02/billing-snapshot.parquet.parquet",
        ),
    ],
)
def test_raw_file_becomes_typed_features_and_features_ready(
    event_name, encode, features_key, cloud, cfg, bus, handler, lambda_context
):
    event = upload(load_event(event_name), encode(RAW))
    raw_key, data = event["detail"]["object"]["key"], cloud.data_bucket

    result = handler("feature_prep").lambda_handler(event, lambda_context)

    target = s3.uri(data, features_key)
    assert result == {
        "status": "features",
        "source_uri": s3.uri(data, raw_key),
        "target_uri": target,
        "rows": 250,
        "reason": None,
    }
    stored = dataset.read_parquet(s3.get_bytes(target))
    assert list(stored.columns) == ["event_time", *cfg.dataset.feature_names, "churned"]
    assert str(stored["event_time"].dtype).startswith("datetime64") and str(stored["event_time"].dt.tz) == "UTC"
    assert stored["event_time"].tolist() == [pd.Timestamp(t) for t in RAW["event_time"]]
    for column in ("tenure_months", "monthly_charges", "support_calls"):
        assert stored[column].dtype == "float64"
        assert stored[column].tolist() == RAW[column].astype(float).tolist()
    for column in ("plan", "region"):
        assert stored[column].tolist() == RAW[column].tolist()
    assert stored["churned"].dtype == "int64" and stored["churned"].tolist() == RAW["churned"].tolist()
    assert client("s3").head_object(Bucket=data, Key=features_key)["Metadata"] == {"source-key": raw_key}
    assert s3.get_optional(s3.uri(data, raw_key)) == encode(RAW)  # the raw file stays as it came

    ready = bus.of("FeaturesReady")
    assert len(ready) == 1
    assert ready[0]["source"] == "mlrails" and ready[0]["time"] == event["time"]
    assert ready[0]["detail"] == {
        "schema_version": "1",
        "model": "churn-classifier",
        "environment": "test",
        "source_uri": s3.uri(data, raw_key),
        "features_uri": target,
        "rows": 250,
    }


def _missing_plan() -> bytes:
    return _csv(RAW.drop(columns=["plan"]))


def _bad_number() -> bytes:
    frame = RAW.astype({"monthly_charges": object})
    frame.loc[7, "monthly_charges"] = "12,50"
    frame.loc[30, "monthly_charges"] = "n/a"
    return _csv(frame)


@pytest.mark.parametrize(
    ("key", "body", "reason", "details"),
    [
        pytest.param(
            "raw/2026/03/02/crm-export-no-plan.csv",
            _missing_plan(),
            "missing_columns",
            {"missing": ["plan"], "found": [c for c in RAW.columns if c != "plan"]},
            id="missing-column",
        ),
        pytest.param(
            "raw/2026/03/02/crm-export-commas.csv",
            _bad_number(),
            "type_mismatch",
            {"column": "monthly_charges", "rows": [7, 30], "count": 2},
            id="unparseable-number",
        ),
        pytest.param("raw/2026/03/02/crm-export-header-only.csv", _csv(RAW.head(0)), "empty", None, id="header-only"),
        pytest.param(
            "raw/2026/03/02/crm-export-truncated.parquet",
            _parquet(RAW)[:300],
            "unreadable",
            None,
            id="truncated-parquet",
        ),
        pytest.param(
            "raw/2026/03/02/crm-export.xlsx",
            b"PK\x03\x04\x14\x00\x06\x00",
            "unsupported_format",
            {"suffixes": [".xlsx"]},
            id="unknown-extension",
        ),
        pytest.param("raw/2026/03/02/crm-export-zero-bytes.csv", b"", "empty", None, id="zero-bytes"),
    ],
)
def test_bad_file_is_quarantined_whole_with_its_reason(key, body, reason, details, cloud, bus, handler, lambda_context):
    data = cloud.data_bucket
    event = upload(_event_for(key), body)

    result = handler("feature_prep").lambda_handler(event, lambda_context)

    quarantined = "quarantine/" + key.removeprefix("raw/")
    assert result == {
        "status": "quarantined",
        "source_uri": s3.uri(data, key),
        "target_uri": s3.uri(data, quarantined),
        "rows": 0,
        "reason": reason,
    }
    assert s3.get_bytes(s3.uri(data, quarantined)) == body  # byte for byte: nothing lost
    assert s3.get_optional(s3.uri(data, key)) is None
    document = json.loads(s3.get_bytes(s3.uri(data, quarantined + ".reason.json")))
    assert document["reason"] == reason and document["message"]
    assert document["source"] == s3.uri(data, key)
    assert document["quarantined_at"] == "2026-03-02T10:01:02+00:00"
    if details is not None:
        assert document["details"] == details
    assert keys(data, "features/") == []
    assert bus.drain() == []


def test_missing_column_message_names_the_column(cloud, handler, lambda_context):
    event = upload(load_event("feature_prep_bad_file"), _missing_plan())

    handler("feature_prep").lambda_handler(event, lambda_context)

    reason = json.loads(
        s3.get_bytes(s3.uri(cloud.data_bucket, "quarantine/2026/03/02/crm-export-no-plan.csv.reason.json"))
    )
    assert reason["message"] == "missing column(s): plan"


def test_duplicated_delivery_emits_features_ready_once(cloud, bus, handler, lambda_context):
    event = upload(load_event("feature_prep_raw_csv"), _csv(RAW))
    feature_prep = handler("feature_prep")

    first = feature_prep.lambda_handler(event, lambda_context)
    second = feature_prep.lambda_handler(json.loads(json.dumps(event)), lambda_context)

    assert second == first and first["status"] == "features"
    assert len(bus.of("FeaturesReady")) == 1
    assert keys(cloud.data_bucket, "features/") == ["features/date=2026-03-01/raw/2026/03/02/crm-export.csv.parquet"]


def test_duplicated_delivery_of_a_bad_file_quarantines_once(cloud, handler, lambda_context):
    event = upload(load_event("feature_prep_bad_file"), _missing_plan())
    key = event["detail"]["object"]["key"]
    feature_prep = handler("feature_prep")

    first = feature_prep.lambda_handler(event, lambda_context)
    second = feature_prep.lambda_handler(event, lambda_context)
    # Another notification for the same object after the move (a later write's sequencer):
    # the file is gone from raw/, nothing is redone and nothing is overwritten.
    late = feature_prep.lambda_handler(_event_for(key, sequencer="0065E5A3D4E5F6A799"), lambda_context)

    assert second == first and first["status"] == "quarantined"
    assert late == {
        "status": "gone",
        "source_uri": s3.uri(cloud.data_bucket, key),
        "target_uri": None,
        "rows": 0,
        "reason": None,
    }
    assert keys(cloud.data_bucket, "quarantine/") == [
        "quarantine/2026/03/02/crm-export-no-plan.csv",
        "quarantine/2026/03/02/crm-export-no-plan.csv.reason.json",
    ]
    assert s3.get_bytes(s3.uri(cloud.data_bucket, "quarantine/2026/03/02/crm-export-no-plan.csv")) == _missing_plan()


def test_an_overwrite_is_judged_on_its_own_bytes(cloud, bus, handler, lambda_context):
    # A bad upload, then a corrected one to the same key before the first event is handled:
    # each event names its version, so the bad bytes are quarantined and the good ones kept.
    bad = upload(load_event("feature_prep_raw_csv"), _missing_plan())
    good = upload(load_event("feature_prep_raw_csv"), _csv(RAW))
    key, data = good["detail"]["object"]["key"], cloud.data_bucket
    feature_prep = handler("feature_prep")

    first = feature_prep.lambda_handler(bad, lambda_context)
    second = feature_prep.lambda_handler(good, lambda_context)

    assert (first["status"], second["status"]) == ("quarantined", "features")
    assert s3.get_bytes(s3.uri(data, "quarantine/" + key.removeprefix("raw/"))) == _missing_plan()
    assert s3.get_bytes(s3.uri(data, key)) == _csv(RAW)
    assert [e["detail"]["rows"] for e in bus.of("FeaturesReady")] == [250]


@pytest.mark.parametrize(
    ("dataset_fields", "write_time", "expected"),
    [
        # Epoch seconds, as many exports write them.
        (
            {"timestamp_format": "epoch_seconds"},
            lambda t: str(int(pd.Timestamp(t).timestamp())),
            lambda raw, at: pd.to_datetime(raw["event_time"], utc=True).dt.floor("s"),
        ),
        # A strftime pattern (day first, no zone: read as UTC).
        (
            {"timestamp_format": "%d/%m/%Y %H:%M"},
            lambda t: pd.Timestamp(t).strftime("%d/%m/%Y %H:%M"),
            lambda raw, at: pd.to_datetime(raw["event_time"], utc=True).dt.floor("min"),
        ),
        # No time of its own: every row takes the file's arrival, the event's time.
        ({"timestamp": None}, None, lambda raw, at: pd.Series([at] * len(raw))),
    ],
    ids=["epoch_seconds", "strftime", "arrival_time"],
)
def test_timestamps_as_the_data_writes_them(
    dataset_fields, write_time, expected, cloud, cfg, handler, lambda_context, monkeypatch
):
    from support.aws import redeploy

    redeploy(cloud, cfg.model_copy(update={"dataset": cfg.dataset.model_copy(update=dataset_fields)}), monkeypatch)
    raw = RAW.copy()
    written = (
        raw.drop(columns="event_time")
        if write_time is None
        else raw.assign(event_time=raw["event_time"].map(write_time))
    )
    event = upload(load_event("feature_prep_raw_csv"), _csv(written))

    result = handler("feature_prep").lambda_handler(event, lambda_context)

    assert result["status"] == "features" and result["rows"] == 250
    features = dataset.read_parquet(s3.get_bytes(result["target_uri"]))
    column = dataset_fields.get("timestamp", "event_time") or "arrived_at"
    at = pd.Timestamp(event["time"])
    assert sorted(features[column].tolist()) == sorted(expected(raw, at).tolist())
