"""The commands that run the project locally: the demo, the simulation (synthetic or your data
replayed), and the local environment (`up`, `upload`, `advance`, `status`, `down`, `predict`,
`serve`)."""

from __future__ import annotations

import argparse
import json
import signal
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

from mlrails.commands.project import load_project
from mlrails.config import ProjectConfig
from mlrails.errors import ConfigError


def demo(args: argparse.Namespace) -> int:
    from mlrails.local.demo import run_demo
    from mlrails.local.synthetic import missing_for_churn

    cfg, project_dir = load_project(args)
    if missing := missing_for_churn(cfg.dataset):
        raise ConfigError(
            f"the demo tours the example churn project, whose data has no {missing}: on your project, "
            "run mlrails up, then mlrails upload <your file> (or mlrails simulate --data <your file>)"
        )
    if args.release:
        from mlrails.commands.tour import release_tour

        return release_tour(cfg, project_dir, args.mlrails)
    return run_demo(cfg, project_dir, sys.stdout)


def simulate(args: argparse.Namespace) -> int:
    import time

    from mlrails.local.simulation import Scenario, describe_outcome, outcome, run_simulation, simulation_config

    loaded, project_dir = load_project(args)
    cfg, note = simulation_config(loaded, args.model, args.training_data == "feedback")
    if args.data:
        return _replay(cfg, project_dir, args, note)
    from mlrails.local.synthetic import missing_for_churn

    if missing := missing_for_churn(cfg.dataset):
        raise ConfigError(
            f"simulate without --data plays the example churn world, which has no {missing}: "
            "give --data <your timestamped rows> to replay them as production"
        )
    scenario = Scenario(
        days=args.days,
        requests_per_day=args.requests_per_day,
        drift_start=args.drift_start,
        drift_full=args.drift_full,
        shift_day=args.shift_day,
        seed=args.seed,
    )
    print(
        f"mlrails simulate: {scenario.days} days of {cfg.project} on the deployed wiring, in virtual time"
        + (f"\n  {note}" if note else "")
        + "\n",
        flush=True,
    )
    began = time.monotonic()
    days, failures = run_simulation(cfg, project_dir, sys.stdout, scenario, report_path=Path(args.out))
    print(f"\n{len(days)} days in {time.monotonic() - began:.0f} s, {len(failures)} failed handler runs.")
    for line in describe_outcome(outcome(days, scenario), scenario):
        print(f"  {line}")
    print(f"Report: {args.out}")
    return 1 if failures else 0


def _replay(cfg: ProjectConfig, project_dir: Path, args: argparse.Namespace, note: str | None) -> int:
    from mlrails.local.replay import Replay, run_replay, summary

    replay = Replay(
        Path(args.data),
        history_fraction=args.history_fraction,
        label_delay=timedelta(hours=args.label_delay_hours) if args.label_delay_hours is not None else None,
    )
    print(f"mlrails simulate: {replay.data} replayed as production for {cfg.project}" + (f"\n  {note}" if note else ""))
    records, failures = run_replay(cfg, project_dir, sys.stdout, replay)
    print(f"\n{len(records)} days replayed, {len(failures)} failed handler runs.")
    for line in summary(records):
        print(f"  {line}")
    return 1 if failures else 0


def predict(args: argparse.Namespace) -> int:
    from mlrails.local.runtime import LocalRuntime

    if (args.body is None) == (args.file is None):
        raise ConfigError("give a request body, or --file with one (.json, or .csv with a header)")
    if args.file is not None:
        path = Path(args.file)
        if not path.is_file():
            raise ConfigError(f"no file at {path}")
        body, content_type = path.read_bytes(), "text/csv" if path.suffix == ".csv" else "application/json"
    else:
        body, content_type = args.body.encode(), args.content_type
    cfg, project_dir = load_project(args)
    with LocalRuntime.resumed(
        cfg, project_dir, start=datetime.now(UTC), environment=local_environment(args)
    ) as runtime:
        status, answer = runtime.request("POST", "/invocations", body, content_type)
    print(json.dumps({"status": status, "body": answer}, indent=1))
    return 0 if status == 200 else 1


def serve(args: argparse.Namespace) -> int:
    from mlrails.local.runtime import LocalRuntime
    from mlrails.local.server import make_server

    cfg, project_dir = load_project(args)
    # A stop by SIGTERM (a supervisor, `kill`) saves the served traffic as Ctrl-C does.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    with LocalRuntime.resumed(
        cfg, project_dir, start=datetime.now(UTC), environment=local_environment(args)
    ) as runtime:
        server = make_server(runtime, args.port)
        url = f"http://127.0.0.1:{server.server_port}"
        print(
            f"serving {cfg.model.name} on {url} (POST /invocations, POST /feedback, GET /ping, GET /version);"
            f" Ctrl-C stops\n  curl -s {url}/invocations -H 'Content-Type: application/json' "
            "-d '{\"dataframe_records\": [{...}]}'",
            flush=True,
        )
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            pass
        finally:
            server.server_close()
    print("stopped; the served predictions are kept in the local state, where the monitoring checks read them")
    return 0


def up(args: argparse.Namespace) -> int:
    from mlrails.local import environment

    cfg, project_dir = load_project(args)
    try:
        at = datetime.fromisoformat(args.at) if args.at else datetime.now(UTC).replace(microsecond=0)
    except ValueError as exc:
        raise ConfigError(f"--at {args.at}: not an ISO 8601 time (2026-03-01 or 2026-03-01T06:00+02:00)") from exc
    # Schedules run in UTC, as EventBridge runs them: a local time is converted, a bare one is UTC.
    at = at.astimezone(UTC) if at.tzinfo else at.replace(tzinfo=UTC)
    environment.up(cfg, project_dir, sys.stdout, at=at, fresh=args.fresh, env=local_environment(args))
    return 0


def upload(args: argparse.Namespace) -> int:
    from mlrails.local import environment

    cfg, project_dir = load_project(args)
    if args.replay:
        if len(args.files) != 1:
            raise ConfigError("--replay takes one dataset")
        environment.replay(cfg, project_dir, Path(args.files[0]), sys.stdout, local_environment(args))
    else:
        environment.upload(cfg, project_dir, [Path(f) for f in args.files], sys.stdout, local_environment(args))
    return 0


def advance(args: argparse.Namespace) -> int:
    from mlrails.local import environment

    cfg, project_dir = load_project(args)
    environment.advance(
        cfg, project_dir, environment.parse_duration(args.duration), sys.stdout, local_environment(args)
    )
    return 0


def status(args: argparse.Namespace) -> int:
    from mlrails.local import environment

    cfg, project_dir = load_project(args)
    found = environment.status(cfg, project_dir, local_environment(args))
    if args.json:
        print(json.dumps(found, indent=1))
    else:
        environment.print_status(cfg, found, sys.stdout)
    return 0


def down(args: argparse.Namespace) -> int:
    from mlrails.local import environment

    _, project_dir = load_project(args)
    environment.down(project_dir, sys.stdout, local_environment(args))
    return 0


def local_environment(args: argparse.Namespace) -> str:
    """The local environment a command runs on: ``--env NAME``'s copy, or the local one."""
    from mlrails.local.cloud import ENVIRONMENT

    return args.env or ENVIRONMENT
