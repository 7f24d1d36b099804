"""The `mlrails` command."""

from __future__ import annotations

import argparse
import contextlib
import getpass
import json
import signal
import sys
import traceback
import warnings
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from mlrails.config import ProjectConfig, load_config
from mlrails.errors import ConfigError, MlrailsError

CONFIG_FILE = "mlrails.yaml"


def find_config(start: Path) -> Path:
    """The project's config: ``mlrails.yaml`` in ``start`` or the nearest folder above it, as
    git and cdk find theirs. Raises :class:`ConfigError` when there is none."""
    for folder in (start, *start.parents):
        if (folder / CONFIG_FILE).is_file():
            return folder / CONFIG_FILE
    raise ConfigError(
        f"no {CONFIG_FILE} in {start} or any folder above it: run mlrails from your project, or pass --config"
    )


def _project(args: argparse.Namespace) -> tuple[ProjectConfig, Path]:
    """The config and the project's folder (where it is: local state lives in its .mlrails/),
    with the folder importable, so that ``model.entrypoint`` can name the project's own
    modules (``models:my_model``) wherever the command is run from."""
    path = Path(args.config) if args.config else find_config(Path.cwd())
    project_dir = path.resolve().parent
    if str(project_dir) not in sys.path:
        sys.path.insert(0, str(project_dir))
    return load_config(path), project_dir


def _demo(args: argparse.Namespace) -> int:
    from mlrails.local.demo import run_demo

    cfg, project_dir = _project(args)
    return run_demo(cfg, project_dir, sys.stdout)


def _simulate(args: argparse.Namespace) -> int:
    import time

    from mlrails.local.simulation import Scenario, describe_outcome, outcome, run_simulation, simulation_config

    loaded, project_dir = _project(args)
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


def _predict(args: argparse.Namespace) -> int:
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
    cfg, project_dir = _project(args)
    with LocalRuntime.resumed(cfg, project_dir, start=datetime.now(UTC)) as runtime:
        status, answer = runtime.request("POST", "/invocations", body, content_type)
    print(json.dumps({"status": status, "body": answer}, indent=1))
    return 0 if status == 200 else 1


@contextlib.contextmanager
def _operator(cfg: ProjectConfig, project_dir: Path, environment: str | None) -> Iterator[Callable[..., dict]]:
    """Runs operator commands: on a deployed environment (``--env``) through its train
    function's URL, signed with the caller's AWS credentials (the function records who),
    or on the local environment (`mlrails up` or `mlrails demo`), through the same function at the run's
    virtual time as the local user (changes saved for the next command). Yields
    ``run(action, **fields) -> result``."""
    from mlrails.promotion.operations import Operation

    if environment is not None:
        from mlrails.adapters.operator import DeployedOperator

        if environment not in cfg.environments:
            raise ConfigError(f"--env {environment}: not one of the config's environments {sorted(cfg.environments)}")
        remote = DeployedOperator(cfg.project, environment, region=cfg.environments[environment].region)
        yield lambda action, **fields: remote(Operation(action, **fields))
        return
    from mlrails.local.runtime import LocalRuntime

    with LocalRuntime.resumed(cfg, project_dir, start=datetime.now(UTC)) as runtime:
        yield lambda action, **fields: runtime.operate(Operation(action, **fields), by=getpass.getuser())


def _serve(args: argparse.Namespace) -> int:
    from mlrails.local.runtime import LocalRuntime
    from mlrails.local.server import make_server

    cfg, project_dir = _project(args)
    # A stop by SIGTERM (a supervisor, `kill`) saves the served traffic as Ctrl-C does.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    with LocalRuntime.resumed(cfg, project_dir, start=datetime.now(UTC)) as runtime:
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


def _promote(args: argparse.Namespace) -> int:
    cfg, project_dir = _project(args)
    with _operator(cfg, project_dir, args.env) as run:
        champion = run("promote", version=str(args.version), reason=args.reason, force=args.force)["champion"]
    print(f"{cfg.model.name} v{champion['version']} is the champion (previous: v{champion['previous_version']})")
    return 0


