"""The operator commands (`promote`, `rollback`, `models`), on the local environment or, with
`--env`, a deployed one (its train function's URL, signed with your AWS credentials)."""

from __future__ import annotations

import argparse
import contextlib
import getpass
import sys
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from mlrails.commands.project import load_project
from mlrails.config import ProjectConfig
from mlrails.errors import ConfigError


@contextlib.contextmanager
def operator(
    cfg: ProjectConfig,
    project_dir: Path,
    environment: str | None,
    *,
    local: bool = False,
    role_arn: str | None = None,
) -> Iterator[Callable[..., dict]]:
    """Runs operator commands: on a deployed environment (``--env``) through its train
    function's URL, signed with the caller's AWS credentials (or ``role_arn``'s; the function
    records who), or on a local one (`mlrails up [--env NAME]` or `mlrails demo`; ``--env NAME
    --local``), through the same function at the run's virtual time as the local user (changes
    saved for the next command). Yields ``run(action, **fields) -> result``."""
    from mlrails.promotion.operations import Operation

    if environment is not None and not local:
        from mlrails.adapters.operator import DeployedOperator, session_for

        if environment not in cfg.environments:
            raise ConfigError(f"--env {environment}: not one of the config's environments {sorted(cfg.environments)}")
        region = cfg.environments[environment].region
        remote = DeployedOperator(
            cfg.project,
            environment,
            session=session_for(region, role_arn),
            progress=lambda line: print(line, file=sys.stderr),
        )
        yield lambda action, **fields: remote(Operation(action, **fields))
        return
    from mlrails.local.cloud import ENVIRONMENT
    from mlrails.local.runtime import LocalRuntime

    with LocalRuntime.resumed(
        cfg, project_dir, start=datetime.now(UTC), environment=environment or ENVIRONMENT
    ) as runtime:
        yield lambda action, **fields: runtime.operate(Operation(action, **fields), by=getpass.getuser())


def promote(args: argparse.Namespace) -> int:
    cfg, project_dir = load_project(args)
    with operator(cfg, project_dir, args.env, local=args.local) as run:
        champion = run("promote", version=str(args.version), reason=args.reason, force=args.force)["champion"]
    print(f"{cfg.model.name} v{champion['version']} is the champion (previous: v{champion['previous_version']})")
    return 0


def rollback(args: argparse.Namespace) -> int:
    cfg, project_dir = load_project(args)
    with operator(cfg, project_dir, args.env, local=args.local) as run:
        champion = run("rollback")["champion"]
    before = champion["previous_version"]
    print(
        f"rolled back: {cfg.model.name} v{champion['version']} is the champion again "
        f"({'a further rollback serves v' + before if before else 'the first champion: nothing before it'})"
    )
    return 0


def models(args: argparse.Namespace) -> int:
    cfg, project_dir = load_project(args)
    from mlrails.promotion.lock import read_lock

    with operator(cfg, project_dir, args.env, local=args.local) as run:
        listing = run("models")
    lines = models_lines(listing, cfg.model.name, cfg.primary_metric)
    lock = read_lock(project_dir, cfg.model.name)
    if lock is not None:
        lines.insert(1, "  " + lock_line(listing.get("serving_lock"), lock.digest))
    print("\n".join(lines))
    return 0


def lock_line(serving: str | None, locked: str) -> str:
    """Whether the champion is the one the project's lock names."""
    if serving == locked:
        return f"lock: the champion is the lock's ({locked[:12]}, release/ in git)"
    what = f"the lock {serving[:12]}'s" if serving else "trained here, or a person's emergency promotion or rollback"
    return f"lock: the champion ({what}) differs from the lock {locked[:12]} in release/: `mlrails release apply`"


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
