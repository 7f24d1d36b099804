"""`mlrails demo`: the whole lifecycle on this machine, told as a timeline.

the feasibility check → upload raw data → feature prep → train the placeholder → promote → predictions through the
inference handler → inject drift and swap in the real model → drift check → retrain trigger →
retrain → the gate promotes it → a scheduled retrain the gate rejects → rollback → promote.
"""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TextIO

from mlrails.config import ProjectConfig
from mlrails.feasibility.runner import run_check
from mlrails.local.runtime import LocalRuntime
from mlrails.local.synthetic import churn_frame
from mlrails.local.timeline import Timeline, nothing_due
from mlrails.promotion.operations import Operation

REAL_MODEL = "mlrails.models:gradient_boosting"
TRAFFIC_REQUESTS_PER_DAY = 24
ROWS_PER_REQUEST = 25


def _traffic(runtime: LocalRuntime, timeline: Timeline, *, day_seed: int, drift: float) -> list[Any]:
    """A day of requests, spread over the day, through POST /invocations."""
    statuses, predictions = [], []
    step = timedelta(days=1) / TRAFFIC_REQUESTS_PER_DAY
    for i in range(TRAFFIC_REQUESTS_PER_DAY):
        if i:
            runtime.advance(step)
        rows = churn_frame(ROWS_PER_REQUEST, runtime.now, seed=day_seed * 1000 + i, drift=drift, with_target=False)
        body = {"dataframe_split": rows.drop(columns=["event_time"]).to_dict(orient="split", index=False)}
        status, answer = runtime.request("POST", "/invocations", json.dumps(body).encode())
        statuses.append(status)
        if status == 200:
            predictions.extend(answer["predictions"])
    ok = statuses.count(200)
    positive = sum(1 for p in predictions if p == 1)
    timeline.say(
        f"  {timeline.clock()}    {'inference':<16} {ok}/{len(statuses)} requests answered 200, "
        f"{len(predictions):,} rows scored ({positive:,} predicted churn), captured to capture/"
    )
    runtime.advance(step)  # the rest of the day: the daily schedules fire here
    return predictions


