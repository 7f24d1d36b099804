"""Batch scoring on moto with a real champion: three formats through the serving code, rows
refused with reasons, idempotent reruns, failed shards within and beyond the tolerance, the
summary and the BatchScored event."""

import io
import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from mlrails.adapters import s3
from mlrails.adapters.state import StateTable
from mlrails.batch import job
from mlrails.batch.job import BatchFailed, run_job
from mlrails.batch.rows import parquet_row_groups
from mlrails.config import Batch
from mlrails.errors import ModelNotReady
from mlrails.local.synthetic import churn_frame
from mlrails.settings import Settings
from support.aws import DAY, keys

OUT = "batch/out/"


def _with_batch(cfg, **fields):
    return cfg.model_copy(update={"batch": Batch(**fields)})


def _inputs(cloud, cfg) -> dict[str, int]:
    """A CSV (one bad row), a JSON Lines object (one bad row), a Parquet file of three row
    groups and a file the job skips, under batch/in/; rows per object."""
    frame = churn_frame(60, DAY, seed=3)[cfg.dataset.feature_names]
    frame["customer_id"] = [f"c{i}" for i in range(60)]  # not the model's: it rides along
    csv = frame.iloc[:20].copy()
    csv["tenure_months"] = csv["tenure_months"].astype(object)
    csv.loc[csv.index[5], "tenure_months"] = "many"
    bucket = cloud.data_bucket
    s3.put_bytes(s3.uri(bucket, "batch/in/a.csv"), csv.to_csv(index=False).encode())
    lines = frame.iloc[20:35][cfg.dataset.feature_names].to_dict(orient="records")
    del lines[2]["plan"]
    s3.put_bytes(s3.uri(bucket, "batch/in/b.jsonl"), "\n".join(json.dumps(r) for r in lines).encode())
    buffer = io.BytesIO()
    pq.write_table(pa.Table.from_pandas(frame.iloc[35:], preserve_index=False), buffer, row_group_size=10)
    s3.put_bytes(s3.uri(bucket, "batch/in/c.parquet"), buffer.getvalue())
    s3.put_bytes(s3.uri(bucket, "batch/in/notes.txt"), b"not data")
    return {"a.csv": 20, "b.jsonl": 15, "c.parquet": 25}


def _parts(bucket: str) -> pa.Table:
    tables = [pq.read_table(io.BytesIO(s3.get_bytes(s3.uri(bucket, k)))) for k in keys(bucket, OUT + "parts/")]
    return pa.concat_tables(tables, promote_options="default")  # a shard without the id column has none


