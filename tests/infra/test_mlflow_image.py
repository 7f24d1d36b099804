"""The MLflow server image: what it installs is held by tests/packaging/test_lock.py (the locked
export, the same mlflow and boto3 as the train function)."""

import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_the_server_sends_no_usage_telemetry():
    assert re.search(
        r"^\s*MLFLOW_DISABLE_TELEMETRY=true", (REPO / "infra" / "mlflow" / "Dockerfile").read_text(), re.MULTILINE
    )
