"""`mlrails batch` on the local runtime, through the CLI: local files of three formats are
uploaded, scored by a process pool against moto's server mode, and summarized; a rerun lands
on the same keys; a deployed environment says plainly that its state machine is not there yet."""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from mlrails.cli import main
from mlrails.local.synthetic import churn_frame
from support.samples import REPO

pytestmark = pytest.mark.e2e


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, restore_environ) -> Path:
    shutil.copy(REPO / "mlrails.yaml", tmp_path / "mlrails.yaml")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def _summary(out: str) -> dict:
    return json.loads(out[out.index("{") :])


def test_local_files_are_scored_on_a_process_pool_and_a_rerun_overwrites(project, capsys):
    history = project / "history.csv"
    churn_frame(600, datetime(2026, 2, 27, tzinfo=UTC), seed=5).to_csv(history, index=False)
    assert main(["up", "--at", "2026-03-01T00:00:00+00:00"]) == 0
    assert main(["upload", str(history)]) == 0  # the first model is trained and promoted
    capsys.readouterr()

    rows = churn_frame(40, datetime(2026, 3, 1, tzinfo=UTC), seed=6, with_target=False)
    features = [c for c in rows.columns if c in ("tenure_months", "monthly_charges", "support_calls", "plan", "region")]
    folder = project / "to-score"
    folder.mkdir()
    rows.iloc[:10][features].to_csv(folder / "a.csv", index=False)
    (folder / "b.jsonl").write_text(
        "\n".join(json.dumps(r) for r in rows.iloc[10:20][features].to_dict(orient="records")) + "\n{oops\n"
    )
    pq.write_table(
        pa.Table.from_pandas(rows.iloc[20:][features], preserve_index=False), folder / "c.parquet", row_group_size=5
    )

    assert main(["batch", "--input", str(folder)]) == 0
    first = _summary(capsys.readouterr().out)
    assert (first["items"], first["rows_in"], first["rows_scored"]) == (6, 41, 40)
    assert first["rejected"] == {"malformed row": 1} and first["shards_failed"] == 0 and not first["failed"]
    assert first["output_uri"].endswith("/output/") and "/batch/" in first["output_uri"]
    # items_per_batch 4 (the default): two shards, on two worker processes.
    assert first["shards"] == 2 and {r["model_version"] for r in first["shard_results"]} == {first["model_version"]}
    # Each worker wrote its shard's drift counts; the job merged both into one report.
    assert (first["drift"]["shards_counted"], first["drift"]["rows"]) == (2, 40)
    assert first["drift"]["report_uri"] == first["output_uri"] + "drift.json"

    assert main(["batch", "--input", str(folder)]) == 0  # the same files: the same keys, overwritten
    second = _summary(capsys.readouterr().out)
    assert second["output_uri"] == first["output_uri"]
    parts = lambda summary: sorted(r["part_uri"] for r in summary["shard_results"])  # noqa: E731
    assert parts(second) == parts(first)

    # A deployed environment's job reads S3 only: local files go up first, or run with --local.
    assert main(["batch", "--input", str(folder), "--env", "dev"]) == 2
    assert "--input and --output are s3:// locations" in capsys.readouterr().err

    # A job whose shards fail beyond the tolerance (0 here) exits 1, its summary written.
    broken = project / "broken"
    broken.mkdir()
    (broken / "bad.csv").write_bytes(b"tenure_months\n\xff\xfe\n")
    assert main(["batch", "--input", str(broken)]) == 1
    err = capsys.readouterr().err
    assert "1 of 1 shards failed, more than the tolerated 0% of the items: see s3://" in err
    assert "/output/summary.json" in err