def test_three_formats_score_through_the_serving_code_and_the_job_reports_and_announces_it(cloud, cfg, champion, bus):
    _inputs(cloud, cfg)
    settings = Settings.from_env()
    summary = run_job(
        f"s3://{cloud.data_bucket}/batch/in/",
        f"s3://{cloud.data_bucket}/{OUT}",
        _with_batch(cfg, items_per_batch=2),
        settings,
    )
    assert (summary.items, summary.shards, summary.shards_failed, summary.failed) == (5, 3, 0, False)
    assert (summary.rows_in, summary.rows_scored, summary.rows_rejected) == (60, 58, 2)
    assert summary.rejected == {"plan: missing": 1, "tenure_months: not_a_number": 1}
    assert summary.model_name == cfg.model.name and summary.model_version == champion.version
    assert [s["reason"] for s in summary.skipped] == [
        "not CSV, JSON Lines or Parquet (suffixes .csv, .jsonl, .ndjson, .parquet)"
    ]
    written = s3.get_json(s3.uri(cloud.data_bucket, OUT + "summary.json"))
    assert written == json.loads(json.dumps(summary.to_dict()))
    items = s3.get_json(s3.uri(cloud.data_bucket, OUT + "items.json"))
    assert [(i["uri"].rsplit("/", 1)[1], i["row_group"]) for i in items] == [
        ("a.csv", None),
        ("b.jsonl", None),
        ("c.parquet", 0),
        ("c.parquet", 1),
        ("c.parquet", 2),
    ]

    table = _parts(cloud.data_bucket).to_pylist()
    assert len(table) == 58
    classes = [str(c) for c in champion.classes]
    for row in table:
        probabilities = {c: row[f"probability_{c}"] for c in classes}
        assert abs(sum(probabilities.values()) - 1) < 1e-6
        assert str(row["prediction"]) == max(probabilities, key=probabilities.get)
    parquet_rows = sorted(r["row_number"] for r in table if r["source_uri"].endswith("c.parquet"))
    assert parquet_rows == list(range(25))  # row numbers from the file's first row, across groups
    assert 5 not in {r["row_number"] for r in table if r["source_uri"].endswith("a.csv")}
    ids = {r["source_uri"].rsplit("/", 1)[1]: set() for r in table}
    for r in table:
        ids[r["source_uri"].rsplit("/", 1)[1]].add(r["customer_id"])
    assert ids["b.jsonl"] == {None} and ids["c.parquet"] == {f"c{i}" for i in range(35, 60)}
    assert len(ids["a.csv"]) == 19 and "c5" not in ids["a.csv"]

    refused = [
        json.loads(line)
        for k in keys(cloud.data_bucket, OUT + "rejected/")
        for line in s3.get_bytes(s3.uri(cloud.data_bucket, k)).splitlines()
    ]
    assert sorted((r["source_uri"].rsplit("/", 1)[1], r["row"], r["reason"]) for r in refused) == [
        ("a.csv", 5, "tenure_months: not_a_number"),
        ("b.jsonl", 2, "plan: missing"),
    ]
    assert refused[0]["message"]

    (event,) = bus.of("BatchScored")
    detail = event["detail"]
    assert detail["model"] == cfg.model.name and detail["model_version"] == champion.version
    assert (detail["rows_in"], detail["rows_scored"], detail["rows_rejected"]) == (60, 58, 2)
    assert detail["summary_uri"] == f"s3://{cloud.data_bucket}/{OUT}summary.json"
    assert (detail["shards"], detail["shards_failed"]) == (3, 0)


def test_a_rerun_overwrites_each_shards_output_and_never_duplicates_it(cloud, cfg, champion):
    _inputs(cloud, cfg)
    args = (
        f"s3://{cloud.data_bucket}/batch/in/",
        f"s3://{cloud.data_bucket}/{OUT}",
        _with_batch(cfg, items_per_batch=2),
    )
    timed = ("summary.json", "plan.json")  # both say when the job ran

    def written() -> dict[str, object]:
        found: dict[str, object] = {}
        for k in keys(cloud.data_bucket, OUT):
            if k.endswith(timed):
                continue
            body = s3.get_bytes(s3.uri(cloud.data_bucket, k))
            # A shard's result says how long it took: the rest of it must not change.
            found[k] = {**json.loads(body), "seconds": None} if "/results/" in k else body
        return found

    run_job(*args, Settings.from_env())
    first = written()
    run_job(*args, Settings.from_env())
    second = written()
    assert second == first
    assert len([k for k in first if "/parts/" in k]) == len([k for k in first if "/results/" in k]) == 3
    assert _parts(cloud.data_bucket).num_rows == 58


def _with_a_broken_object(cloud, cfg) -> None:
    _inputs(cloud, cfg)
    s3.put_bytes(s3.uri(cloud.data_bucket, "batch/in/d.csv"), b"tenure_months\n\xff\xfe broken\n")


def test_a_failed_shard_within_the_tolerance_is_recorded_and_the_job_succeeds(cloud, cfg, champion, bus):
    _with_a_broken_object(cloud, cfg)
    # Six items, one a shard each: one failure is 16.7% of the shards.
    relaxed = _with_batch(cfg, items_per_batch=1, tolerated_failure_percentage=20)
    summary = run_job(
        f"s3://{cloud.data_bucket}/batch/in/", f"s3://{cloud.data_bucket}/{OUT}", relaxed, Settings.from_env()
    )
    assert (summary.shards, summary.shards_failed, summary.failed) == (6, 1, False)
    (failed,) = [r for r in summary.shard_results if r["failed"]]
    assert failed["error"].startswith("BadRequest: not UTF-8 text") and failed["part_uri"] is None
    assert summary.rows_scored == 58
    assert bus.of("BatchScored")[0]["detail"]["shards_failed"] == 1