def _rollback(args: argparse.Namespace) -> int:
    cfg, project_dir = _project(args)
    with _operator(cfg, project_dir, args.env) as run:
        champion = run("rollback")["champion"]
    before = champion["previous_version"]
    print(
        f"rolled back: {cfg.model.name} v{champion['version']} is the champion again "
        f"({'a further rollback serves v' + before if before else 'the first champion: nothing before it'})"
    )
    return 0


def _models(args: argparse.Namespace) -> int:
    cfg, project_dir = _project(args)
    with _operator(cfg, project_dir, args.env) as run:
        listing = run("models")
    print("\n".join(models_lines(listing, cfg.model.name, cfg.primary_metric)))
    return 0


def models_lines(listing: dict[str, Any], model_name: str, metric: str) -> list[str]:
    """`mlrails models` from its listing (:func:`mlrails.promotion.operations.listing`): a row
    per version with its own holdout's score, the gate's comparison on the same rows, the
    gate's decision and the serving path; below, why each path, then the audit log."""
    versions = listing["versions"]
    lines = [
        f"{model_name}: {len(versions)} version(s); gate metric {metric}",
        "  own holdout: each version's score on its own, later, slice of data: not comparable across versions",
        "  gate: the version and what it had to beat, scored on the same rows at its gate decision "
        "(its holdout + labelled traffic)",
        "",
        f"  {'version':<8} {'aliases':<20} {'own holdout':>11}  {'gate: same rows':<30}  {'decision':<16}  serving",
    ]
    for row in versions:
        decision = (row["decision"] or "-") + (", forced" if row["forced_by"] else "")
        lines.append(
            f"  v{row['version']:<7} {','.join(row['aliases']) or '-':<20} {_score(row['metrics'].get(metric)):>11}  "
            f"{_versus(row['gate'], metric):<30}  {decision:<16}  {(row['serving'] or {}).get('path', '-')}"
        )
    served = [row for row in versions if row["serving"]]
    if served:
        lines += ["", "serving paths, and why:"]
        # One line each: a failed conversion's reason quotes the converter's multi-line message.
        lines += [
            f"  v{row['version']:<7} {row['serving']['path']}: {' '.join(row['serving']['reason'].split())}"
            for row in served
        ]
    lines += ["", "audit log (who, what, why):"]
    lines += [
        f"  {record['at'][:19]}  {record['action']:<8} v{record['version']:<4} by {record['by']:<10} {record['reason']}"
        for record in listing["audit"]
    ]
    return lines


def _score(value: float | None) -> str:
    return "-" if value is None else f"{value:.4f}"


def _versus(gate: dict[str, Any] | None, metric: str) -> str:
    """The gate's comparison: ``challenger vs champion vN baseline``, in the gate metric of the
    time (named when the config's has changed since)."""
    if gate is None:
        return "-"
    scored = gate["metric"]
    named = "" if scored == metric else f" ({scored})"
    challenger = _score(gate["metrics"].get(scored))
    if gate["baseline"] is None:
        return f"{challenger}, nothing to beat{named}"
    against = f"champion v{gate['champion_version']}" if gate["baseline"] == "champion" else "placeholder"
    return f"{challenger} vs {against} {_score(gate['baseline_metrics'].get(scored))}{named}"


def _generate(args: argparse.Namespace) -> int:
    from mlrails.local.synthetic import churn_frame

    start = datetime.fromisoformat(args.start) if args.start else datetime.now(UTC)
    frame = churn_frame(
        args.rows,
        start.replace(tzinfo=start.tzinfo or UTC),
        seed=args.seed,
        drift=args.drift,
        span=timedelta(days=args.days),
        with_target=not args.no_target,
    )
    if args.output.endswith(".parquet"):
        frame.to_parquet(args.output, index=False)
    else:
        frame.to_csv(args.output, index=False)
    print(f"wrote {len(frame):,} rows (drift {args.drift}) to {args.output}")
    return 0


