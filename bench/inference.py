"""Inference: mlrails' serving path beside MLflow's scoring path, on the same model, in one run.

The example model (``mlrails.models:gradient_boosting``: dense one-hot + gradient boosting) is
the issue's "scaling + dense one-hot + gradient boosting" less the scaler, on purpose: trees
split on order, so scaling changes nothing they learn, and ONNX applies it in float32, which
moved values across split points and broke exact parity with scikit-learn (the promotion's
ONNX check then serves scikit-learn instead). It is trained on synthetic data with 20 numeric
and 5 categorical features *through mlrails*: a
raw file goes through the local runtime (feature_prep → retrain_trigger → train → evaluate
→ promote, including the ONNX compile step when it verifies), so our side serves what
production would. The champion's fitted model is then logged to a separate local MLflow
(SQLite, explicit pip requirements) for MLflow's side.

Measured side by side:
- in-process: our inference handler called with API Gateway events (capture on, sample rate
  1.0, the config's capture buffer: one PutRecordBatch to the stream on moto per 500 records
  or 5 s) vs MLflow's scoring app (FastAPI test client);
- loopback HTTP: ``mlrails serve`` vs ``mlflow models serve --env-manager local``;
- cold start: a fresh process that loads the handler and answers one request vs a fresh
  process doing ``mlflow.pyfunc.load_model`` + predict.

Prints a table, then one JSON line. Usage: ``python bench/inference.py [--quick]``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import io
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

REPO = Path(__file__).resolve().parents[1]
PYTHON = sys.executable
NUMERIC = [f"x{i:02d}" for i in range(20)]
CATEGORICAL = [f"c{i}" for i in range(5)]
START = datetime(2026, 1, 5, 9, tzinfo=UTC)


def synthetic(rows: int, seed: int) -> pd.DataFrame:
    """Labelled rows: the label depends on a few numbers and two categories, with noise."""
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(rng.normal(size=(rows, len(NUMERIC))), columns=NUMERIC)
    for i, name in enumerate(CATEGORICAL):
        frame[name] = rng.choice([f"{name}_{k}" for k in range(3 + 2 * i)], size=rows)
    score = (
        frame["x00"]
        - 0.7 * frame["x01"]
        + 0.5 * frame["x02"] * frame["x03"]
        + (frame["c0"] == "c0_1")
        - 0.8 * (frame["c1"] == "c1_2")
        + rng.normal(scale=0.8, size=rows)
    )
    frame["label"] = (score > 0).astype(int)
    frame["event_time"] = [(START - timedelta(days=3) + timedelta(seconds=30 * i)).isoformat() for i in range(rows)]
    return frame


def project(folder: Path) -> Path:
    """A project directory: the example config with this dataset, the kit's functions."""
    document = yaml.safe_load((REPO / "mlrails.yaml").read_text())
    document["project"] = "bench"
    document["model"] = {"name": "bench-classifier", "entrypoint": "mlrails.models:gradient_boosting"}
    document["dataset"] = {
        "task": "classification",
        "target": "label",
        "timestamp": "event_time",
        "features": [{"name": n, "type": "numeric"} for n in NUMERIC]
        + [{"name": n, "type": "categorical"} for n in CATEGORICAL],
    }
    document["training"] = {"holdout_fraction": 0.2, "seed": 7, "min_rows": 200}
    document["retraining"] = {**document.get("retraining", {}), "min_new_rows": 1000}
    document["capture"] = {"sample_rate": 1.0}
    document["serving"] = {"package": "image"}  # ONNX when promotion verified it, else scikit-learn
    for key in ("use_case", "value"):
        document.pop(key, None)
    document["monitoring"] = {k: v for k, v in document["monitoring"].items() if k != "performance"}
    folder.mkdir(parents=True)
    (folder / "mlrails.yaml").write_text(yaml.safe_dump(document, sort_keys=False))
    (folder / "functions").symlink_to(REPO / "functions")
    return folder


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(values, q))


def timed(call, warmup: int, runs: int) -> list[float]:
    for _ in range(warmup):
        call()
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        call()
        samples.append((time.perf_counter() - started) * 1000)
    return samples


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(url: str, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2) as answer:
                if answer.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    raise TimeoutError(f"{url} did not answer within {seconds} s")