def test_failed_shards_beyond_the_tolerance_fail_the_job_with_its_summary_written(cloud, cfg, champion, bus):
    _with_a_broken_object(cloud, cfg)
    strict = _with_batch(cfg, items_per_batch=1, tolerated_failure_percentage=10)
    with pytest.raises(BatchFailed) as failed:
        run_job(f"s3://{cloud.data_bucket}/batch/in/", f"s3://{cloud.data_bucket}/{OUT}", strict, Settings.from_env())
    assert "1 of 6 shards failed, more than the tolerated 10%" in failed.value.message
    summary = s3.get_json(s3.uri(cloud.data_bucket, OUT + "summary.json"))
    assert summary["failed"] is True and summary["shards_failed"] == 1 and summary["rows_scored"] == 58
    assert bus.of("BatchScored") == []


def test_without_a_champion_the_job_refuses_before_any_work(cloud, cfg):
    _inputs(cloud, cfg)
    with pytest.raises(ModelNotReady):
        run_job(f"s3://{cloud.data_bucket}/batch/in/", f"s3://{cloud.data_bucket}/{OUT}", cfg, Settings.from_env())
    assert keys(cloud.data_bucket, OUT) == []


def test_a_compiled_champion_scores_on_its_onnx_graph_as_the_api_would(cloud, cfg, promotion_env, monkeypatch):
    import pandas as pd

    from mlrails.promotion import rails

    from .test_compiled_serving import COMPILES, _config, _deploy, _train

    compiled = _config(cfg, COMPILES, package="onnx")
    manifest = _train(compiled, promotion_env, 1)
    assert manifest.serving == "onnx"
    _deploy(compiled, cloud, monkeypatch)
    _inputs(cloud, cfg)
    summary = run_job(
        f"s3://{cloud.data_bucket}/batch/in/c.parquet", f"s3://{cloud.data_bucket}/{OUT}", compiled, Settings.from_env()
    )
    assert (summary.rows_in, summary.rows_scored, summary.shards_failed) == (25, 25, 0)
    assert job._champions(job.ChampionSource.of(Settings.from_env(), compiled)).get().path == "onnx"
    scored = _parts(cloud.data_bucket).to_pandas().sort_values("row_number")
    model = rails.load_model(manifest)
    features = scored[cfg.dataset.feature_names].reset_index(drop=True)
    assert scored["prediction"].tolist() == model.predict(pd.DataFrame(features)).tolist()
    assert scored["probability_1"].to_numpy() == pytest.approx(model.predict_proba(features)[:, 1], abs=1e-4)


def test_planning_reads_a_parquet_files_footer_alone_through_ranged_gets(cloud):
    import numpy as np

    table = pa.table({"x": np.arange(200_000, dtype="float64"), "y": np.arange(200_000) % 7})
    buffer = io.BytesIO()
    pq.write_table(table, buffer, row_group_size=50_000, compression="none")
    location = s3.uri(cloud.data_bucket, "big/rows.parquet")
    s3.put_bytes(location, buffer.getvalue())

    reader = s3.RangeReader(location)
    assert parquet_row_groups(reader) == [50_000] * 4
    # pyarrow's one speculative read of the file's tail (64 KiB) holds the footer: not the 2 MB of rows.
    assert reader.fetched <= 64 * 1024 < reader.size / 20
    plan = job.plan(f"s3://{cloud.data_bucket}/big/")
    assert [(i.row_group, i.rows) for i in plan.items] == [(0, 50_000), (1, 50_000), (2, 50_000), (3, 50_000)]


def _drift_document(bucket: str) -> dict:
    report = s3.get_json(s3.uri(bucket, OUT + "drift.json"))
    return {
        k: v for k, v in report.items() if k not in ("model_version", "input_uri", "shards_counted", "shards_left_out")
    }


