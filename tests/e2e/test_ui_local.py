"""`mlrails ui` on the local environment: MLflow's own server on localhost over the local
store (a real `mlflow server` process), stopped by Ctrl-C; and a clear error without a store."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from mlrails.adapters.registry import Registry

pytestmark = pytest.mark.e2e
REPO = Path(__file__).resolve().parents[2]
MLRAILS = [sys.executable, "-m", "mlrails.cli"]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _get(url: str, timeout: float = 2) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as answer:
            return answer.status, answer.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


# A real MLflow server's start (seconds of imports and migrations): with the long scenarios.
@pytest.mark.scenario
def test_the_local_store_is_served_on_localhost_until_interrupted(tmp_path):
    shutil.copy(REPO / "mlrails.yaml", tmp_path / "mlrails.yaml")
    (tmp_path / ".mlrails").mkdir()
    Registry(f"sqlite:///{tmp_path / '.mlrails' / 'mlflow.db'}", "churn-classifier")  # the experiment a run makes
    port, log = _free_port(), tmp_path / "ui.log"
    with log.open("wb") as output:  # a file, not a pipe: MLflow's workers may outlive a pipe's reader
        # A session of its own, as a terminal's foreground group: Ctrl-C reaches MLflow too.
        ui = subprocess.Popen(
            [*MLRAILS, "ui", "--port", str(port)], cwd=tmp_path, stdout=output, stderr=output, start_new_session=True
        )
    try:
        deadline, status = time.monotonic() + 180, None  # imports and migrations, on a busy machine too
        while time.monotonic() < deadline and ui.poll() is None:
            try:
                status, _ = _get(f"http://127.0.0.1:{port}/health")
            except (urllib.error.URLError, OSError):
                status = None
            if status == 200:
                break
            time.sleep(0.5)
        assert status == 200, log.read_text()
        code, body = _get(
            f"http://127.0.0.1:{port}/api/2.0/mlflow/experiments/get-by-name?experiment_name=churn-classifier",
            timeout=60,  # the server's first store query opens the database: seconds on a busy machine
        )
        assert code == 200 and json.loads(body)["experiment"]["name"] == "churn-classifier"
    finally:
        os.killpg(ui.pid, signal.SIGINT)  # Ctrl-C
        try:
            ui.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(ui.pid, signal.SIGKILL)
            raise
    assert ui.returncode == 0
    assert "MLflow of the local environment at http://localhost" in log.read_text()


def test_without_a_local_store_the_command_says_what_to_run(tmp_path):
    shutil.copy(REPO / "mlrails.yaml", tmp_path / "mlrails.yaml")
    done = subprocess.run([*MLRAILS, "ui"], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert done.returncode != 0 and "run `mlrails demo` or `mlrails up` first" in done.stderr
