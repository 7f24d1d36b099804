"""A user's own project end to end, from an empty folder outside the checkout, with only the
commands the docs give: the second example (examples/diabetes, a regression without
timestamps). init writes the project; its model test passes; the local lifecycle trains and
promotes it, serves traffic and captures it, sees the drift in later data, retrains, and
lets the gate decide."""

from __future__ import annotations

import importlib.util
import io
import json
import subprocess
import sys

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml

from mlrails.adapters import s3
from mlrails.cli import main
from support.samples import REPO

pytestmark = pytest.mark.e2e


def _make_data():
    spec = importlib.util.spec_from_file_location("make_data", REPO / "examples" / "diabetes" / "make_data.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.write


@pytest.fixture
def workspace(tmp_path, monkeypatch, restore_environ):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "path", list(sys.path))
    yield tmp_path
    sys.modules.pop("models", None)  # the project's module, imported by name


def test_the_diabetes_project_from_init_to_a_gated_retrain(workspace, capsys, monkeypatch):
    data, later = _make_data()(workspace / "data")
    project = workspace / "diabetes"

    assert main(["init", str(data), "--dir", str(project), "--target", "target"]) == 0
    out = capsys.readouterr().out
    assert "a regression project" in out and "timestamp  (none)" in out
    model_test = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"], cwd=project, capture_output=True, text=True
    )
    assert model_test.returncode == 0, model_test.stdout + model_test.stderr

    # A budget far below the captures: the drift check counts its window on the drift fan-out.
    document = yaml.safe_load((project / "mlrails.yaml").read_text())
    document["monitoring"]["single_pass_max_mb"] = 0.001
    (project / "mlrails.yaml").write_text(yaml.safe_dump(document, sort_keys=False))

    # From here on, as a user in the project's folder.
    monkeypatch.chdir(project)
    assert main(["up", "--at", "2026-03-01T00:00:00+00:00"]) == 0
    assert main(["upload", str(data)]) == 0
    out = capsys.readouterr().out
    assert "(442 rows) ⇒ FeaturesReady" in out and "v1 promoted ⇒ ModelPromoted" in out

    # The later patients, as curl would send them to `mlrails serve`: served, and captured.
    assert _serve_over_http(project, later.read_bytes()) == 442
    one = workspace / "one.csv"
    one.write_text("\n".join(later.read_text().splitlines()[:2]) + "\n")
    assert main(["predict", "--file", str(one)]) == 0
    answer = json.loads(capsys.readouterr().out)
    assert answer["status"] == 200 and len(answer["body"]["predictions"]) == 1

    # The same later patients as a batch job: a regression scored by its champion, the rows'
    # drift against the champion's reference reported with the job.
    assert main(["batch", "--input", str(later)]) == 0
    out = capsys.readouterr().out
    summary = json.loads(out[out.index("{") :])
    assert (summary["rows_in"], summary["rows_scored"], summary["shards_failed"]) == (442, 442, 0)
    assert summary["drift"]["status"] == "drift" and "bmi" in summary["drift"]["drifted_features"]
    part = _scored_part(project, summary["shard_results"][0]["part_uri"])
    assert pa.types.is_floating(part.schema.field("prediction").type)
    assert not any(name.startswith("probability_") for name in part.column_names)

    assert main(["advance", "1d"]) == 0
    out = capsys.readouterr().out
    assert "window over monitoring.single_pass_max_mb: fanned out in" in out
    assert "DRIFT ⇒ DriftDetected" in out and "bmi" in out
    assert "drift: retrain ⇒ RetrainRequested" in out
    assert "train:evaluate   gate says" in out and ("v2 promoted" in out or "v2 rejected" in out)

    assert main(["status", "--json"]) == 0
    status = json.loads(capsys.readouterr().out)
    assert status["last_drift_report"]["status"] == "drift" and status["capture_files"] >= 1
    assert status["champion"]["model_name"] == "diabetes-model"

    # The champion pinned in git, for a pull request.
    assert main(["release", "propose"]) == 0
    assert "merging it is the promotion" in capsys.readouterr().out
    lock = json.loads((project / "release" / "diabetes-model.lock.json").read_text())
    assert lock["version"] == status["champion"]["model_version"] and "model.skops" in lock["files"]

    assert main(["down"]) == 0 and not (project / ".mlrails").exists()


def _scored_part(project, uri: str) -> pa.Table:
    """The Parquet part at ``uri`` in the project's saved local cloud."""
    from datetime import UTC, datetime

    from mlrails.config import load_config
    from mlrails.local.runtime import LocalRuntime

    with LocalRuntime.resumed(load_config(project / "mlrails.yaml"), project, start=datetime.now(UTC)):
        return pq.read_table(io.BytesIO(s3.get_bytes(uri)))


def _serve_over_http(project, csv: bytes) -> int:
    """POST ``csv`` to the project's local API on a real socket, as `mlrails serve` answers it
    (the same runtime, saved when serving stops); returns how many rows were scored."""
    import threading
    import urllib.request
    from datetime import UTC, datetime

    from mlrails.config import load_config
    from mlrails.local.runtime import LocalRuntime
    from mlrails.local.server import make_server

    with LocalRuntime.resumed(load_config(project / "mlrails.yaml"), project, start=datetime.now(UTC)) as runtime:
        server = make_server(runtime, 0)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        request = urllib.request.Request(
            f"http://127.0.0.1:{server.server_port}/invocations", data=csv, headers={"Content-Type": "text/csv"}
        )
        try:
            with urllib.request.urlopen(request) as response:
                return len(json.loads(response.read())["predictions"])
        finally:
            server.shutdown()
            server.server_close()


