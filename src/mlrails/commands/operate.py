"""The operator commands (`promote`, `rollback`, `models`), on the local environment or, with
`--env`, a deployed one (its train function's URL, signed with your AWS credentials)."""

from __future__ import annotations

import argparse
import contextlib
import getpass
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from mlrails.commands.project import load_project
from mlrails.config import ProjectConfig
from mlrails.errors import ConfigError


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


def promote(args: argparse.Namespace) -> int:
    cfg, project_dir = load_project(args)
    with _operator(cfg, project_dir, args.env) as run:
        champion = run("promote", version=str(args.version), reason=args.reason, force=args.force)["champion"]
    print(f"{cfg.model.name} v{champion['version']} is the champion (previous: v{champion['previous_version']})")
    return 0


def rollback(args: argparse.Namespace) -> int:
    cfg, project_dir = load_project(args)
    with _operator(cfg, project_dir, args.env) as run:
        champion = run("rollback")["champion"]
    before = champion["previous_version"]
    print(
        f"rolled back: {cfg.model.name} v{champion['version']} is the champion again "
        f"({'a further rollback serves v' + before if before else 'the first champion: nothing before it'})"
    )
    return 0


def release(args: argparse.Namespace) -> int:
    """`mlrails release propose`: the lock of an environment's champion (or ``--version``),
    written to release/<model>.lock.json in the project, for a pull request."""
    from mlrails.promotion.lock import ModelLock, lock_path

    cfg, project_dir = load_project(args)
    with _operator(cfg, project_dir, args.env) as run:
        lock = ModelLock.from_json(run("lock", version=None if args.version is None else str(args.version))["lock"])
    path = lock_path(project_dir, lock.model_name)
    before = ModelLock.from_json(path.read_text()) if path.is_file() else None
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(lock.to_json())
    change = "unchanged" if before == lock else f"was v{before.version}" if before else "new"
    print(
        f"{path}: {lock.model_name} v{lock.version} from {lock.source_environment} ({change}), "
        f"{len(lock.files)} files pinned, lock sha256 {lock.digest[:12]}\n"
        "  next: commit it and open a pull request; merging it is the promotion, reverting it the rollback"
    )
    return 0


def models(args: argparse.Namespace) -> int:
    cfg, project_dir = load_project(args)
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
