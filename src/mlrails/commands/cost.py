"""`mlrails cost`: an environment's idle month, one training run and a million predictions,
priced from the synthesized templates in cdk.out (no AWS call, no credentials)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from mlrails.commands.project import load_project
from mlrails.cost.report import environment_cost
from mlrails.errors import ConfigError


def _step_seconds(values: list[str]) -> dict[str, float]:
    found = {}
    for value in values:
        name, _, seconds = value.partition("=")
        try:
            found[name] = float(seconds)
        except ValueError:
            raise ConfigError(f"--step-seconds {value}: expected STATE=SECONDS, e.g. train=600") from None
    return found


def cost(args: argparse.Namespace) -> int:
    cfg, project_dir = load_project(args)
    if args.env not in cfg.environments:
        raise ConfigError(f"--env {args.env}: not one of the config's environments {sorted(cfg.environments)}")
    cdk_out = Path(args.cdk_out) if args.cdk_out else project_dir / "cdk.out"
    report = environment_cost(
        cdk_out,
        args.env,
        sample_rate=cfg.capture.sample_rate,
        step_seconds=_step_seconds(args.step_seconds),
        request_ms=args.request_ms,
    )
    print(json.dumps(report.to_json(), indent=2) if args.json else report.to_text())
    return 0
