"""`mlrails check` reading its data from S3 (moto) and writing the report there when asked."""

import io
import json
from datetime import UTC, datetime, timedelta

import pytest

from mlrails.adapters import s3
from mlrails.adapters.clients import client
from mlrails.data.dataset import to_parquet
from mlrails.feasibility import CheckOptions, run_check
from mlrails.local.synthetic import churn_frame

BUCKET = "feasibility-data"
SMALL = CheckOptions(sample_rows=1000, folds=2, curve_fractions=(0.5,))


@pytest.fixture
def bucket(aws):
    client("s3").create_bucket(Bucket=BUCKET)
    frame = churn_frame(1000, datetime(2026, 1, 5, tzinfo=UTC), seed=4, span=timedelta(days=7))
    s3.put_bytes(s3.uri(BUCKET, "exports/week.csv"), frame.to_csv(index=False).encode())
    s3.put_bytes(s3.uri(BUCKET, "exports/week.parquet"), to_parquet(frame))
    return BUCKET


def check(cfg, uri, **kwargs):
    out, err = io.StringIO(), io.StringIO()
    return run_check(cfg, uri, out, options=SMALL, progress=err, **kwargs), out.getvalue(), err.getvalue()


@pytest.mark.parametrize("key", ["exports/week.csv", "exports/week.parquet"])
def test_s3_data_is_checked_and_the_report_stays_out_of_the_bucket(cfg, bucket, tmp_path, monkeypatch, key):
    monkeypatch.chdir(tmp_path)
    code, out, _ = check(cfg, s3.uri(bucket, key), as_json=True)
    document = json.loads(out)
    assert code == 0 and document["verdicts"] == {"data": "yes", "action": "yes", "value": "yes"}
    assert document["data"]["rows"] == 1000 and document["report_html"] == "week.check.html"
    assert (tmp_path / "week.check.html").read_text().startswith("<!doctype html>")
    assert sorted(s3.list_keys(bucket, "")) == ["exports/week.csv", "exports/week.parquet"]  # the check only reads


def test_the_report_goes_to_s3_when_asked(cfg, bucket):
    code, out, _ = check(cfg, s3.uri(bucket, "exports/week.csv"), report=s3.uri(bucket, "reports/week.html"))
    assert code == 0 and f"report: s3://{bucket}/reports/week.html" in out
    assert b"<svg" in s3.get_bytes(s3.uri(bucket, "reports/week.html"))


@pytest.mark.parametrize(
    ("uri", "message"),
    [
        (f"s3://{BUCKET}/exports/absent.csv", f"mlrails: no data at s3://{BUCKET}/exports/absent.csv (NoSuchKey)"),
        ("s3://no-such-bucket-here/week.csv", "mlrails: no data at s3://no-such-bucket-here/week.csv (NoSuchBucket)"),
    ],
)
def test_missing_s3_data_is_a_message_and_exit_2(cfg, bucket, uri, message):
    code, out, err = check(cfg, uri)
    assert code == 2 and out == "" and message in err and "Traceback" not in err


def test_an_unreadable_s3_object_is_a_message_and_exit_2(cfg, bucket):
    s3.put_bytes(s3.uri(bucket, "exports/bad.parquet"), b"\x00\x01 not parquet")
    code, _, err = check(cfg, s3.uri(bucket, "exports/bad.parquet"))
    assert code == 2 and "bad.parquet cannot be parsed" in err