def _check(args: argparse.Namespace) -> int:
    from mlrails.feasibility import CheckOptions, run_check  # scikit-learn: only this command pays for it

    try:
        options = CheckOptions(sample_rows=args.sample_rows, folds=args.folds, serving_overhead_ms=args.overhead_ms)
    except ValueError as exc:
        raise ConfigError(str(exc)) from exc
    return run_check(_project(args)[0], args.data, sys.stdout, report=args.out, as_json=args.json, options=options)


def _global_options(config: object, debug: object) -> argparse.ArgumentParser:
    """The options every command takes, before or after its name (``mlrails promote
    --config x.yaml`` as well as ``mlrails --config x.yaml promote``). The command's copy
    defaults to SUPPRESS, so that it keeps a value given before the command."""
    options = argparse.ArgumentParser(add_help=False)
    options.add_argument(
        "--config",
        default=config,
        help=f"the project config (default: {CONFIG_FILE} here or in the nearest folder above)",
    )
    options.add_argument(
        "--debug", action="store_true", default=debug, help="show the traceback of an unexpected error"
    )
    return options


class _Commands:
    """Subcommands that all take the global options."""

    def __init__(self, subparsers: argparse._SubParsersAction) -> None:
        self._subparsers = subparsers
        self._options = _global_options(argparse.SUPPRESS, argparse.SUPPRESS)

    def add_parser(self, name: str, **kwargs: object) -> argparse.ArgumentParser:
        return self._subparsers.add_parser(name, parents=[self._options], **kwargs)


def _up(args: argparse.Namespace) -> int:
    from mlrails.local import environment

    cfg, project_dir = _project(args)
    at = datetime.fromisoformat(args.at) if args.at else datetime.now(UTC).replace(microsecond=0)
    environment.up(cfg, project_dir, sys.stdout, at=at if at.tzinfo else at.replace(tzinfo=UTC), fresh=args.fresh)
    return 0


def _upload(args: argparse.Namespace) -> int:
    from mlrails.local import environment

    cfg, project_dir = _project(args)
    if args.replay:
        if len(args.files) != 1:
            raise ConfigError("--replay takes one dataset")
        environment.replay(cfg, project_dir, Path(args.files[0]), sys.stdout)
    else:
        environment.upload(cfg, project_dir, [Path(f) for f in args.files], sys.stdout)
    return 0


def _advance(args: argparse.Namespace) -> int:
    from mlrails.local import environment

    cfg, project_dir = _project(args)
    environment.advance(cfg, project_dir, environment.parse_duration(args.duration), sys.stdout)
    return 0


def _status(args: argparse.Namespace) -> int:
    from mlrails.local import environment

    cfg, project_dir = _project(args)
    found = environment.status(cfg, project_dir)
    if args.json:
        print(json.dumps(found, indent=1))
    else:
        environment.print_status(cfg, found, sys.stdout)
    return 0


def _down(args: argparse.Namespace) -> int:
    from mlrails.local import environment

    _, project_dir = _project(args)
    environment.down(project_dir, sys.stdout)
    return 0


def _init(args: argparse.Namespace) -> int:
    from mlrails.scaffold.init import init_project

    folder = Path(args.dir)
    created = init_project(
        args.data, folder, target=args.target, timestamp=args.timestamp, task=args.task, force=args.force
    )
    found = created.inferred
    print(f"mlrails init: a {found.task} project in {folder}/ from {args.data} ({found.rows:,} rows)\n")
    print(f"  target     {found.target}: {found.reasons['target']}; {found.task}: {found.reasons['task']}")
    print(f"  timestamp  {found.timestamp or '(none)'}: {found.reasons['timestamp']}")
    for column in found.features:
        print(f"  feature    {column.name}: {column.type}{', nullable' if column.nullable else ''} ({column.why})")
    print("\nwrote:")
    for path in created.written:
        print(f"  {path}")
    print("\ncheck by hand:")
    for line in [
        *found.checks,
        "the lines marked CHECK in mlrails.yaml (task, target, features known at prediction time, label delay)",
        "use_case and value.minimum in mlrails.yaml, then `mlrails check --data " + args.data + "`",
        "alarm_email in environments.dev before anyone relies on the deployment",
        "deploying: the train image must import models.py (add this folder to it) before `cdk deploy`",
    ]:
        print(f"  - {line}")
    print(f"\nnext: cd {folder} && pytest   (trains models.py on {created.written[-1].name} and judges it)")
    return 0


