import io
from datetime import UTC, datetime

import pandas as pd
import pytest

from mlrails.data import dataset
from mlrails.errors import DataFileRejected
from mlrails.local.synthetic import churn_frame

START = datetime(2026, 1, 1, tzinfo=UTC)


@pytest.fixture
def raw() -> pd.DataFrame:
    return churn_frame(50, START, seed=3)


def _csv(frame: pd.DataFrame) -> bytes:
    return frame.to_csv(index=False).encode()


def _reason(body: bytes, key: str, cfg) -> DataFileRejected:
    with pytest.raises(DataFileRejected) as error:
        dataset.prepare_features(dataset.read_table(body, key), cfg.dataset)
    return error.value


def test_csv_and_parquet_give_the_same_features(raw, cfg):
    buffer = io.BytesIO()
    raw.to_parquet(buffer)
    from_csv = dataset.prepare_features(dataset.read_table(_csv(raw), "raw/a.csv"), cfg.dataset)
    from_parquet = dataset.prepare_features(dataset.read_table(buffer.getvalue(), "raw/a.parquet"), cfg.dataset)
    pd.testing.assert_frame_equal(from_csv, from_parquet)
    assert from_csv["tenure_months"].dtype == "float64"
    assert from_csv["churned"].dtype == "int64"
    assert str(from_csv["event_time"].dt.tz) == "UTC"
    assert from_csv["event_time"].is_monotonic_increasing


def test_extra_columns_are_dropped(raw, cfg):
    features = dataset.prepare_features(raw.assign(customer_id=range(len(raw))), cfg.dataset)
    assert "customer_id" not in features.columns


@pytest.mark.parametrize(
    ("mutate", "reason", "column"),
    [
        (lambda f: f.drop(columns=["plan"]), "missing_columns", None),
        (lambda f: f.assign(tenure_months=["x", *list(f.tenure_months[1:])]), "type_mismatch", "tenure_months"),
        (lambda f: f.assign(region=[None, *list(f.region[1:])]), "null_values", "region"),
        (lambda f: f.assign(event_time=["yesterday", *list(f.event_time[1:])]), "bad_timestamp", "event_time"),
        (lambda f: f.assign(churned=[None, *list(f.churned[1:])]), "null_values", "churned"),
    ],
)
def test_bad_files_are_rejected_with_a_machine_readable_reason(raw, cfg, mutate, reason, column):
    rejection = _reason(_csv(mutate(raw)), "raw/a.csv", cfg)
    assert rejection.reason == reason
    if column:
        assert rejection.details["column"] == column
        assert rejection.details["rows"] == [0]


def test_empty_unreadable_and_unknown_files(cfg):
    assert _reason(b"event_time,plan\n", "raw/a.csv", cfg).reason == "empty"
    assert _reason(b"\x00\x01not parquet", "raw/a.parquet", cfg).reason == "unreadable"
    assert _reason(b"{}", "raw/a.json", cfg).reason == "unsupported_format"


def test_features_key_is_deterministic():
    assert dataset.features_key("raw/2026/11/batch.csv") == "features/2026/11/batch.csv.parquet"
    keys = {dataset.features_key(f"raw/x{suffix}") for suffix in (".csv", ".csv.gz", ".parquet")}
    assert len(keys) == 3  # same stem, different files: no overwrite
