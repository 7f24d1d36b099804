"""The local lifecycle end to end: `mlrails demo` (a real process, as `make demo` runs it)
drives the real handlers through the real wiring on moto and a local MLflow; then the
operator commands and `mlrails predict` work on what it left."""

import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from mlrails.adapters import deployed, s3
from mlrails.cli import main

REPO = Path(__file__).resolve().parents[2]
MLRAILS = [sys.executable, "-m", "mlrails.cli"]

pytestmark = [pytest.mark.e2e, pytest.mark.scenario]


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Path:
    """A project directory like a user's: the config and the functions."""
    root = tmp_path_factory.mktemp("project")
    shutil.copy(REPO / "mlrails.yaml", root / "mlrails.yaml")
    return root


def _run(args: list[str], cwd: Path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "MLFLOW_"))}
    return subprocess.run(MLRAILS + args, cwd=cwd, env=env, capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def demo(project: Path) -> subprocess.CompletedProcess:
    return _run(["demo"], project)


@dataclass(frozen=True)
class Outcome:
    returncode: int
    stdout: str
    stderr: str


@pytest.fixture
def cli(project: Path, capsys, monkeypatch):
    """Run a command in this process (cheaper than a new interpreter per command); the local
    runtime's process-wide settings (endpoint, credentials) are put back afterwards."""
    monkeypatch.chdir(project)

    def run(args: list[str]) -> Outcome:
        saved = dict(os.environ)
        try:
            code = main(args)
        finally:
            os.environ.clear()
            os.environ.update(saved)
            deployed.reset()
        captured = capsys.readouterr()
        return Outcome(code, captured.out, captured.err)

    return run


def test_demo_runs_the_whole_lifecycle(demo):
    assert demo.returncode == 0, demo.stdout + demo.stderr
    out = demo.stdout
    order = [
        "1. Is the right data available?",
        "all three answers are yes",
        "feature_prep",
        "FeaturesReady",
        "RetrainRequested",
        "holds MLflow ⇒ started",  # MLflow on demand: held for the run...
        "v1",
        "ModelPromoted",
        "released MLflow ⇒ stopped",  # ...and released after it
        "quarantined",
        "400 BAD_REQUEST",
        "requests answered 200",
        "drift_check",
        "model.entrypoint: mlrails.models:gradient",
        "DriftDetected",
        "input drift detected",
        "v2",
        "vs champion v1",
        "insufficient data",
        "scheduled cadence",
        "v3",
        "gate says reject",
        "not enough",
        "v3 rejected ⇒ ModelRejected",
        "mlrails rollback → v1",
        "GET /version → 200 v1",
        "mlrails promote --version 2",
        "mlrails predict",
    ]
    positions = [out.find(marker) for marker in order]
    assert -1 not in positions, [m for m, p in zip(order, positions) if p == -1]
    assert positions == sorted(positions), "the timeline is out of order"
    assert "0 failed" in out and "promoted by the gate v1, v2, rejected v3" in out


def _snapshot(project: Path, bucket_suffix: str) -> Path:
    return project / ".mlrails" / "snapshot" / f"mlrails-churn-{bucket_suffix}"


def test_the_bad_file_is_quarantined_with_its_reason_and_nothing_is_lost(demo, project):
    data = _snapshot(project, "data")
    kept = data / "quarantine" / "day-00" / "export-broken.csv"
    assert kept.is_file() and kept.read_text().startswith("event_time,")
    reason = json.loads((data / "quarantine" / "day-00" / "export-broken.csv.reason.json").read_text())
    assert reason["reason"] == "missing_columns" and reason["details"]["missing"] == ["churned"]
    assert not (data / "raw" / "day-00" / "export-broken.csv").exists()
    # In the partition of its newest row's day.
    assert len(list((data / "features").glob("date=*/raw/day-00/customers.csv.parquet"))) == 1
    assert any((data / "capture").rglob("*.jsonl"))


def test_the_manifest_names_the_retrained_champion(demo, project):
    artifacts = _snapshot(project, "artifacts")
    manifest = json.loads((artifacts / "manifests" / "churn-classifier" / "current.json").read_text())
    assert manifest["version"] == "2" and manifest["previous_version"] == "1"
    assert manifest["reason"] == "roll forward after checking"
    assert (artifacts / "models" / "churn-classifier" / "v2" / "model.skops").is_file()
    assert any((artifacts / "reports" / "drift").rglob("*.json"))


def test_predict_serves_the_champion_and_explains_bad_input(demo, cli):
    good = cli(
        [
            "predict",
            json.dumps(
                {
                    "dataframe_records": [
                        {
                            "tenure_months": 3,
                            "monthly_charges": 70.5,
                            "support_calls": 4,
                            "plan": "basic",
                            "region": "north",
                        }
                    ]
                }
            ),
        ]
    )
    assert good.returncode == 0, good.stderr
    answer = json.loads(good.stdout)
    assert answer["status"] == 200 and answer["body"]["model_version"] == "2"
    assert len(answer["body"]["predictions"]) == 1
    bad = cli(["predict", '{"dataframe_records": [{"tenure_months": "many"}]}'])
    assert bad.returncode == 1
    assert json.loads(bad.stdout)["status"] == 400


def test_operator_commands_keep_manifest_and_aliases_consistent(demo, project, cli):
    models = cli(["models"])
    assert models.returncode == 0, models.stderr
    assert "v2       champion" in models.stdout and "v1       previous" in models.stdout
    assert "reject   v3    by gate" in models.stdout
    # Beside each version: what its gate compared on the same rows, its decision, its serving path.
    table = {line.split()[0]: line for line in models.stdout.split("\n\n")[1].splitlines()[1:]}
    assert "vs champion v2" in table["v3"] and table["v3"].endswith("rejected          -")
    assert "vs champion v1" in table["v2"] and table["v2"].endswith("promoted          onnx")
    assert "nothing to beat" in table["v1"] and "v2       onnx: verified on" in models.stdout

    rolled = cli(["rollback"])
    assert (
        rolled.returncode == 0 and "v1 is the champion again (the first champion: nothing before it)" in rolled.stdout
    )
    manifest = json.loads(
        (_snapshot(project, "artifacts") / "manifests" / "churn-classifier" / "current.json").read_text()
    )
    assert (manifest["version"], manifest["previous_version"]) == ("1", None)
    assert "v1       champion" in cli(["models"]).stdout

    forward = cli(["promote", "--version", "2", "--reason", "checked"])
    assert forward.returncode == 0 and "v2 is the champion (previous: v1)" in forward.stdout
    unknown = cli(["promote", "--version", "9"])
    assert unknown.returncode == 2 and "v9 has no candidate manifest" in unknown.stderr


def test_serve_answers_curl_and_mlflows_scoring_client(demo, project, monkeypatch):
    import threading
    import urllib.error
    import urllib.request
    from datetime import UTC, datetime

    import pandas as pd
    from mlflow.pyfunc.scoring_server.client import ScoringServerClient

    from mlrails.config import load_config
    from mlrails.local.runtime import LocalRuntime
    from mlrails.local.server import make_server

    monkeypatch.chdir(project)
    saved = dict(os.environ)
    row = {"tenure_months": 3.0, "monthly_charges": 70.5, "support_calls": 4, "plan": "basic", "region": "north"}
    try:
        cfg = load_config("mlrails.yaml")
        with LocalRuntime.resumed(cfg, project, start=datetime.now(UTC)) as runtime:
            served_at = runtime.now.isoformat()
            server = make_server(runtime, 0)
            threading.Thread(target=server.serve_forever, daemon=True).start()
            url = f"http://127.0.0.1:{server.server_port}"

            def post(body: bytes, content_type: str) -> tuple[int, dict]:
                request = urllib.request.Request(
                    f"{url}/invocations", data=body, method="POST", headers={"Content-Type": content_type}
                )
                try:
                    with urllib.request.urlopen(request) as response:
                        return response.status, json.loads(response.read())
                except urllib.error.HTTPError as error:
                    return error.code, json.loads(error.read())

            with urllib.request.urlopen(f"{url}/ping") as response:
                assert json.loads(response.read()) == {"status": "ok"}
            bodies = [
                ({"dataframe_split": {"columns": list(row), "data": [list(row.values())]}}, "application/json"),
                ({"dataframe_records": [row]}, "application/json"),
                ({"instances": [row]}, "application/json"),
                ({"inputs": {k: [v] for k, v in row.items()}}, "application/json"),
            ]
            served_ids = []
            for body, content_type in bodies:
                status, answer = post(json.dumps(body).encode(), content_type)
                assert status == 200 and answer["model_version"] == "2" and len(answer["predictions"]) == 1
                served_ids += answer["prediction_ids"]
            csv = ",".join(row) + "\n" + ",".join(str(v) for v in row.values()) + "\n"
            status, answer = post(csv.encode(), "text/csv")
            assert status == 200
            served_ids += answer["prediction_ids"]
            status, answer = post(b'{"dataframe_records": [{"colour": "red"}]}', "application/json")
            assert status == 400 and answer["error_code"] == "BAD_REQUEST"
            scored = ScoringServerClient("127.0.0.1", server.server_port).invoke(pd.DataFrame([row]))
            assert scored["model_version"] == "2" and len(scored["predictions"]) == 1
            served_ids += scored["prediction_ids"]
            server.shutdown()
            server.server_close()

        # What was served is captured and kept for the next command, as a deployed capture
        # stream keeps it for the drift and performance checks.
        with LocalRuntime.resumed(cfg, project, start=datetime.now(UTC)) as runtime:
            captured = [
                json.loads(line)
                for key in s3.list_keys(runtime.cloud.names.data_bucket, "capture/")
                for line in s3.get_bytes(s3.uri(runtime.cloud.names.data_bucket, key)).splitlines()
            ]
        served = {record["prediction_id"]: record for record in captured if record["prediction_id"] in served_ids}
        assert len(served_ids) == 6 and set(served) == set(served_ids)
        assert {(r["model_version"], r["timestamp"]) for r in served.values()} == {("2", served_at)}
    finally:
        os.environ.clear()
        os.environ.update(saved)
        deployed.reset()