def run_demo(cfg: ProjectConfig, project_dir: Path, out: TextIO) -> int:
    """Run the lifecycle; returns a process exit code (0 when every step behaved)."""
    began = time.monotonic()
    start = datetime.now(UTC).replace(microsecond=0)
    timeline = Timeline(out, start)
    timeline.say("mlrails demo: the deployed graph on this machine (moto + local MLflow), no AWS account.\n")
    with LocalRuntime(cfg, project_dir, start=start, on_invocation=timeline) as runtime:
        timeline.runtime = runtime
        timeline.say(f"  project {cfg.project} · model {cfg.model.name} · entrypoint {cfg.model.entrypoint}")
        timeline.say(f"  AWS: moto, in this process · MLflow {runtime.cloud.tracking_uri}")
        timeline.say(f"  handler logs and metrics: {runtime.log_path}\n")

        history = churn_frame(3000, start - timedelta(days=7), seed=1, span=timedelta(days=7))
        timeline.say("Before modeling: mlrails check on the data about to be uploaded")
        data_path = runtime.state_dir / "customers.csv"
        history.to_csv(data_path, index=False)
        verdict = run_check(cfg, str(data_path), out)
        if verdict != 0:
            timeline.say("The check says modeling is premature: the demo stops here.")
            return verdict

        timeline.say("\nDay 0: data arrives, the placeholder is trained and promoted")
        timeline.step(f"upload raw/day-00/customers.csv ({len(history):,} labelled rows)")
        runtime.upload_raw("day-00/customers.csv", history.to_csv(index=False).encode())
        timeline.step("upload raw/day-00/export-broken.csv (the target column is missing)")
        runtime.upload_raw(
            "day-00/export-broken.csv", history.drop(columns=["churned"]).head(50).to_csv(index=False).encode()
        )

        status, answer = runtime.request("POST", "/invocations", b'{"dataframe_records": [{"colour": "red"}]}')
        timeline.step(f"a malformed request → {status} {answer['error_code']}: {answer['message']}")
        timeline.step(f"{TRAFFIC_REQUESTS_PER_DAY} requests of {ROWS_PER_REQUEST} rows through POST /invocations")
        _traffic(runtime, timeline, day_seed=1, drift=0.0)

        timeline.say("\nDay 1: the population drifts, fresh labels arrive, and the real model is swapped in")
        drifted = churn_frame(1500, runtime.now, seed=2, drift=0.8)
        timeline.step(f"upload raw/day-01/customers.csv ({len(drifted):,} labelled rows, drifted)")
        runtime.upload_raw("day-01/customers.csv", drifted.to_csv(index=False).encode())
        real = cfg.model_copy(update={"model": cfg.model.model_copy(update={"entrypoint": REAL_MODEL})})
        timeline.step(f"mlrails.yaml: model.entrypoint: {REAL_MODEL} (one line), redeployed")
        runtime.redeploy(real)
        timeline.step(f"{TRAFFIC_REQUESTS_PER_DAY} requests of drifted traffic")
        _traffic(runtime, timeline, day_seed=2, drift=0.8)

        timeline.say("\nDays 2-7: no new data; the weekly cadence retrains, and the gate says no")
        runtime.advance(timedelta(days=5))

        timeline.say("\nAn operator rolls back, then promotes by hand: the same rails as the gate")
        _, before = runtime.request("GET", "/version")
        rolled = runtime.operate(Operation("rollback"), by="operator")["champion"]
        timeline.step(f"mlrails rollback → v{rolled['version']} serves again ({rolled['reason']})")
        status, version = runtime.request("GET", "/version")
        timeline.step(f"GET /version → {status} v{version.get('model_version')}")
        again = runtime.operate(
            Operation("promote", version=before["model_version"], reason="roll forward after checking"),
            by="operator",
        )
        timeline.step(
            f"mlrails promote --version {again['champion']['version']} → "
            f"v{again['champion']['version']} is the champion"
        )
        sample = churn_frame(2, runtime.now, seed=3, drift=0.8, with_target=False).drop(columns=["event_time"])
        body = json.dumps({"dataframe_records": sample.to_dict(orient="records")})
        status, answer = runtime.request("POST", "/invocations", body.encode())
        timeline.step(f"POST /invocations → {status} {json.dumps(answer)[:160]}")
        runtime.save()

    return _summary(timeline, time.monotonic() - began, body)


def _summary(timeline: Timeline, seconds: float, body: str) -> int:
    failed = [i for i in timeline.invocations if i.error]
    finished = [
        (f"v{i.event['state']['train']['version']}", i.result["promoted"])
        for i in timeline.invocations
        if i.function == "train" and i.event.get("step") == "finish" and i.result
    ]
    trained = [i for i in timeline.invocations if i.function == "train" and i.event.get("step") == "train"]
    promoted = [version for version, yes in finished if yes]
    rejected = [version for version, yes in finished if not yes]
    idle = sum(1 for i in timeline.invocations if nothing_due(i))
    timeline.say(
        f"\nDone in {seconds:.0f} s: {len(timeline.invocations)} handler runs ({idle} hourly deferred-retrain "
        f"checks with nothing due), {len(failed)} failed; "
        f"models trained {len(trained)}, promoted by the gate {', '.join(promoted) or 'none'}, "
        f"rejected {', '.join(rejected) or 'none'}."
    )
    timeline.say("See them all: .venv/bin/mlrails models")
    timeline.say("\nGet a prediction from the champion the demo left behind:")
    timeline.say(f"  .venv/bin/mlrails predict '{body}'")
    timeline.say("Deploy the same graph to AWS: see the README, `make synth` then `npx cdk deploy`.")
    return 1 if failed or not promoted else 0
