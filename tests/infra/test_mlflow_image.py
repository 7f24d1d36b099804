"""The MLflow server image runs the project's own MLflow: the server that stores runs and
the client that writes them must not drift apart."""

import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def _pins(text: str) -> dict[str, str]:
    return {name.lower(): version for name, version in re.findall(r"([A-Za-z0-9_.-]+)==([0-9][^\s\\]*)", text)}


def test_the_server_pins_the_locked_mlflow_and_boto3():
    server = _pins((REPO / "infra" / "mlflow" / "Dockerfile").read_text())
    lock = _pins((REPO / "requirements" / "runtime.lock").read_text())
    assert server["mlflow"] == lock["mlflow"]
    assert server["boto3"] == lock["boto3"]


def test_the_server_sends_no_usage_telemetry():
    assert re.search(r"^\s*MLFLOW_DISABLE_TELEMETRY=true", (REPO / "infra" / "mlflow" / "Dockerfile").read_text(),
                     re.MULTILINE)
