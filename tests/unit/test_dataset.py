import io
from datetime import UTC, date, datetime

import pandas as pd
import pytest

from mlrails.config import parse_config
from mlrails.data import dataset
from mlrails.data.dataset import parse_times, validate_frame
from mlrails.errors import ConfigError, DataFileRejected
from mlrails.local.synthetic import churn_frame
from mlrails.training import compute

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


def test_features_key_is_deterministic_and_in_its_newest_rows_day():
    day = date(2026, 11, 3)
    assert (
        dataset.features_key("raw/2026/11/batch.csv", day) == "features/date=2026-11-03/raw/2026/11/batch.csv.parquet"
    )
    keys = {dataset.features_key(f"raw/x{suffix}", day) for suffix in (".csv", ".csv.gz", ".parquet")}
    assert len(keys) == 3  # same stem, different files: no overwrite
    assert compute.partition_day("features/date=2026-11-03/raw/a.parquet") == day
    assert compute.partition_day("features/date=2026-11-03/") == day
    assert compute.partition_day("features/2026/11/a.parquet") is None  # written before partitions
    assert compute.partition_day("features/date=yesterday/") is None


@pytest.mark.parametrize(
    ("fmt", "values"),
    [
        ("iso8601", ["2026-03-01T12:30:00Z", "2026-03-01 12:30:00", "2026-03-01T13:30:00+01:00"]),
        ("epoch_seconds", ["1772368200", "1772368200.0", 1772368200]),
        ("epoch_millis", ["1772368200000", 1772368200000, "1772368200000"]),
        ("%d/%m/%Y %H:%M", ["01/03/2026 12:30", "01/03/2026 12:30", "01/03/2026 12:30"]),
    ],
)
def test_timestamps_parse_in_every_declared_format(fmt, values):
    parsed = parse_times(pd.Series(values, dtype=object), fmt)
    assert parsed.tolist() == [pd.Timestamp("2026-03-01T12:30:00Z")] * 3


def test_a_value_not_in_the_declared_format_is_refused_with_the_format_named(cfg):
    frame = churn_frame(5, pd.Timestamp("2026-03-01", tz="UTC"), seed=1).astype(str)
    epoch = cfg.dataset.model_copy(update={"timestamp_format": "epoch_seconds"})
    with pytest.raises(DataFileRejected, match="not written as epoch_seconds"):
        validate_frame(frame, epoch)


def test_the_timestamp_and_its_format_are_checked_at_load(cfg):
    document = cfg.model_dump(mode="json")
    document["dataset"].update(timestamp=None, timestamp_format="epoch_seconds")
    with pytest.raises(ConfigError, match="timestamp_format needs a timestamp column"):
        parse_config(document)
    document["dataset"].update(timestamp="event_time", timestamp_format="day-month-year")
    with pytest.raises(ConfigError, match="timestamp_format"):
        parse_config(document)
    document["dataset"].update(timestamp="event_time", timestamp_format="%s")  # a directive pandas cannot read
    with pytest.raises(ConfigError, match="does not read back the times it writes"):
        parse_config(document)
    document["dataset"].update(timestamp=None, timestamp_format="iso8601")
    assert parse_config(document).dataset.time_column == "arrived_at"


def test_a_cell_of_spaces_is_an_empty_cell_as_init_reads_it(cfg):
    nullable = cfg.dataset.model_copy(
        update={"features": tuple(f.model_copy(update={"nullable": True}) for f in cfg.dataset.features)}
    )
    body = (
        b"event_time,tenure_months,monthly_charges,support_calls,plan,region,churned\n"
        b"2026-03-01T00:00:00Z,  ,20.5,1,   ,north,0\n"
    )
    out = dataset.validate_frame(dataset.read_table(body, "x.csv"), nullable)
    assert pd.isna(out.loc[0, "tenure_months"]) and out.loc[0, "plan"] is None  # not a type error, not a category
    with pytest.raises(DataFileRejected, match="column 'tenure_months' is not nullable but row 0 is empty"):
        dataset.validate_frame(dataset.read_table(body, "x.csv"), cfg.dataset)
