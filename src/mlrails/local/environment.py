"""Your project's local environment, one command at a time: `mlrails up`, `upload` (a file,
or a timestamped dataset replayed day by day as arrivals), `advance`, `status`, `down`; with
`serve` and `predict` in between. Each command resumes the saved state in the project's
.mlrails/, runs the deployed graph on it in virtual time, prints what ran, and saves it."""

from __future__ import annotations

import io
import re
import shutil
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, TextIO

from mlrails.adapters import s3
from mlrails.config import ProjectConfig
from mlrails.data.dataset import features_key, parse_times, read_table
from mlrails.errors import ConfigError
from mlrails.local.cloud import ENVIRONMENT
from mlrails.local.runtime import LocalRuntime, state_dir_of
from mlrails.local.timeline import Timeline
from mlrails.schedule import fire_times
from mlrails.wiring import SCHEDULES, Prefix

_DURATION = re.compile(r"^(\d+(?:\.\d+)?)([mhdw])$")
_UNITS = {"m": timedelta(minutes=1), "h": timedelta(hours=1), "d": timedelta(days=1), "w": timedelta(weeks=1)}


def parse_duration(text: str) -> timedelta:
    """``30m``, ``12h``, ``3d``, ``1w`` → a timedelta."""
    match = _DURATION.match(text.strip())
    if not match:
        raise ConfigError(f"{text!r} is not a duration: a number and m, h, d or w (30m, 12h, 3d, 1w)")
    return float(match.group(1)) * _UNITS[match.group(2)]