def build_parser() -> argparse.ArgumentParser:
    """Every command and option (the docs' CLI reference is rendered from it)."""
    parser = argparse.ArgumentParser(prog="mlrails", description=__doc__, parents=[_global_options(None, False)])
    commands = _Commands(parser.add_subparsers(dest="command", required=True))
    commands.add_parser("demo", help="run the whole lifecycle locally (moto + local MLflow)").set_defaults(run=_demo)
    simulate = commands.add_parser(
        "simulate", help="weeks of traffic, late labels, drift and retraining on the local wiring, in virtual time"
    )
    simulate.add_argument("--days", type=int, default=60)
    simulate.add_argument("--requests-per-day", type=int, default=6)
    simulate.add_argument("--drift-start", type=int, default=15, help="day the population starts to drift")
    simulate.add_argument("--drift-full", type=int, default=30, help="day the drift is complete")
    simulate.add_argument("--shift-day", type=int, default=40, help="day who churns changes (labels only)")
    simulate.add_argument("--seed", type=int, default=7)
    simulate.add_argument(
        "--model",
        help="model entrypoint to simulate (default: the config's; the example "
        "gradient boosting when that is the placeholder)",
    )
    simulate.add_argument(
        "--training-data",
        choices=("export", "feedback"),
        default="export",
        help="where new labelled rows come from: a nightly export under raw/ (default), or the "
        "labels fed back through the API (training.feedback_rows)",
    )
    simulate.add_argument("--out", default="simulation.html", help="where the HTML report goes")
    simulate.add_argument(
        "--data", help="your timestamped rows (with the target), replayed day by day as traffic, labels and exports"
    )
    simulate.add_argument(
        "--history-fraction", type=float, default=0.25, help="with --data: the share of days the first model trains on"
    )
    simulate.add_argument(
        "--label-delay-hours", type=float, help="with --data: how late outcomes come back (default: the config's)"
    )
    simulate.set_defaults(run=_simulate)
    predict = commands.add_parser("predict", help="score a request body with the local environment's champion")
    predict.add_argument("body", nargs="?", help="a request body, e.g. '{\"dataframe_records\": [...]}'")
    predict.add_argument("--file", help="the request body from a file (.json, or .csv with a header row)")
    predict.add_argument("--content-type", default="application/json")
    predict.set_defaults(run=_predict)
    serve = commands.add_parser("serve", help="the API's routes on localhost, answered by the local environment")
    serve.add_argument("--port", type=int, default=8080)
    serve.set_defaults(run=_serve)
    env_help = (
        "a deployed environment from the config (uses your AWS credentials); "
        "default: the project's local environment (`mlrails up` or `mlrails demo`)"
    )
    promote = commands.add_parser("promote", help="make a trained version the champion")
    promote.add_argument("--version", required=True, type=int)
    promote.add_argument("--reason", default="manual promotion")
    promote.add_argument(
        "--force", action="store_true", help="promote a version the gate rejected (the audit log records it)"
    )
    promote.set_defaults(run=_promote)
    rollback = commands.add_parser(
        "rollback", help="serve the champion before this one again (each rollback goes one further back)"
    )
    rollback.set_defaults(run=_rollback)
    models = commands.add_parser("models", help="versions, aliases, metrics and the promotion audit log")
    models.set_defaults(run=_models)
    for command in (promote, rollback, models):
        command.add_argument("--env", default=None, help=env_help)
    generate = commands.add_parser("generate", help="write synthetic churn data for the example config")
    generate.add_argument("output", help="a .csv or .parquet path")
    generate.add_argument("--rows", type=int, default=1000)
    generate.add_argument("--days", type=float, default=1.0, help="time span the rows cover")
    generate.add_argument("--start", help="ISO time of the first row (default: now)")
    generate.add_argument("--drift", type=float, default=0.0, help="0 (training population) to 1 (fully shifted)")
    generate.add_argument("--seed", type=int, default=0)
    generate.add_argument("--no-target", action="store_true", help="leave out the label (serving traffic)")
    generate.set_defaults(run=_generate)
    up = commands.add_parser("up", help="start your project's local environment (in its .mlrails/)")
    up.add_argument("--at", help="the virtual clock's start, ISO 8601 (default: now)")
    up.add_argument("--fresh", action="store_true", help="replace an existing local environment")
    up.set_defaults(run=_up)
    upload = commands.add_parser("upload", help="files into raw/ at the local clock's time, and what follows")
    upload.add_argument("files", nargs="+", help=".csv, .csv.gz or .parquet files")
    upload.add_argument(
        "--replay", action="store_true", help="one timestamped dataset, uploaded day by day as it would have arrived"
    )
    upload.set_defaults(run=_upload)
    advance = commands.add_parser("advance", help="move the local clock, firing every schedule due on the way")
    advance.add_argument("duration", help="30m, 12h, 3d, 1w")
    advance.set_defaults(run=_advance)
    status = commands.add_parser("status", help="the local environment: clock, champion, data, decisions, schedules")
    status.add_argument("--json", action="store_true", help="one JSON document")
    status.set_defaults(run=_status)
    commands.add_parser("down", help="forget the local environment (its .mlrails/)").set_defaults(run=_down)
    init = commands.add_parser(
        "init",
        help="a project folder from a data file: config, model, test, CDK entry",
        description="Infer the schema (types, nullability, target, task, timestamp) from a CSV or Parquet file, "
        "local or s3://, and write a project: mlrails.yaml (every choice commented), models.py, tests, cdk.json.",
    )
    init.add_argument("data", help="a .csv, .csv.gz or .parquet path, or an s3:// URI")
    init.add_argument("--dir", default=".", help="the project folder to write (default: here)")
    init.add_argument("--target", help="the column to predict (default: one named target, label, y, outcome...)")
    init.add_argument("--timestamp", help="the column of times (default: the one whose values are all times)")
    init.add_argument("--task", choices=("classification", "regression"), help="default: from the target's values")
    init.add_argument("--force", action="store_true", help="write over an existing mlrails.yaml")
    init.set_defaults(run=_init)
    check = commands.add_parser(
        "check",
        help="feasibility before modeling: is the data there, is there a path to action, is it worth it?",
        description="Answer the three feasibility questions (yes / no / unknown) from the config and the data. "
        "Exit code 0 when all three are yes, 1 otherwise, 2 when the check cannot run.",
    )
    check.add_argument("--data", required=True, help="a .csv, .csv.gz or .parquet path, or an s3:// URI")
    check.add_argument("--json", action="store_true", help="print one JSON document instead of the table")
    check.add_argument(
        "--out",
        help="where the HTML report goes (a path or s3:// URI; default: beside local data, "
        "in the current directory for S3 data)",
    )
    check.add_argument("--sample-rows", type=int, default=5000, help="rows the quick model sees at most")
    check.add_argument("--folds", type=int, default=3, help="cross-validation folds of the quick model")
    check.add_argument(
        "--overhead-ms",
        type=float,
        default=None,
        help="the serving path's latency around the model, if you measured it (default: a documented 50 ms assumption)",
    )
    check.set_defaults(run=_check)
    return parser


def _warn(message, category, filename, lineno, file=None, line=None) -> None:
    """A warning as one line, not a source excerpt (warnings.showwarning's signature)."""
    print(f"mlrails: warning: {message}", file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    """Run a command. Exit 0 on success, 1 when its answer is no (or it failed unexpectedly),
    2 when it cannot run (a bad config or argument: the message says which). Never a traceback
    unless ``--debug``."""
    args = build_parser().parse_args(argv)
    warnings.showwarning = _warn
    try:
        return args.run(args)
    except MlrailsError as exc:
        print(f"mlrails: {exc.message}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("mlrails: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:
        if args.debug:
            traceback.print_exc()
        else:
            print(
                f"mlrails {args.command}: {type(exc).__name__}: {exc}\n"
                "  (an unexpected error: run again with --debug for the traceback, and please report it)",
                file=sys.stderr,
            )
        return 1


if __name__ == "__main__":
    sys.exit(main())
