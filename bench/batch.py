"""Batch scoring: mlrails' batch path beside MLflow's own batch path, same rows, same model, one run.

The example project (mlrails.yaml: the churn schema) with its real first model
(``mlrails.models:gradient_boosting``) and ``serving.package: image`` (``--package``), so the
champion is served by ONNX when promotion verified its graph, as a deployment of that package
would. It is trained and promoted through the local runtime (feature_prep → retrain_trigger →
train → evaluate → promote), then its fitted model is logged to a separate local MLflow
(bench/_mlflow_side.py) for MLflow's side.

``--rows`` rows (1,000,000 by default) of the example's features are drawn once and written as
four Parquet files of two row groups each: eight items, two shards of ``batch.items_per_batch``
(4) items, scored by ``min(batch.max_concurrency, CPUs)`` worker processes (``--workers``).

Measured:
- mlrails: ``mlrails.local.batch.run_local`` over the Parquet files already in the local S3
  (moto's server mode): plan, shards on a spawned process pool (read, validate, predict, write a
  Parquet part per shard back to S3), summary. The upload of the files is timed apart.
- ``mlflow models predict -m <model> -i <csv> -t csv -o <json> --env-manager local``: MLflow's
  documented batch command, in a fresh process, end to end (it reads no Parquet: it gets the
  same rows as CSV, written beforehand, untimed).
- ``mlflow.pyfunc.load_model(...).predict(frame)`` in this process over the whole DataFrame,
  already in memory: the stricter comparator, with no file read or written.

Peak memory: resident-set high-water marks. Ours: this process's rise during the job
(bench/_measure.py) and the largest worker's (``RUSAGE_CHILDREN``, read after the pool has
exited: no other child has run by then); the CLI's: its own (``wait4``); pyfunc: this
process's rise during predict. The projected AWS cost per million predictions prices the
measured per-shard time at the shard function's memory with the project's price table
(mlrails.cost.prices). Prints the figures, then ONE JSON line. Usage:
``python bench/batch.py [--rows N] [--package onnx|full|image] [--workers N]``.
"""

from __future__ import annotations

import argparse
import io
import json
import math
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import yaml

REPO = Path(__file__).resolve().parents[1]
PYTHON = sys.executable
START = datetime(2026, 3, 2, tzinfo=UTC)
FILES, ROW_GROUPS_PER_FILE = 4, 2
MIN_SPEEDUP = 10.0  # the budget: >= 10x the throughput of `mlflow models predict`
# A shard runs with the batch function's settings, locally as on AWS (mlrails.local.batch),
# and is priced at its memory.
SHARD_FUNCTION = "batch"
# Step Functions, standard workflows: a Distributed Map bills one state transition per child
# execution it starts (AWS's "Transitions" page of the Step Functions developer guide), and
# the child's one Task state (invoke the shard function) one more; the parent's own states
# (plan, map, summarize, publish) a few per job. Priced at the table's standard-workflow rate.
TRANSITIONS_PER_SHARD = 2
TRANSITIONS_PER_JOB = 4


def project(folder: Path, package: str) -> Path:
    """The example project with its real first model and ``package``, the kit's functions."""
    document = yaml.safe_load((REPO / "mlrails.yaml").read_text())
    document["model"]["entrypoint"] = "mlrails.models:gradient_boosting"
    document["serving"] = {"package": package}
    folder.mkdir(parents=True)
    (folder / "mlrails.yaml").write_text(yaml.safe_dump(document, sort_keys=False))
    (folder / "functions").symlink_to(REPO / "functions")
    return folder


def write_parquet(frame, folder: Path) -> None:
    """``frame`` as ``FILES`` Parquet files of ``ROW_GROUPS_PER_FILE`` row groups each."""
    folder.mkdir()
    per_file = math.ceil(len(frame) / FILES)
    for index in range(FILES):
        part = frame.iloc[index * per_file : (index + 1) * per_file]
        path = folder / f"part-{index}.parquet"
        table = pa.Table.from_pandas(part, preserve_index=False)
        pq.write_table(table, path, row_group_size=math.ceil(len(part) / ROW_GROUPS_PER_FILE))


def mlflow_cli(model_uri: str, csv: Path, out: Path, env: dict[str, str]) -> dict[str, float]:
    """``mlflow models predict`` in a fresh process: its wall time and peak RSS."""
    command = [str(Path(PYTHON).parent / "mlflow"), "models", "predict", "-m", model_uri, "-i", str(csv)]
    command += ["-t", "csv", "-o", str(out), "--env-manager", "local"]
    started = time.perf_counter()
    with (out.parent / "mlflow-predict.log").open("w") as log:
        process = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
        _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode:
        print((out.parent / "mlflow-predict.log").read_text()[-3000:], file=sys.stderr)
        raise SystemExit(f"mlflow models predict exited {process.returncode}")
    return {"seconds": round(seconds, 3), "peak_mb": round(usage.ru_maxrss / 1024, 1)}