def test_a_timestamped_dataset_replays_day_by_day_as_arrivals(workspace, capsys, monkeypatch):
    import pandas as pd

    from mlrails.local.synthetic import churn_frame

    data = workspace / "visits.csv"
    churn_frame(1200, pd.Timestamp("2026-03-01", tz="UTC"), seed=8, span=pd.Timedelta(days=3)).to_csv(data, index=False)
    project = workspace / "visits"
    assert main(["init", str(data), "--dir", str(project), "--target", "churned"]) == 0
    monkeypatch.chdir(project)
    assert main(["up", "--at", "2026-03-01T00:00:00+00:00"]) == 0
    capsys.readouterr()

    # A replay that stopped after its first day (the same file, cut short)...
    rows = pd.read_csv(data)
    cut = workspace / "interrupted" / "visits.csv"
    cut.parent.mkdir()
    rows[pd.to_datetime(rows["event_time"], utc=True) < pd.Timestamp("2026-03-02", tz="UTC")].to_csv(cut, index=False)
    assert main(["upload", "--replay", str(cut)]) == 0
    first = capsys.readouterr().out
    assert "rows of 2026-03-01 arrive → raw/visits-2026-03-01.csv" in first and "Mon 02 Mar 00:00  ▸" in first
    assert "v1 promoted ⇒ ModelPromoted" in first

    # ... goes on where it stopped.
    assert main(["upload", "--replay", str(data)]) == 0
    out = capsys.readouterr().out
    assert "1 day(s) of visits.csv arrived already: 2 left to replay" in out
    arrivals = [line for line in out.splitlines() if "arrive → raw/visits-" in line]
    assert [line.split(" rows of ")[1][:10] for line in arrivals] == ["2026-03-02", "2026-03-03"]
    assert out.count("drift_check") >= 2  # the daily check ran between the arrivals
    assert main(["status", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["now"].startswith("2026-03-04")
    assert main(["upload", "--replay", str(data)]) == 0  # all of it arrived: nothing to do
    assert "3 day(s) of visits.csv arrived already: 0 left to replay" in capsys.readouterr().out


@pytest.mark.scenario
def test_simulate_replays_your_own_data_and_the_kit_reacts_to_its_real_shift(workspace, capsys, monkeypatch):
    import numpy as np
    import pandas as pd

    # A regression of another shape: hourly meter readings whose weather turns hot on day 5.
    rng = np.random.default_rng(3)
    hours = pd.date_range("2026-06-01", periods=8 * 24 * 10, freq="6min", tz="UTC")
    hot = (hours >= pd.Timestamp("2026-06-06", tz="UTC")).astype(float)
    temperature = rng.normal(18, 4, len(hours)) + 12 * hot
    site = rng.choice(["north", "south", "harbour"], len(hours))
    data = workspace / "meters.csv"
    frame = pd.DataFrame(
        {
            "read_at": hours.strftime("%Y-%m-%d %H:%M:%S"),
            "temperature": temperature.round(2),
            "humidity": (rng.normal(60, 10, len(hours)) - 20 * hot).round(1),
            "site": site,
            "load_kw": (
                50 + 2.5 * temperature + np.where(site == "harbour", 15, 0) + rng.normal(0, 3, len(hours))
            ).round(2),
        }
    ).assign(load_kw=lambda f: f["load_kw"].mask(f.index % 97 == 0))  # some outcomes never came
    frame.to_csv(data, index=False)
    project = workspace / "meters"
    assert main(["init", str(data), "--dir", str(project), "--target", "load_kw"]) == 0
    monkeypatch.chdir(project)
    capsys.readouterr()

    assert main(["simulate", "--data", str(data), "--label-delay-hours", "12"]) == 0

    out = capsys.readouterr().out
    days = [line for line in out.splitlines() if line.startswith("[")]
    assert len(days) == 6  # 8 days: 2 of history, 6 replayed
    first_drift = next(i for i, line in enumerate(days) if "DriftDetected" in line)
    assert first_drift >= 3  # not before the weather turns (day 5 of the data, day 3 of the replay)
    assert " promoted: " in out or " rejected: " in out  # the gate decided on the shifted data
    assert "0 failed handler runs" in out


def test_the_demo_and_simulate_without_data_say_what_they_need_on_another_schema(workspace, capsys, monkeypatch):
    data, _ = _make_data()(workspace / "data")
    assert main(["init", str(data), "--dir", str(workspace / "diabetes"), "--target", "target"]) == 0
    monkeypatch.chdir(workspace / "diabetes")
    capsys.readouterr()
    assert main(["simulate"]) == 2
    assert "give --data <your timestamped rows>" in capsys.readouterr().err
    assert main(["demo"]) == 2  # it regenerated churn data and stopped on "the data does not match"
    assert "mlrails up, then mlrails upload <your file>" in capsys.readouterr().err
