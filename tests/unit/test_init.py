"""`mlrails init`: the schema a data file suggests, and a project folder mlrails accepts,
whose model test passes, for more than one kind of project."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from mlrails.cli import main
from mlrails.config import load_config
from mlrails.errors import ConfigError
from mlrails.local.synthetic import churn_frame
from mlrails.scaffold.schema import infer

RNG = np.random.default_rng(5)


def _text(frame: pd.DataFrame) -> pd.DataFrame:
    """As a CSV reads: every column text, empty cells missing."""
    return frame.astype(object).where(frame.notna(), None).map(lambda v: None if v is None else str(v))


def _readings(rows: int) -> pd.DataFrame:
    """A regression with a nullable number, a category with gaps and an id-like column."""
    temperature = RNG.normal(20, 5, rows)
    return pd.DataFrame(
        {
            "reading_id": [f"r-{i:05d}" for i in range(rows)],
            "measured_at": pd.date_range("2026-01-01", periods=rows, freq="h", tz="UTC").strftime("%Y-%m-%d %H:%M:%S"),
            "temperature": np.where(RNG.random(rows) < 0.1, np.nan, temperature),
            "site": RNG.choice(["a", "b", "c", None], rows),
            "load_kw": 3 * np.nan_to_num(temperature, nan=20) + RNG.normal(0, 2, rows),
        }
    )


def test_the_schema_of_a_classification_file():
    found = infer(_text(churn_frame(300, pd.Timestamp("2026-03-01", tz="UTC"), seed=1)), target="churned")
    assert (found.task, found.target, found.timestamp) == ("classification", "churned", "event_time")
    assert {c.name: c.type for c in found.features} == {
        "tenure_months": "numeric",
        "monthly_charges": "numeric",
        "support_calls": "numeric",
        "plan": "categorical",
        "region": "categorical",
    }
    assert found.classes == ["0", "1"] and not any(c.nullable for c in found.features)


def test_the_schema_of_a_regression_file_with_gaps_and_an_id():
    found = infer(_text(_readings(400)), target="load_kw")
    assert (found.task, found.timestamp) == ("regression", "measured_at")
    columns = {c.name: c for c in found.features}
    assert columns["temperature"].type == "numeric" and columns["temperature"].nullable
    assert columns["site"].type == "categorical" and columns["site"].nullable
    assert any("'reading_id' has 400 distinct values" in check for check in found.checks)
    assert found.target_std and found.target_std > 0


def test_the_target_is_found_by_name_and_labels_make_a_multiclass_task():
    frame = _text(churn_frame(200, pd.Timestamp("2026-03-01", tz="UTC"), seed=2)).drop(columns="churned")
    frame["label"] = RNG.choice(["low", "mid", "high"], len(frame))
    found = infer(frame)
    assert (found.target, found.task, found.classes) == ("label", "classification", ["high", "low", "mid"])


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda f: f.drop(columns="churned"), "which column is the target"),
        (lambda f: f.assign(churned="1"), "a single class"),
    ],
)
def test_what_cannot_be_inferred_is_said(change, message):
    frame = _text(churn_frame(100, pd.Timestamp("2026-03-01", tz="UTC"), seed=3))
    with pytest.raises(ConfigError, match=message):
        infer(change(frame), target=None if message == "which column is the target" else "churned")


def test_times_as_epoch_milliseconds_or_none_at_all():
    frame = _text(churn_frame(200, pd.Timestamp("2026-03-01", tz="UTC"), seed=7))
    millis = (pd.to_datetime(frame["event_time"], format="ISO8601") - pd.Timestamp(0, tz="UTC")) // pd.Timedelta("1ms")
    found = infer(frame.assign(event_time=millis.astype(str)).rename(columns={"event_time": "ts"}), target="churned")
    assert (found.timestamp, found.timestamp_format) == ("ts", "epoch_millis")
    assert "support_calls" in {c.name for c in found.features}  # small numbers, not times

    found = infer(frame.drop(columns="event_time"), target="churned")
    assert found.timestamp is None and "arrival time" in found.reasons["timestamp"]
    with pytest.raises(ConfigError, match="neither ISO 8601 times nor epoch"):
        infer(frame, target="churned", timestamp="plan")


@pytest.mark.parametrize("kind", ["churn", "readings", "untimed"])
def test_init_writes_a_project_mlrails_accepts_and_its_model_test_passes(tmp_path, capsys, kind):
    data = tmp_path / f"{kind}.csv"
    if kind in ("churn", "untimed"):
        frame = churn_frame(800, pd.Timestamp("2026-03-01", tz="UTC"), seed=4)
        (frame if kind == "churn" else frame.drop(columns="event_time")).to_csv(data, index=False)
        target = "churned"
    else:
        _readings(800).to_csv(data, index=False)
        target = "load_kw"
    project = tmp_path / "project"

    assert main(["init", str(data), "--dir", str(project), "--target", target]) == 0
    out = capsys.readouterr().out
    assert "check by hand:" in out and "next: cd" in out

    cfg = load_config(project / "mlrails.yaml")
    assert cfg.model.entrypoint == "models:model" and cfg.dataset.target == target
    assert (cfg.dataset.timestamp is None) == (kind == "untimed")
    assert len(pd.read_csv(project / "data" / "sample.csv")) == 800
    cdk = json.loads((project / "cdk.json").read_text())
    assert cdk["context"]["mlrails:config"] == str((project / "mlrails.yaml").resolve())
    assert "-m infra.app" in cdk["app"]
    # The generated test, run as its user runs it: pytest in the project folder.
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"],
        cwd=project,
        capture_output=True,
        text=True,
        check=False,
    )
    assert run.returncode == 0, run.stdout + run.stderr

    assert main(["init", str(data), "--dir", str(project), "--target", target]) == 2
    assert "exist(s): pass --force" in capsys.readouterr().err


def test_init_never_writes_over_a_users_files_and_quotes_odd_names(tmp_path, capsys):
    frame = churn_frame(300, pd.Timestamp("2026-03-01", tz="UTC"), seed=9).rename(
        columns={"plan": "price, usd", "region": "yes", "support_calls": "a #b"}
    )
    data = tmp_path / "odd.csv"
    frame.to_csv(data)  # with pandas' index: a column named "Unnamed: 0"
    project = tmp_path / "2026-churn"
    project.mkdir()
    (project / "models.py").write_text("# the user's own\n")

    assert main(["init", str(data), "--dir", str(project), "--target", "churned"]) == 2
    assert "models.py exist(s): pass --force" in capsys.readouterr().err
    assert (project / "models.py").read_text() == "# the user's own\n" and not (project / "mlrails.yaml").exists()

    assert main(["init", str(data), "--dir", str(project), "--target", "churned", "--force"]) == 0
    cfg = load_config(project / "mlrails.yaml")
    assert cfg.project == "p-2026-churn"
    assert {"Unnamed: 0", "price, usd", "yes", "a #b"} <= set(cfg.dataset.feature_names)


def test_a_parquet_file_keeps_its_typed_times(tmp_path):
    frame = churn_frame(200, pd.Timestamp("2026-03-01", tz="UTC"), seed=10)
    frame["event_time"] = pd.to_datetime(frame["event_time"], format="ISO8601")
    found = infer(frame, target="churned")
    assert (found.timestamp, found.timestamp_format) == ("event_time", "iso8601")
    assert "event_time" not in {c.name for c in found.features}