def projected_cost(shard_seconds: list[float], rows: int, memory_mb: int):
    """What a million predictions cost on AWS at the measured per-shard times: the shard
    function's GB-seconds (billed by the millisecond) and requests, and the batch state
    machine's transitions, scaled from ``rows`` to a million."""
    from mlrails.cost.usage import Charge, Estimate

    scale = 1e6 / rows
    billed = sum(math.ceil(s * 1000) / 1000 for s in shard_seconds)
    shards = len(shard_seconds)
    return Estimate(
        [
            Charge("shard duration", "lambda_x86_gb_second", billed * memory_mb / 1024 * scale),
            Charge("shard requests", "lambda_requests_million", shards * scale / 1e6),
            Charge(
                "batch state machine",
                "step_functions_standard_1k",
                (shards * TRANSITIONS_PER_SHARD + TRANSITIONS_PER_JOB) * scale / 1000,
            ),
        ],
        {"shard memory": f"{memory_mb} MB", "shards per million": f"{shards * scale:g}"},
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000, help="rows to score (default 1,000,000)")
    parser.add_argument("--package", default="image", choices=("onnx", "full", "image"), help="serving.package")
    parser.add_argument("--workers", type=int, help="worker processes (default: max_concurrency, at most the CPUs)")
    options = parser.parse_args()

    sys.path.insert(0, str(REPO / "src"))
    import mlflow.pyfunc
    import numpy as np
    from _measure import measured
    from _mlflow_side import log_champion

    from mlrails.adapters import manifests, s3
    from mlrails.config import load_config
    from mlrails.cost.prices import PRICES
    from mlrails.local.batch import run_local, upload_files
    from mlrails.local.runtime import LocalRuntime
    from mlrails.local.synthetic import churn_frame
    from mlrails.promotion import rails
    from mlrails.wiring import function

    tmp = Path(tempfile.mkdtemp(prefix="mlrails-bench-batch-"))
    cwd = Path.cwd()
    try:
        folder = project(tmp / "project", options.package)
        os.chdir(folder)
        cfg = load_config(folder / "mlrails.yaml")
        features = cfg.dataset.feature_names
        frame = churn_frame(options.rows, START, seed=11, with_target=False)[features]
        write_parquet(frame, tmp / "to-score")
        csv = tmp / "to-score.csv"
        frame.to_csv(csv, index=False)
        workers = options.workers or min(cfg.batch.max_concurrency, os.cpu_count() or 1)

        print("training and promoting the example model through mlrails (local runtime) ...", flush=True)
        with LocalRuntime(cfg, folder, start=START) as runtime:
            history = churn_frame(3000, START - timedelta(days=3), seed=5, span=timedelta(days=3))
            runtime.upload_raw("bench/history.csv", history.to_csv(index=False).encode())
            manifest = manifests.read_current(runtime.cloud.names.artifacts_bucket, cfg.model.name)
            assert manifest is not None, "no champion was promoted"
            print(f"  champion v{manifest.version}: {manifest.serving} ({manifest.serving_reason})", flush=True)

            started = time.perf_counter()
            input_uri = upload_files(runtime, tmp / "to-score")
            upload_seconds = time.perf_counter() - started
            output_uri = input_uri[: -len("input/")] + "output/"
            children_before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
            print(f"scoring {options.rows:,} rows through the batch path ({workers} workers) ...", flush=True)
            summary, ours = measured(lambda: run_local(runtime, input_uri, output_uri, workers=workers))
            worker_peak_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
            assert worker_peak_kb > children_before, "the workers' peak is hidden by an earlier child's"
            assert (summary.rows_in, summary.rows_scored, summary.shards_failed) == (options.rows, options.rows, 0)
            parts = [pq.read_table(io.BytesIO(s3.get_bytes(r["part_uri"]))) for r in summary.shard_results]
            scored = pa.concat_tables(parts).sort_by([("source_uri", "ascending"), ("row_number", "ascending")])
            assert scored.num_rows == options.rows
            our_predictions = scored.column("prediction").to_numpy()
            model = rails.load_model(manifest)
            serving_path = manifest.serving if options.package != "full" else "skops"

        print("logging the same model to a local MLflow ...", flush=True)
        tracking = f"sqlite:///{tmp / 'mlflow.db'}"
        model_uri = log_champion(model, frame.head(100), tracking)
        env = {k: v for k, v in os.environ.items() if not k.startswith(("MLRAILS_", "AWS_ENDPOINT"))}
        # As bench/inference.py runs MLflow: no usage telemetry (a process would wait at exit
        # for a report this machine cannot send).
        env |= {"MLFLOW_TRACKING_URI": tracking, "MLFLOW_DISABLE_TELEMETRY": "true"}
        print(f"scoring the same {options.rows:,} rows with `mlflow models predict` (CSV) ...", flush=True)
        cli = mlflow_cli(model_uri, csv, tmp / "mlflow-predictions.json", env)
        cli_predictions = np.asarray(json.loads((tmp / "mlflow-predictions.json").read_text())["predictions"])
        assert len(cli_predictions) == options.rows
        print("scoring them with mlflow.pyfunc in this process ...", flush=True)
        pyfunc_model = mlflow.pyfunc.load_model(model_uri)
        pyfunc_predictions, pyfunc = measured(lambda: pyfunc_model.predict(frame))
        assert len(pyfunc_predictions) == options.rows
    finally:
        os.chdir(cwd)
        shutil.rmtree(tmp, ignore_errors=True)

    rows = options.rows
    rate = {
        "ours": rows / ours["seconds"],
        "cli": rows / cli["seconds"],
        "pyfunc": rows / pyfunc["seconds"],
    }
    # Files sort as written (part-0 ... part-3), rows in each in order: the frame's order.
    agreement = float(np.mean(our_predictions == cli_predictions))
    shard_seconds = [r["seconds"] for r in summary.shard_results]
    memory_mb = function(SHARD_FUNCTION).memory_mb
    cost = projected_cost(shard_seconds, rows, memory_mb)
    ours_peak = ours["loaded_mb"] + ours["extra_mem_mb"]
    result = {
        "rows": rows,
        "serving_path": serving_path,
        "package": options.package,
        "workers": workers,
        "shards": summary.shards,
        "items": summary.items,
        "rows_per_s": round(rate["ours"]),
        "seconds": ours["seconds"],
        "upload_seconds": round(upload_seconds, 3),
        "mlflow_cli_rows_per_s": round(rate["cli"]),
        "mlflow_cli_seconds": cli["seconds"],
        "mlflow_pyfunc_rows_per_s": round(rate["pyfunc"]),
        "mlflow_pyfunc_seconds": pyfunc["seconds"],
        "speedup_vs_cli": round(rate["ours"] / rate["cli"], 1),
        "speedup_vs_pyfunc": round(rate["ours"] / rate["pyfunc"], 2),
        "parent_peak_mb": round(ours_peak, 1),
        "worker_peak_mb": round(worker_peak_kb / 1024, 1),
        "mlflow_cli_peak_mb": cli["peak_mb"],
        "mlflow_pyfunc_extra_mem_mb": pyfunc["extra_mem_mb"],
        "shard_seconds": shard_seconds,
        "shard_rows": [r["rows_in"] for r in summary.shard_results],
        "shard_memory_mb": memory_mb,
        "usd_per_million": round(cost.usd, 4),
        "prediction_agreement": agreement,
        # The machine's 1-minute load when the run ended: other work slows every side.
        "load_average": round(os.getloadavg()[0], 2),
    }
    result["budget_met"] = result["speedup_vs_cli"] >= MIN_SPEEDUP

    print(
        f"\n{rows:,} rows of the example's schema, model {cfg.model.entrypoint}: mlrails serves it by "
        f"{serving_path} (serving.package {options.package}); {agreement:.2%} of predictions agree with MLflow's"
    )
    print(f"(this machine: {os.cpu_count()} CPUs, 1-minute load average {result['load_average']} at the end)")
    print(f"{'':44}{'rows/s':>12}{'seconds':>10}{'peak RSS MB':>14}")
    print(
        f"{'mlrails batch (S3 Parquet -> S3 Parquet)':44}{rate['ours']:12,.0f}{ours['seconds']:10.2f}"
        f"{ours_peak:9.0f} + {workers} x {worker_peak_kb / 1024:.0f}"
    )
    print(f"{'mlflow models predict (CSV -> JSON)':44}{rate['cli']:12,.0f}{cli['seconds']:10.2f}{cli['peak_mb']:14.0f}")
    print(
        f"{'mlflow.pyfunc predict (in memory, no I/O)':44}{rate['pyfunc']:12,.0f}{pyfunc['seconds']:10.2f}"
        f"{pyfunc['extra_mem_mb']:11.0f} (+)"
    )
    print(f"speed-up: {result['speedup_vs_cli']}x `mlflow models predict`, {result['speedup_vs_pyfunc']}x pyfunc")
    print(
        "(ours: the job only, the files already in S3 (their upload took "
        f"{upload_seconds:.2f} s); peak: this process's high-water + each worker's largest; "
        "the CLI: its process end to end, load and CSV read included; pyfunc: predict alone, "
        "its peak the rise above the loaded frame)"
    )
    print(
        f"shards: {summary.shards} of {summary.items // summary.shards} items, "
        + ", ".join(f"{r['rows_in']:,} rows in {r['seconds']:.2f} s" for r in summary.shard_results)
    )
    print(f"projected AWS cost per million predictions: ${cost.usd:.4f}")
    for charge in cost.charges:
        price = PRICES[charge.price]
        quantity = f"{charge.quantity:,.4g} x {price.unit}"
        print(f"  {charge.usd:>9.5f}  {charge.what}: {quantity} ({price.service}, {price.source})")
    print(f"  ({', '.join(f'{k}: {v}' for k, v in cost.assumptions.items())}; S3 requests not included)")
    verdict = "ok  " if result["budget_met"] else "MISS"
    print(f"  {verdict} >= {MIN_SPEEDUP:g}x the throughput of `mlflow models predict`")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