def _spoken(duration: timedelta) -> str:
    """A duration as it would be typed: 1d, 36h, 90m."""
    minutes = int(duration.total_seconds() // 60)
    for unit, size in (("w", 7 * 24 * 60), ("d", 24 * 60), ("h", 60)):
        if minutes % size == 0:
            return f"{minutes // size}{unit}"
    return f"{minutes}m"


def up(
    cfg: ProjectConfig, project_dir: Path, out: TextIO, *, at: datetime, fresh: bool = False, env: str = ENVIRONMENT
) -> None:
    """Create the project's local environment ``env`` (its resources, in moto; MLflow in
    SQLite), its virtual clock at ``at``. An existing one is kept unless ``fresh``."""
    state = state_dir_of(project_dir, env)
    if (state / "snapshot").exists() and not fresh:
        raise ConfigError(f"{state} holds a local environment already: `mlrails down` it, or --fresh")
    with LocalRuntime(cfg, project_dir, start=at, environment=env) as runtime:
        runtime.save()
    models = cfg.models_source(env)
    next_step = (
        "mlrails upload <file> (or --replay a timestamped dataset), then mlrails status"
        if models == "train"
        else f"mlrails release apply --env {env} --local (it serves the model the lock in release/ names)"
    )
    print(
        f"{cfg.project}: local environment '{env}' up in {state}, clock at {at:%Y-%m-%d %H:%M} UTC, "
        f"models: {models}\n  next: {next_step}",
        file=out,
    )


def down(project_dir: Path, out: TextIO, env: str = ENVIRONMENT) -> None:
    """Forget a local environment (its buckets, registry and clock; the local one's goes with
    every other's, and the release store)."""
    state = state_dir_of(project_dir, env)
    if not state.exists():
        raise ConfigError(f"no local environment in {state}")
    shutil.rmtree(state)
    print(f"removed {state}", file=out)


def _running(cfg: ProjectConfig, project_dir: Path, out: TextIO, env: str) -> Any:
    """The saved environment, resumed with its runs printed as a timeline."""
    timeline = Timeline(out, datetime.now(UTC))
    return (
        LocalRuntime.resumed(cfg, project_dir, start=timeline.start, on_invocation=timeline, environment=env),
        timeline,
    )


def upload(cfg: ProjectConfig, project_dir: Path, files: list[Path], out: TextIO, env: str = ENVIRONMENT) -> None:
    """Put each file under raw/ at the current virtual time, and run what follows."""
    for path in files:
        if not path.is_file():
            raise ConfigError(f"no file at {path}")
    names = [path.name for path in files]
    if len(set(names)) < len(names):
        raise ConfigError(f"two files share a name ({sorted(n for n in set(names) if names.count(n) > 1)}): rename one")
    context, timeline = _running(cfg, project_dir, out, env)
    with context as runtime:
        timeline.runtime = runtime
        for path in files:
            # Keyed by the clock: the same file name uploaded again is a new batch, not a replacement.
            key = f"uploads/{runtime.now:%Y/%m/%d/%H%M%S}/{path.name}"
            timeline.step(f"upload {path.name} → raw/{key}")
            runtime.upload_raw(key, path.read_bytes())


def replay(cfg: ProjectConfig, project_dir: Path, path: Path, out: TextIO, env: str = ENVIRONMENT) -> None:
    """Replay a timestamped dataset as it would have arrived: each day's rows uploaded as one
    file at the end of that day, the clock moved there first (so every schedule due in
    between fires, drift checks and retrains included)."""
    if cfg.dataset.timestamp is None:
        raise ConfigError("--replay needs the data's own times (dataset.timestamp); upload the file instead")
    frame = read_table(path.read_bytes(), path.name)
    if cfg.dataset.timestamp not in frame:
        raise ConfigError(f"{path} has no column '{cfg.dataset.timestamp}' (dataset.timestamp)")
    times = parse_times(frame[cfg.dataset.timestamp], cfg.dataset.timestamp_format)
    if times.isna().any():
        raise ConfigError(f"{path}: {int(times.isna().sum())} rows have no readable {cfg.dataset.timestamp}")
    days = times.dt.floor("D")
    context, timeline = _running(cfg, project_dir, out, env)
    with context as runtime:
        timeline.runtime = runtime
        names = {day: f"{path.stem}-{day:%Y-%m-%d}.csv" for day in sorted(days.unique())}
        # A replay that stopped midway (Ctrl-C, a crash) goes on where it stopped: a day whose
        # file feature prep already took (or quarantined) arrived already.
        arrived = [day for day, name in names.items() if _arrived(runtime, name, day.date())]
        pending = [day for day in names if day not in arrived]
        if arrived:
            timeline.step(f"{len(arrived)} day(s) of {path.name} arrived already: {len(pending)} left to replay")
        if pending and runtime.now > pending[0].to_pydatetime() + timedelta(days=1):
            raise ConfigError(
                f"the local clock is at {runtime.now:%Y-%m-%d}, after the data's day {pending[0]:%Y-%m-%d} "
                f"that has not arrived yet: start over with `mlrails up --fresh --at {pending[0]:%Y-%m-%d}`"
            )
        for day in pending:
            arrival = day.to_pydatetime() + timedelta(days=1)
            if arrival > runtime.now:
                runtime.advance(arrival - runtime.now)
            rows = frame[days == day]
            timeline.step(f"{len(rows):,} rows of {day:%Y-%m-%d} arrive → raw/{names[day]}")
            runtime.upload_raw(names[day], rows.to_csv(index=False).encode())


def _arrived(runtime: LocalRuntime, name: str, day: date) -> bool:
    """Whether a replayed day's file was taken by feature prep (its features, in the partition
    of the day: its rows are that day's) or quarantined."""
    bucket, raw = runtime.cloud.names.data_bucket, f"{Prefix.RAW.value}{name}"
    return any(
        s3.head(s3.uri(bucket, key)) is not None for key in (features_key(raw, day), f"{Prefix.QUARANTINE.value}{name}")
    )


def advance(cfg: ProjectConfig, project_dir: Path, duration: timedelta, out: TextIO, env: str = ENVIRONMENT) -> None:
    """Move the virtual clock, firing every schedule due on the way."""
    context, timeline = _running(cfg, project_dir, out, env)
    with context as runtime:
        timeline.runtime = runtime
        timeline.step(f"advance {_spoken(duration)}")
        runtime.advance(duration)
        timeline.step("now")


def status(cfg: ProjectConfig, project_dir: Path, env: str = ENVIRONMENT) -> dict[str, Any]:
    """What the environment holds: its time, the champion, the data, the traffic and labels,
    the latest decisions, the next schedules (plain JSON)."""
    context, _ = _running(cfg, project_dir, io.StringIO(), env)  # reading the status: nothing worth printing
    with context as runtime:
        names = runtime.cloud.names
        code, version = runtime.request("GET", "/version")

        def count(bucket: str, prefix: str) -> int:
            return sum(1 for _ in s3.list_keys(bucket, prefix))

        def newest(prefix: str) -> dict[str, Any] | None:
            # The reports themselves, not the files of a fanned-out drift window in a folder beside them.
            keys = [k for k in s3.list_keys(names.artifacts_bucket, prefix) if "/" not in k.removeprefix(prefix)]
            return s3.get_json(s3.uri(names.artifacts_bucket, keys[-1])) if keys else None

        now = runtime.now
        upcoming = sorted(
            (times[0], spec.name)
            for spec in SCHEDULES
            if spec.enabled(cfg)
            and (times := fire_times(spec.expression(cfg), runtime.anchor, now, now + timedelta(days=31)))
        )
        found = {
            "environment": env,
            "models": cfg.models_source(env),
            "now": now.isoformat(),
            "champion": version if code == 200 else None,
            "feature_files": count(names.data_bucket, Prefix.FEATURES.value),
            "quarantined": count(names.data_bucket, Prefix.QUARANTINE.value),
            "capture_files": count(names.data_bucket, Prefix.CAPTURE.value),
            "feedback_files": count(names.data_bucket, Prefix.FEEDBACK.value),
            "last_retrain_decision": newest(f"{Prefix.REPORTS.value}retrain/{cfg.model.name}/"),
            "last_drift_report": newest(f"{Prefix.REPORTS.value}drift/{cfg.model.name}/"),
            "last_performance_report": newest(f"{Prefix.REPORTS.value}performance/{cfg.model.name}/"),
            "next_schedules": [{"at": at.isoformat(), "schedule": name} for at, name in upcoming],
        }
    return found


def print_status(cfg: ProjectConfig, found: dict[str, Any], out: TextIO) -> None:
    """:func:`status` as a few readable lines."""
    champion = found["champion"]
    lines = [
        f"{cfg.project} ({found['environment']}, local; models: {found['models']}) at {found['now'][:16]} UTC",
        "  champion   "
        + (f"{champion['model_name']} v{champion['model_version']}" if champion else "none yet (no model promoted)"),
        f"  data       {found['feature_files']} feature files, {found['quarantined']} quarantined",
        f"  traffic    {found['capture_files']} capture files, {found['feedback_files']} feedback files",
    ]
    decision = found["last_retrain_decision"]
    if decision:
        lines.append(f"  retrain    {'yes' if decision.get('retrain') else 'no'}: {decision.get('reason')}")
    drift = found["last_drift_report"]
    if drift:
        lines.append(f"  drift      {drift.get('status')} ({len(drift.get('drifted_features', []))} features drifted)")
    performance = found["last_performance_report"]
    if performance:
        lines.append(
            f"  quality    {performance.get('status')}: {performance.get('metric')} {performance.get('value')}"
        )
    for item in found["next_schedules"]:
        lines.append(f"  next       {item['schedule']} at {item['at'][:16]}")
    print("\n".join(lines), file=out)
