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


def _predict(args: argparse.Namespace) -> int:
    from mlrails.local.runtime import LocalRuntime

    cfg, project_dir = _project(args)
    with LocalRuntime.resumed(cfg, project_dir, start=datetime.now(UTC)) as runtime:
        status, answer = runtime.request("POST", "/invocations", args.body.encode(), args.content_type)
    print(json.dumps({"status": status, "body": answer}, indent=1))
    return 0 if status == 200 else 1


@contextlib.contextmanager
def _operator(cfg: ProjectConfig, project_dir: Path, environment: str | None) -> Iterator[Callable[..., dict]]:
    """Runs operator commands: on a deployed environment (``--env``) through its train
    function's URL, signed with the caller's AWS credentials (the function records who),
    or on the local environment `mlrails demo` left, through the same function at the run's
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
    simulate.set_defaults(run=_simulate)
    predict = commands.add_parser("predict", help="score a request body with the champion `mlrails demo` left")
    predict.add_argument("body", help="a request body, e.g. '{\"dataframe_records\": [...]}'")
    predict.add_argument("--content-type", default="application/json")
    predict.set_defaults(run=_predict)
    serve = commands.add_parser("serve", help="the API's routes on localhost, backed by `mlrails demo`'s state")
    serve.add_argument("--port", type=int, default=8080)
    serve.set_defaults(run=_serve)
    env_help = (
        "a deployed environment from the config (uses your AWS credentials); "
        "default: the local environment `mlrails demo` left"
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