def test_the_jobs_drift_merges_its_shards_into_the_report_of_one_pass_over_the_rows_scored(cloud, cfg, champion, bus):
    from mlrails.drift.measures import WindowCounts, drift_report
    from mlrails.drift.profile import PREDICTION

    _with_a_broken_object(cloud, cfg)
    relaxed = _with_batch(cfg, items_per_batch=1, tolerated_failure_percentage=20)
    summary = run_job(
        f"s3://{cloud.data_bucket}/batch/in/", f"s3://{cloud.data_bucket}/{OUT}", relaxed, Settings.from_env()
    )
    (failed,) = [r["shard_id"] for r in summary.shard_results if r["failed"]]
    drift = summary.drift
    assert (drift["shards_counted"], drift["shards_left_out"]) == (5, {failed: "failed"})
    assert len(keys(cloud.data_bucket, OUT + "drift/")) == 5  # a partial per shard that scored

    # One pass over every row the job scored (read back from its parts) against the same profile.
    profile = json.loads(s3.get_bytes(champion.profile_uri))
    scored = _parts(cloud.data_bucket).to_pandas()
    single = WindowCounts(profile=profile)
    single.add(scored[cfg.dataset.feature_names].assign(**{PREDICTION: scored["prediction"]}))
    expected = drift_report(single, cfg.monitoring)
    assert _drift_document(cloud.data_bucket) == json.loads(json.dumps(expected.to_dict()))
    assert drift["rows"] == 58 and drift["status"] == expected.status == "insufficient_data"
    page = s3.get_bytes(s3.uri(cloud.data_bucket, OUT + "drift.html")).decode()
    assert "batch job over s3://" in page and "58 rows" in page

    (event,) = bus.of("BatchScored")
    detail = event["detail"]
    assert detail["drift_status"] == "insufficient_data" and detail["drifted_features"] == []
    assert detail["drift_report_uri"] == f"s3://{cloud.data_bucket}/{OUT}drift.json"
    assert detail["prediction_drifted"] is False
    # A batch is not the served window: no DriftDetected, no count toward consecutive windows.
    assert bus.of("DriftDetected") == []
    assert StateTable(cloud.state_table).get(f"drift#{cfg.model.name}") == {}


def test_a_drifted_batch_reports_input_and_prediction_drift(cloud, cfg, champion, bus):
    frame = churn_frame(3000, DAY, seed=11, drift=0.9)[cfg.dataset.feature_names]
    buffer = io.BytesIO()
    pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), buffer, row_group_size=500)
    s3.put_bytes(s3.uri(cloud.data_bucket, "batch/in/drifted.parquet"), buffer.getvalue())
    summary = run_job(
        f"s3://{cloud.data_bucket}/batch/in/",
        f"s3://{cloud.data_bucket}/{OUT}",
        _with_batch(cfg, items_per_batch=2),
        Settings.from_env(),
    )
    drift = summary.drift
    assert drift["status"] == "drift" and drift["shards_counted"] == 3 and drift["rows"] == 3000
    assert drift["drifted_features"] and drift["drifted_share"] >= cfg.monitoring.drifted_share
    report = s3.get_json(drift["report_uri"])
    assert report["drifted_features"] == drift["drifted_features"]
    assert report["prediction"]["rows"] == 3000 and drift["prediction_psi"] == report["prediction_psi"]
    assert bus.of("BatchScored")[0]["detail"]["drifted_features"] == drift["drifted_features"]
    assert bus.of("DriftDetected") == []


def test_shards_scored_by_another_champion_are_left_out_of_the_drift(cloud, cfg, champion):
    from dataclasses import replace

    from mlrails.batch.drift import report_drift
    from mlrails.batch.shard import ShardResult

    _inputs(cloud, cfg)
    output = f"s3://{cloud.data_bucket}/{OUT}"
    summary = run_job(
        f"s3://{cloud.data_bucket}/batch/in/", output, _with_batch(cfg, items_per_batch=2), Settings.from_env()
    )
    *kept, last = [ShardResult(**r) for r in summary.shard_results]
    # As if a promotion landed mid-job: the last shard scored with version 2, against another profile.
    drift = report_drift(
        [*kept, replace(last, model_version="2")],
        output,
        champion,
        cfg.monitoring,
        input_uri=summary.input_uri,
    )
    assert drift.shards_left_out == {last.shard_id: "scored by v2, not v1 whose profile the report uses"}
    assert drift.shards_counted == 2 and drift.rows == summary.drift["rows"] - last.rows_scored
