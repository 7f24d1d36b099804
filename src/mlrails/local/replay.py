"""`mlrails simulate --data`: your timestamped rows replayed as production, day by day.

The first days of the data are the history the first model trains on. Every later day's
rows come as traffic through ``POST /invocations`` (spread over the day), their outcomes go
back through ``POST /feedback`` once the label delay has passed, and each night the day's
labelled rows arrive under ``raw/`` as training data (unless ``training.feedback_rows``: then
the kit learns from the fed-back labels). Whatever shifts in your data shifts here: the
drift checks, performance checks, retrains and the gate react to it, not to a script.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any, TextIO

import pandas as pd

from mlrails.config import ProjectConfig
from mlrails.data.dataset import parse_times, read_table
from mlrails.errors import ConfigError
from mlrails.local.router import Invocation
from mlrails.local.runtime import LocalRuntime
from mlrails.local.scenario import Day
from mlrails.local.simulation import Pending, Recorder, day_line, feed_back, read_day


@dataclass(frozen=True)
class Replay:
    """What to replay, and how."""

    data: Path
    history_fraction: float = 0.25  # of the data's days: the history the first model trains on
    rows_per_request: int = 50
    label_delay: timedelta | None = None  # None: monitoring.label_delay_hours


def _days(cfg: ProjectConfig, replay: Replay) -> list[tuple[pd.Timestamp, pd.DataFrame]]:
    if cfg.dataset.timestamp is None:
        raise ConfigError("simulate --data replays the data's own times: it needs dataset.timestamp")
    if not replay.data.is_file():
        raise ConfigError(f"no file at {replay.data}")
    frame = read_table(replay.data.read_bytes(), replay.data.name)
    missing = [c for c in (cfg.dataset.timestamp, cfg.dataset.target, *cfg.dataset.feature_names) if c not in frame]
    if missing:
        raise ConfigError(f"{replay.data} lacks the config's column(s) {missing}")
    times = parse_times(frame[cfg.dataset.timestamp], cfg.dataset.timestamp_format)
    if times.isna().any():
        raise ConfigError(f"{replay.data}: {int(times.isna().sum())} rows have no readable {cfg.dataset.timestamp}")
    # A row without its outcome can be neither labelled nor trained on: left out of the replay.
    labelled = frame[cfg.dataset.target].notna() & (frame[cfg.dataset.target].astype(str).str.strip() != "")
    frame = frame.assign(_at=times)[labelled].sort_values("_at", kind="stable")
    days = [(day, rows.drop(columns="_at")) for day, rows in frame.groupby(frame["_at"].dt.floor("D"), sort=True)]
    if len(days) < 2:
        raise ConfigError(f"{replay.data} covers one day: a replay needs history and at least one day after it")
    return days


def run_replay(
    cfg: ProjectConfig, project_dir: Path, out: TextIO, replay: Replay
) -> tuple[list[Day], list[Invocation]]:
    """Replay; print a line per day; return the days and any failed handler run."""
    days = _days(cfg, replay)
    history = max(1, min(len(days) - 1, round(len(days) * replay.history_fraction)))
    delay = replay.label_delay if replay.label_delay is not None else timedelta(hours=cfg.monitoring.label_delay_hours)
    classes = cfg.dataset.task == "classification"
    recorder, records, pending = Recorder(), [], []
    start = days[0][0].to_pydatetime()
    with LocalRuntime(
        cfg, project_dir, start=start, on_invocation=recorder, state_dir=project_dir / ".mlrails-simulation"
    ) as runtime:
        past = pd.concat([rows for _, rows in days[:history]])
        runtime.advance(days[history][0].to_pydatetime() - runtime.now)  # the history arrives as it ends
        runtime.upload_raw(f"history/{replay.data.stem}.csv", past.to_csv(index=False).encode())
        recorder.take()
        print(
            f"{history} day(s) of history ({len(past):,} rows) trained the first model; "
            f"replaying {len(days) - history} day(s)\n",
            file=out,
            flush=True,
        )
        refused = 0
        for number, (day, rows) in enumerate(days[history:]):
            if day.to_pydatetime() > runtime.now:  # a gap in the data (weekends): time passes anyway
                runtime.advance(day.to_pydatetime() - runtime.now)
            record = Day(number, runtime.now, drift=None, concept=None)
            refused += feed_back(runtime, pending, strict=False)
            chunks = [rows.iloc[i : i + replay.rows_per_request] for i in range(0, len(rows), replay.rows_per_request)]
            step = timedelta(days=1) / len(chunks)
            scored: list[tuple[Any, Any]] = []
            for chunk in chunks:
                features = chunk[cfg.dataset.feature_names]
                body = {"dataframe_split": features.to_dict(orient="split", index=False)}
                if classes:
                    body["params"] = {"probabilities": True}
                status, answer = runtime.request("POST", "/invocations", json.dumps(body).encode())
                if status == 200:
                    labels = chunk[cfg.dataset.target].tolist()
                    scored += [(str(p), str(y)) for p, y in zip(answer["predictions"], labels)]
                    pending += [
                        Pending(pid, y, runtime.now + delay) for pid, y in zip(answer["prediction_ids"], labels)
                    ]
                runtime.advance(step)
            if not cfg.training.feedback_rows:
                runtime.upload_raw(f"daily/{day:%Y-%m-%d}.csv", rows.to_csv(index=False).encode())
            if classes and scored:
                record.served_accuracy = sum(p == y for p, y in scored) / len(scored)
            status, version = runtime.request("GET", "/version")
            record.champion = version.get("model_version") if status == 200 else None
            read_day(record, recorder.take())
            records.append(record)
            print(day_line(record, len(days) - history), file=out, flush=True)
        if refused:
            print(f"\n{refused} labels refused by POST /feedback (a class the champion does not know)", file=out)
    return records, recorder.failures


def summary(records: list[Day]) -> list[str]:
    """The replay in a few lines: what the kit saw and did."""
    drift_days = [r.day for r in records if "DriftDetected" in r.events]
    degraded = [r.day for r in records if "PerformanceDegraded" in r.events]
    decisions = [e for r in records for e in r.events if " promoted: " in e or " rejected: " in e]
    promoted = sum(" promoted: " in e for e in decisions)
    return [
        f"drift detected on {len(drift_days)} day(s)" + (f" (first: day {drift_days[0]})" if drift_days else ""),
        f"performance degraded on {len(degraded)} day(s)" + (f" (first: day {degraded[0]})" if degraded else ""),
        f"the gate: {promoted} promoted, {len(decisions) - promoted} rejected; champion at the end: "
        f"v{records[-1].champion or '-'}",
    ]
