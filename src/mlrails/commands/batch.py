"""`mlrails batch`: score every row of a prefix with the champion, on the local runtime
(:mod:`mlrails.local.batch`) or, with ``--env NAME``, on that deployed environment's batch state
machine (its executions started and followed with your AWS credentials). Exit 0 when the job
scored, 1 when it failed (``BatchFailed``: too many shards failed; its summary is printed all
the same), 2 when it could not run (a bad location, no champion, no such environment)."""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, datetime
from typing import Any

from mlrails.batch.items import SUMMARY_FILE
from mlrails.batch.job import BatchFailed, checked_uri
from mlrails.commands.project import load_project
from mlrails.config import ProjectConfig
from mlrails.errors import BadRequest, ConfigError, ModelNotReady

# What the plan step refuses a job for, as the execution reports it (the exception's type): the
# job could not run, as locally.
REFUSALS = {error.__name__ for error in (ConfigError, ModelNotReady, BadRequest)}


def batch(args: argparse.Namespace) -> int:
    cfg, project_dir = load_project(args)
    if args.env and not args.local:
        return _deployed(cfg, args)
    from mlrails.commands.local import local_environment
    from mlrails.local.batch import run_local
    from mlrails.local.runtime import LocalRuntime

    with LocalRuntime.resumed(
        cfg, project_dir, start=datetime.now(UTC), environment=local_environment(args)
    ) as runtime:
        try:
            summary = run_local(runtime, args.input, args.output)
        except BatchFailed as exc:
            print(f"mlrails: {exc.message}", file=sys.stderr)
            return 1
    _print(summary.to_dict())
    return 0


def _deployed(cfg: ProjectConfig, args: argparse.Namespace) -> int:
    from mlrails.adapters.batch_runs import DeployedBatch
    from mlrails.adapters.operator import session_for

    if args.env not in cfg.environments:
        raise ConfigError(f"--env {args.env}: not one of the config's environments {sorted(cfg.environments)}")
    if args.output is None or not args.input.startswith("s3://"):
        raise ConfigError(
            f"mlrails batch --env {args.env}: --input and --output are s3:// locations under the environment's "
            "data bucket's batch/ (to score local files, upload them there, or add --local)"
        )
    input_uri, output_uri = checked_uri(args.input, prefix=False), checked_uri(args.output, prefix=True)
    runs = DeployedBatch(cfg.project, args.env, session_for(cfg.environments[args.env].region))
    arn = runs.start(input_uri, output_uri)
    if args.no_wait:
        print(arn)
        return 0
    execution = runs.wait(arn, progress=lambda line: print(line, file=sys.stderr))
    if execution.status == "SUCCEEDED":
        _print(runs.summary(output_uri + SUMMARY_FILE))
        return 0
    if execution.error in REFUSALS:
        raise ConfigError(f"the batch job was refused ({execution.error}): {execution.message}")
    if execution.error == BatchFailed.__name__:
        _print(runs.summary(output_uri + SUMMARY_FILE))
    what = f": {execution.error}: {execution.message}" if execution.error else ""
    print(f"mlrails: batch job {arn} ended {execution.status}{what}", file=sys.stderr)
    return 1


def _print(summary: dict[str, Any]) -> None:
    print(json.dumps(summary, indent=1))