def post(url: str, body: bytes) -> bytes:
    request = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json"}, method="POST")
    with urllib.request.urlopen(request, timeout=30) as answer:
        assert answer.status == 200, answer.status
        return answer.read()


def split_body(frame: pd.DataFrame) -> bytes:
    features = frame[NUMERIC + CATEGORICAL]
    return json.dumps(
        {"dataframe_split": {"columns": list(features.columns), "data": json.loads(features.to_json(orient="values"))}}
    ).encode()


async def asgi_post(app, path: str, body: bytes) -> int:
    """POST ``body`` to an ASGI app in-process (what a test client does, minus its HTTP
    client); returns the status once the whole response is sent."""
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
        "client": ("127.0.0.1", 1),
        "server": ("127.0.0.1", 80),
    }
    sent = False
    status = 0

    async def receive():
        nonlocal sent
        if sent:
            await asyncio.sleep(3600)  # no disconnect while the app works
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message):
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]

    await app(scope, receive, send)
    return status


# A fresh process: import the inference handler as Lambda does and answer one API request.
# Its environment (the function's, pointed at the running moto) comes from the parent.
OUR_COLD = """
import base64, importlib.util, json, sys, time
spec = importlib.util.spec_from_file_location("handler", sys.argv[1])
module = importlib.util.module_from_spec(spec); spec.loader.exec_module(module)
from mlrails.local.invoker import LocalContext
event = json.loads(open(sys.argv[2]).read())
answer = module.lambda_handler(event, LocalContext("cold", 1024, 29))
assert answer["statusCode"] == 200, answer
"""
MLFLOW_COLD = """
import sys, pandas as pd, mlflow.pyfunc
model = mlflow.pyfunc.load_model(sys.argv[1])
model.predict(pd.read_json(sys.argv[2], orient="split"))
"""


