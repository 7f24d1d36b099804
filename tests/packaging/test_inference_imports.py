"""The compiled path's import graph, in a fresh interpreter as Lambda starts one: the inference
handler loads, serves a request from an ONNX champion, and has imported neither MLflow,
scikit-learn, SciPy, pandas nor skops.

The champion is trained and promoted by the real rails on moto; a ThreadedMotoServer in this
process serves the same moto backends over HTTP to the child interpreter (AWS_ENDPOINT_URL).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import timedelta

from moto.server import ThreadedMotoServer

from mlrails.adapters.registry import Registry
from mlrails.config import Serving
from mlrails.local.synthetic import churn_frame
from mlrails.settings import Settings
from mlrails.training import lifecycle
from mlrails.wiring import config_key
from support.aws import DAY, put_features
from support.samples import EVENTS, REPO

HEAVY = ("mlflow", "sklearn", "scipy", "pandas", "skops")

# Run by the child: load the handler by path (as the runtime does), answer one API request.
CHILD = """
import importlib.util, json, sys

class Context:  # what Powertools reads from Lambda's context object
    function_name, memory_limit_in_mb, aws_request_id = "inference", 1024, "cold-start-check"
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:inference"

spec = importlib.util.spec_from_file_location("handler", sys.argv[1])
handler = importlib.util.module_from_spec(spec)
spec.loader.exec_module(handler)
loaded_by_import = sorted(sys.modules)
response = handler.lambda_handler(json.load(open(sys.argv[2])), Context())
print(json.dumps({"status": response["statusCode"], "body": json.loads(response["body"]),
                  "path": handler.champions().get().path,
                  "at_import": loaded_by_import, "after_request": sorted(sys.modules)}))
"""


def test_the_onnx_path_imports_no_mlflow_sklearn_scipy_pandas_or_skops(cfg, cloud, mlflow_db, monkeypatch):
    compiled_cfg = cfg.model_copy(
        update={
            "model": cfg.model.model_copy(update={"entrypoint": "mlrails.models:gradient_boosting"}),
            "serving": Serving(package="onnx"),
        }
    )
    put_features(cloud, cfg, churn_frame(1500, DAY - timedelta(days=3), seed=21, span=timedelta(days=3)))
    settings = Settings.from_env(needs_tracking=True)
    outcome = lifecycle.train_and_promote(
        compiled_cfg, settings, Registry.for_settings(settings, cfg.model.name), reason="test", trigger_id="t1", at=DAY
    )
    assert outcome.promoted, outcome.reason
    from mlrails.local.cloud import deploy_config

    deploy_config(compiled_cfg, cloud)

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        env = {
            **os.environ,
            "AWS_ENDPOINT_URL": f"http://{host}:{port}",
            "MLRAILS_CONFIG_URI": f"s3://{cloud.artifacts_bucket}/{config_key(compiled_cfg)}",
            "POWERTOOLS_SERVICE_NAME": "inference",
            "AWS_LAMBDA_FUNCTION_NAME": "inference",
        }
        child = subprocess.run(
            [
                sys.executable,
                "-I",
                "-c",
                CHILD,
                str(REPO / "functions" / "inference" / "handler.py"),
                str(EVENTS / "inference_invocations_records.json"),
            ],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            cwd=REPO,
        )
    finally:
        server.stop()
    assert child.returncode == 0, child.stderr[-3000:]
    report = json.loads(child.stdout.strip().splitlines()[-1])

    assert report["status"] == 200, report["body"]
    assert report["path"] == "onnx" and len(report["body"]["predictions"]) == 3
    for phase in ("at_import", "after_request"):
        heavy = sorted({name.split(".")[0] for name in report[phase]} & set(HEAVY))
        assert heavy == [], f"{phase}: the ONNX path imported {heavy}"
    assert "onnxruntime" not in report["at_import"]  # loaded with the first champion, not at import
    assert "onnxruntime" in report["after_request"]
