"""The `mlrails` command."""

from __future__ import annotations

import argparse
import sys
import traceback
import warnings

from mlrails.commands import batch as batch_command
from mlrails.commands import cost, local, operate, project, release, ui
from mlrails.commands.project import CONFIG_FILE
from mlrails.errors import MlrailsError


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
    demo = commands.add_parser("demo", help="run the whole lifecycle locally (moto + local MLflow)")
    demo.add_argument(
        "--release",
        action="store_true",
        help="the release tour instead: dev → staging → prod by a lock in git, with the release commands",
    )
    # The tour runs commands as typed: it is handed the command runner.
    demo.set_defaults(run=local.demo, mlrails=main)
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
    simulate.set_defaults(run=local.simulate)
    predict = commands.add_parser("predict", help="score a request body with the local environment's champion")
    predict.add_argument("body", nargs="?", help="a request body, e.g. '{\"dataframe_records\": [...]}'")
    predict.add_argument("--file", help="the request body from a file (.json, or .csv with a header row)")
    predict.add_argument("--content-type", default="application/json")
    predict.set_defaults(run=local.predict)
    batch = commands.add_parser(
        "batch", help="score every row of a prefix (CSV, JSON Lines, Parquet) with the champion, shard by shard"
    )
    batch.add_argument(
        "--input",
        required=True,
        help="s3://<data bucket>/batch/.../ (a prefix, or one object), or locally a file or folder "
        "(uploaded to the data bucket under batch/ first)",
    )
    batch.add_argument(
        "--output",
        help="s3://<data bucket>/batch/.../ for the scored parts, refused rows and summary (default for local "
        "files: beside their upload, batch/<hash>/output/)",
    )
    batch.add_argument(
        "--env",
        default=None,
        help="a deployed environment of the config: its batch state machine runs the job (uses your AWS "
        "credentials); with --local, its local copy",
    )
    batch.add_argument("--local", action="store_true", help="run on the local copy of --env")
    batch.add_argument(
        "--no-wait", action="store_true", help="with --env: print the execution's ARN instead of following it"
    )
    batch.set_defaults(run=batch_command.batch)
    serve = commands.add_parser("serve", help="the API's routes on localhost, answered by the local environment")
    serve.add_argument("--port", type=int, default=8080)
    serve.set_defaults(run=local.serve)
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
    promote.set_defaults(run=operate.promote)
    rollback = commands.add_parser(
        "rollback", help="serve the champion before this one again (each rollback goes one further back)"
    )
    rollback.set_defaults(run=operate.rollback)
    release_command = commands.add_parser(
        "release", help="move a model between environments through a lock in git (release/<model>.lock.json)"
    )
    release_command.add_argument(
        "step",
        choices=("propose", "apply", "verify"),
        help="propose: write the lock of a champion (--from ENV) and store its files; apply: serve the lock in "
        "--env; verify: smoke-test --env against the lock",
    )
    release_command.add_argument("--version", type=int, help="propose: a trained version (default: the champion)")
    release_command.add_argument(
        "--if-deployed", action="store_true", help="apply: do nothing (exit 0) when --env is not deployed yet"
    )
    release_command.set_defaults(run=release.release)
    models = commands.add_parser("models", help="versions, aliases, metrics and the promotion audit log")
    models.set_defaults(run=operate.models)
    ui_command = commands.add_parser(
        "ui", help="MLflow's web UI on localhost (a deployed one is started, forwarded, and stopped after)"
    )
    ui_command.add_argument("--port", type=int, default=5000, help="the local port (default 5000)")
    ui_command.add_argument(
        "--minutes", type=float, default=60, help="with --env: stop the forward, and the hold, after this long"
    )
    ui_command.set_defaults(run=ui.ui)
    release_command.add_argument(
        "--from",
        "--env",
        dest="env",
        default=None,
        help="propose: the environment the model comes from; apply, verify: the one it goes to; " + env_help,
    )
    release_command.add_argument(
        "--role-arn", help="with --env: a role to assume for it (the release pipeline's steps assume each stage's)"
    )
    for command in (promote, rollback, models, ui_command):
        command.add_argument("--env", default=None, help=env_help)
    for command in (promote, rollback, models, release_command, ui_command):
        command.add_argument(
            "--local", action="store_true", help="--env names a local copy of the environment (`mlrails up --env NAME`)"
        )
    generate = commands.add_parser("generate", help="write synthetic churn data for the example config")
    generate.add_argument("output", help="a .csv or .parquet path")
    generate.add_argument("--rows", type=int, default=1000)
    generate.add_argument("--days", type=float, default=1.0, help="time span the rows cover")
    generate.add_argument("--start", help="ISO time of the first row (default: now)")
    generate.add_argument("--drift", type=float, default=0.0, help="0 (training population) to 1 (fully shifted)")
    generate.add_argument("--seed", type=int, default=0)
    generate.add_argument("--no-target", action="store_true", help="leave out the label (serving traffic)")
    generate.set_defaults(run=project.generate)
    up = commands.add_parser("up", help="start your project's local environment (in its .mlrails/)")
    up.add_argument("--at", help="the virtual clock's start, ISO 8601 (default: now)")
    up.add_argument("--fresh", action="store_true", help="replace an existing local environment")
    up.set_defaults(run=local.up)
    upload = commands.add_parser("upload", help="files into raw/ at the local clock's time, and what follows")
    upload.add_argument("files", nargs="+", help=".csv, .csv.gz or .parquet files")
    upload.add_argument(
        "--replay", action="store_true", help="one timestamped dataset, uploaded day by day as it would have arrived"
    )
    upload.set_defaults(run=local.upload)
    advance = commands.add_parser("advance", help="move the local clock, firing every schedule due on the way")
    advance.add_argument("duration", help="30m, 12h, 3d, 1w")
    advance.set_defaults(run=local.advance)
    status = commands.add_parser("status", help="the local environment: clock, champion, data, decisions, schedules")
    status.add_argument("--json", action="store_true", help="one JSON document")
    status.set_defaults(run=local.status)
    down = commands.add_parser("down", help="forget the local environment (its .mlrails/)")
    down.set_defaults(run=local.down)
    for command in (up, upload, advance, status, down, predict, serve):
        command.add_argument(
            "--env",
            default=None,
            help="a local copy of this config environment (in .mlrails/environments/NAME/), "
            "beside the local one (the default)",
        )
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
    init.set_defaults(run=project.init)
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
    check.set_defaults(run=project.check)
    cost_command = commands.add_parser(
        "cost",
        help="an environment's idle month, one training run and a million predictions, from the synthesized templates",
        description="Price the templates in cdk.out (`make synth` writes them) with the kit's dated us-east-1 list "
        "prices: what is billed by the hour whether used or not (stored data left out), one training run and a "
        "million predictions. No AWS call and no credentials.",
    )
    cost_command.add_argument("--env", required=True, help="an environment of the config")
    cost_command.add_argument("--cdk-out", help="the cloud assembly (default: cdk.out beside the config)")
    cost_command.add_argument("--json", action="store_true", help="one JSON document instead of the table")
    cost_command.add_argument(
        "--step-seconds",
        action="append",
        default=[],
        metavar="STATE=SECONDS",
        help="how long a training state runs, e.g. train=900 (repeatable; default: train=300, evaluate=60, "
        "finish=60, any other task 60)",
    )
    cost_command.add_argument(
        "--request-ms",
        type=float,
        help="the inference function's time per request (default: 1.06 ms, bench/inference.py's p50 in-process)",
    )
    cost_command.set_defaults(run=cost.cost)
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