def cold_start(args: list[str], env: dict[str, str], repeats: int) -> float:
    """Median seconds from spawning a fresh interpreter to its first prediction done."""
    samples = []
    for _ in range(repeats):
        started = time.perf_counter()
        subprocess.run([PYTHON, "-c", *args], env=env, check=True, capture_output=True)
        samples.append(time.perf_counter() - started)
    return statistics.median(samples)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repetitions (a smoke run)")
    options = parser.parse_args()
    runs_1, runs_100, cold_repeats = (60, 20, 1) if options.quick else (400, 100, 3)

    sys.path.insert(0, str(REPO / "src"))
    import mlflow.pyfunc
    from _mlflow_side import log_champion
    from mlflow.pyfunc import scoring_server

    from mlrails.adapters import deployed, s3
    from mlrails.config import load_config
    from mlrails.local.cloud import LocalCloud, create_resources, deploy_config
    from mlrails.local.invoker import LocalContext
    from mlrails.local.runtime import LocalRuntime, api_event
    from mlrails.promotion import rails
    from mlrails.serving.manifest import Manifest, current_key
    from mlrails.wiring import config_key, function

    tmp = Path(tempfile.mkdtemp(prefix="mlrails-bench-inference-"))
    servers: list[subprocess.Popen] = []
    try:
        folder = project(tmp / "project")
        cfg = load_config(folder / "mlrails.yaml")
        data = synthetic(4000, seed=1)
        requests_1 = [split_body(data.iloc[[i]]) for i in range(50)]
        body_100 = split_body(data.iloc[:100])

        print("training and promoting the example model through mlrails (local runtime) ...", flush=True)
        cwd = Path.cwd()
        os.chdir(folder)  # the runtime and `mlrails serve` work in the project directory
        runtime = LocalRuntime(cfg, folder, start=START)
        runtime.__enter__()
        runtime.upload_raw("bench/history.csv", data.to_csv(index=False).encode())
        names = runtime.cloud.names
        runtime.save()
        runtime.__exit__(None, None, None)
        # From here on moto runs in a process of its own, holding the saved state: the local
        # runtime's in-process moto server would share this process's GIL with the handler
        # (each of its threads' turns costs a request milliseconds that AWS does not).
        moto_port = free_port()
        servers.append(
            subprocess.Popen(
                [str(Path(PYTHON).parent / "moto_server"), "-H", "127.0.0.1", "-p", str(moto_port)],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                start_new_session=True,
            )
        )
        wait_for(f"http://127.0.0.1:{moto_port}/moto-api/", 60)
        cloud = LocalCloud(cfg, folder / ".mlrails")
        os.environ["AWS_ENDPOINT_URL"] = f"http://127.0.0.1:{moto_port}"
        deployed.reset()
        create_resources(cfg, cloud.names)
        cloud.restore_snapshot()
        manifest = Manifest.from_json(s3.get_bytes(s3.uri(names.artifacts_bucket, current_key(cfg.model.name))))
        model = rails.load_model(manifest)
        print(f"  champion v{manifest.version}: served by {manifest.serving} ({manifest.serving_reason})", flush=True)

        features = data[NUMERIC + CATEGORICAL]
        model_uri = log_champion(model, features, f"sqlite:///{tmp / 'mlflow.db'}")
        mlflow_model = mlflow.pyfunc.load_model(model_uri)

        # In-process, ours: the handler loaded as Lambda loads it, with the deployed manifest TTL.
        environment = cloud.environment_for(function("inference")) | {"MLRAILS_MANIFEST_TTL_SECONDS": "60"}
        os.environ.update(environment)
        deployed.reset()  # settings were read with the local runtime's TTL of 0
        import importlib.util

        spec = importlib.util.spec_from_file_location(
            "bench_inference_handler", REPO / "functions/inference/handler.py"
        )
        handler = importlib.util.module_from_spec(spec)
        sink = io.StringIO()
        with contextlib.redirect_stdout(sink):
            spec.loader.exec_module(handler)
        context = LocalContext("bench", 1024, 29)

        def ours(body: bytes):
            event = api_event("POST", "/invocations", START, body, "application/json")
            with contextlib.redirect_stdout(sink):
                answer = handler.lambda_handler(event, context)
            sink.seek(0)
            sink.truncate()
            assert answer["statusCode"] == 200, answer
            return answer

        first = json.loads(ours(body_100)["body"])
        expected = [int(p) for p in model.predict(features.iloc[:100])]
        agreement = float(np.mean(np.array(first["predictions"]) == np.array(expected)))

        app = scoring_server.init(mlflow_model)
        loop = asyncio.new_event_loop()

        def theirs(body: bytes):
            status = loop.run_until_complete(asgi_post(app, "/invocations", body))
            assert status == 200, status

        print("measuring in-process ...", flush=True)
        cycle = iter(range(10**9))
        inproc = {
            "ours_1": timed(lambda: ours(requests_1[next(cycle) % 50]), 30, runs_1),
            "mlflow_1": timed(lambda: theirs(requests_1[next(cycle) % 50]), 30, runs_1),
            "ours_100": timed(lambda: ours(body_100), 10, runs_100),
            "mlflow_100": timed(lambda: theirs(body_100), 10, runs_100),
        }
        sklearn_1 = timed(lambda: model.predict(features.iloc[[next(cycle) % 50]]), 30, runs_1)
        # The same handler with capture.sample_rate 0: what the capture call costs a request.
        uncaptured = cfg.model_copy(update={"capture": cfg.capture.model_copy(update={"sample_rate": 0.0})})
        deploy_config(uncaptured, cloud.names)
        os.environ["MLRAILS_CONFIG_URI"] = s3.uri(cloud.names.artifacts_bucket, config_key(uncaptured))
        deployed.reset()
        with contextlib.redirect_stdout(sink):
            spec.loader.exec_module(handler)
        no_capture_1 = timed(lambda: ours(requests_1[next(cycle) % 50]), 30, runs_1)

        print("starting `mlrails serve` and `mlflow models serve` ...", flush=True)
        base_env = {k: v for k, v in os.environ.items() if not k.startswith(("MLRAILS_", "AWS_ENDPOINT", "POWERTOOLS"))}
        # MLflow without its usage telemetry, as the kit runs it: with it, a process that used
        # MLflow waits at exit for a report this machine cannot send.
        base_env["MLFLOW_DISABLE_TELEMETRY"] = "true"
        # `mlflow models serve` runs uvicorn from PATH: this virtualenv's.
        base_env["PATH"] = f"{Path(PYTHON).parent}{os.pathsep}{base_env.get('PATH', '')}"
        our_port, their_port = free_port(), free_port()
        servers.append(
            subprocess.Popen(
                [str(Path(PYTHON).parent / "mlrails"), "serve", "--port", str(our_port)],
                cwd=folder,
                env=base_env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                start_new_session=True,
            )
        )
        servers.append(
            subprocess.Popen(
                [
                    str(Path(PYTHON).parent / "mlflow"),
                    "models",
                    "serve",
                    "-m",
                    model_uri,
                    "--env-manager",
                    "local",
                    "--host",
                    "127.0.0.1",
                    "-p",
                    str(their_port),
                ],
                env=base_env | {"MLFLOW_TRACKING_URI": f"sqlite:///{tmp / 'mlflow.db'}"},
                stdout=subprocess.DEVNULL,
                stderr=(tmp / "mlflow-serve.log").open("w"),
                start_new_session=True,
            )
        )
        wait_for(f"http://127.0.0.1:{our_port}/ping", 120)
        try:
            wait_for(f"http://127.0.0.1:{their_port}/ping", 120)
        except TimeoutError:
            print((tmp / "mlflow-serve.log").read_text()[-3000:], file=sys.stderr)
            raise
        ours_url, theirs_url = f"http://127.0.0.1:{our_port}/invocations", f"http://127.0.0.1:{their_port}/invocations"
        print("measuring over loopback HTTP ...", flush=True)
        http = {
            "ours_1": timed(lambda: post(ours_url, requests_1[next(cycle) % 50]), 30, runs_1),
            "mlflow_1": timed(lambda: post(theirs_url, requests_1[next(cycle) % 50]), 30, runs_1),
            "ours_100": timed(lambda: post(ours_url, body_100), 10, runs_100),
            "mlflow_100": timed(lambda: post(theirs_url, body_100), 10, runs_100),
        }

        print("measuring cold starts (fresh processes) ...", flush=True)
        # Ours needs S3 for the manifest and model: the moto server holding the saved state.
        event_file, frame_file = tmp / "event.json", tmp / "frame.json"
        event_file.write_text(json.dumps(api_event("POST", "/invocations", START, requests_1[0], "application/json")))
        features.iloc[[0]].to_json(frame_file, orient="split", index=False)
        # As Lambda starts a function: its name and task root set, so the X-Ray SDK behind
        # Powertools Tracer starts as it does there (outside Lambda it also sets up a sampling
        # rule poller, 0.3 s that a deployed function never spends).
        cold_env = (
            base_env
            | environment
            | {
                k: os.environ[k]
                for k in (
                    "AWS_ENDPOINT_URL",
                    "AWS_ACCESS_KEY_ID",
                    "AWS_SECRET_ACCESS_KEY",
                    "AWS_SESSION_TOKEN",
                    "AWS_DEFAULT_REGION",
                )
            }
            | {
                "PYTHONPATH": str(REPO / "src"),
                "MLRAILS_MANIFEST_TTL_SECONDS": "60",
                "AWS_LAMBDA_FUNCTION_NAME": "mlrails-bench-inference",
                "LAMBDA_TASK_ROOT": str(REPO / "functions/inference"),
            }
        )
        cold_ours = cold_start(
            [OUR_COLD, str(REPO / "functions/inference/handler.py"), str(event_file)], cold_env, cold_repeats
        )
        cold_mlflow = cold_start(
            [MLFLOW_COLD, model_uri, str(frame_file)],
            base_env | {"MLFLOW_TRACKING_URI": f"sqlite:///{tmp / 'mlflow.db'}"},
            cold_repeats,
        )
        os.chdir(cwd)
    finally:
        for server in servers:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(server.pid, 15)
            server.wait(timeout=30)
        shutil.rmtree(tmp, ignore_errors=True)

    p50 = {
        f"{side}_{kind}": percentile(values, 50)
        for kind, table in (("inproc", inproc), ("http", http))
        for side, values in table.items()
    }
    result = {
        "p50_1row_ms": round(p50["ours_1_inproc"], 3),
        "p99_1row_ms": round(percentile(inproc["ours_1"], 99), 3),
        "p50_100row_ms": round(p50["ours_100_inproc"], 3),
        "mlflow_p50_1row_ms": round(p50["mlflow_1_inproc"], 3),
        "mlflow_p99_1row_ms": round(percentile(inproc["mlflow_1"], 99), 3),
        "mlflow_p50_100row_ms": round(p50["mlflow_100_inproc"], 3),
        "http_p50_1row_ms": round(p50["ours_1_http"], 3),
        "http_p99_1row_ms": round(percentile(http["ours_1"], 99), 3),
        "mlflow_http_p50_1row_ms": round(p50["mlflow_1_http"], 3),
        "http_p50_100row_ms": round(p50["ours_100_http"], 3),
        "mlflow_http_p50_100row_ms": round(p50["mlflow_100_http"], 3),
        "sklearn_p50_1row_ms": round(percentile(sklearn_1, 50), 3),
        "p50_1row_no_capture_ms": round(percentile(no_capture_1, 50), 3),
        "speedup_1row_inproc": round(p50["mlflow_1_inproc"] / p50["ours_1_inproc"], 1),
        "speedup_1row_http": round(p50["mlflow_1_http"] / p50["ours_1_http"], 1),
        "speedup_100row": round(p50["mlflow_100_inproc"] / p50["ours_100_inproc"], 1),
        "speedup_100row_http": round(p50["mlflow_100_http"] / p50["ours_100_http"], 1),
        "cold_start_s": round(cold_ours, 2),
        "mlflow_cold_start_s": round(cold_mlflow, 2),
        "serving_path": manifest.serving,
        "prediction_agreement": agreement,
    }
    budgets = {
        "1-row p50 in-process >= 20x lower than MLflow": result["speedup_1row_inproc"] >= 20,
        "1-row p50 over HTTP >= 5x lower than MLflow": result["speedup_1row_http"] >= 5,
        "100-row p50 >= 5x lower than MLflow": result["speedup_100row"] >= 5,
        "cold start <= 1/5 of MLflow's": result["cold_start_s"] <= result["mlflow_cold_start_s"] / 5,
    }
    result["budgets_met"] = all(budgets.values())

    print(
        f"\nexample model: one-hot + gradient boosting, {len(NUMERIC)} numeric + {len(CATEGORICAL)} categorical "
        f"features; mlrails serves it by {manifest.serving}; {agreement:.0%} of 100 predictions agree with scikit-learn"
    )
    print(f"{'':28}{'mlrails':>12}{'MLflow':>12}{'speed-up':>10}")
    rows = [
        ("in-process 1 row p50 (ms)", "ours_1", "mlflow_1", inproc, 50),
        ("in-process 1 row p99 (ms)", "ours_1", "mlflow_1", inproc, 99),
        ("in-process 100 rows p50", "ours_100", "mlflow_100", inproc, 50),
        ("HTTP 1 row p50 (ms)", "ours_1", "mlflow_1", http, 50),
        ("HTTP 1 row p99 (ms)", "ours_1", "mlflow_1", http, 99),
        ("HTTP 100 rows p50 (ms)", "ours_100", "mlflow_100", http, 50),
    ]
    for label, a, b, table, q in rows:
        x, y = percentile(table[a], q), percentile(table[b], q)
        print(f"{label:28}{x:12.3f}{y:12.3f}{y / x:9.1f}x")
    print(f"{'cold start (s)':28}{cold_ours:12.2f}{cold_mlflow:12.2f}{cold_mlflow / cold_ours:9.1f}x")
    print(
        f"(raw scikit-learn predict, 1 row: {result['sklearn_p50_1row_ms']:.3f} ms p50; our handler with "
        f"capture off: {result['p50_1row_no_capture_ms']:.3f} ms p50)"
    )
    for name, met in budgets.items():
        print(f"  {'ok  ' if met else 'MISS'} {name}")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
