"""`mlrails release propose | apply | verify`: a model moves between environments through a
lock in git (:mod:`mlrails.promotion.lock`). The release pipeline runs these same commands
after each stage it deploys; locally, ``--local`` runs them on the local copies of the
environments (`mlrails up --env NAME`)."""

from __future__ import annotations

import argparse
from datetime import UTC, datetime
from pathlib import Path

from mlrails.commands.operate import operator
from mlrails.commands.project import load_project
from mlrails.config import ProjectConfig
from mlrails.errors import ConfigError, NotDeployed
from mlrails.promotion.lock import ModelLock, lock_path, read_lock
from mlrails.release import smoke


def release(args: argparse.Namespace) -> int:
    cfg, project_dir = load_project(args)
    steps = {"propose": _propose, "apply": _apply, "verify": _verify}
    if args.step != "propose" and args.env is None:
        raise ConfigError(f"release {args.step} needs --env: the environment to {args.step} the lock in")
    return steps[args.step](cfg, project_dir, args)


def _propose(cfg: ProjectConfig, project_dir: Path, args: argparse.Namespace) -> int:
    """The lock of an environment's champion (or ``--version``), written to
    release/<model>.lock.json in the project, for a pull request; its files copied into the
    release store."""
    with operator(cfg, project_dir, args.env, local=args.local, role_arn=args.role_arn) as run:
        lock = ModelLock.from_json(run("lock", version=None if args.version is None else str(args.version))["lock"])
    path = lock_path(project_dir, lock.model_name)
    before = read_lock(project_dir, lock.model_name)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(lock.to_json())
    change = "unchanged" if before == lock else f"was v{before.version}" if before else "new"
    print(
        f"{path}: {lock.model_name} v{lock.version} from {lock.source_environment} ({change}), "
        f"{len(lock.files)} files pinned and stored, lock sha256 {lock.digest[:12]}\n"
        "  next: commit it and open a pull request; merging it is the promotion, reverting it the rollback"
    )
    return 0


def _the_lock(cfg: ProjectConfig, project_dir: Path) -> ModelLock:
    lock = read_lock(project_dir, cfg.model.name)
    if lock is None:
        raise ConfigError(f"no lock at {lock_path(project_dir, cfg.model.name)}: `mlrails release propose` writes one")
    return lock


def _apply(cfg: ProjectConfig, project_dir: Path, args: argparse.Namespace) -> int:
    """Serve the project's lock in ``--env``: verified, copied, promoted (or nothing, when it
    serves already)."""
    from mlrails.adapters import git

    lock = _the_lock(cfg, project_dir)
    try:
        with operator(cfg, project_dir, args.env, local=args.local, role_arn=args.role_arn) as run:
            result = run("apply", lock=lock.to_json(), commit=git.commit(project_dir))
    except NotDeployed:
        if not args.if_deployed:
            raise
        print(f"{args.env} is not deployed yet: its first deployment applies the lock after it deploys")
        return 0
    champion = result["champion"]
    what = f"{lock.model_name} v{lock.version} from {lock.source_environment} (lock {lock.digest[:12]})"
    if result["applied"]:
        print(
            f"{args.env}: {what} applied as v{champion['version']}, the champion "
            f"(previous: {'v' + champion['previous_version'] if champion['previous_version'] else 'none'})"
        )
    else:
        print(f"{args.env}: {what} serves already as v{champion['version']}: nothing to do")
    return 0


def _verify(cfg: ProjectConfig, project_dir: Path, args: argparse.Namespace) -> int:
    """The smoke test: ``/ping`` answers, ``/version`` names the lock, and the lock's example
    rows get the answers it recorded. Exit status 1 when any of it fails."""
    lock = _the_lock(cfg, project_dir)
    body = smoke.example_request(lock)
    if args.local:
        from mlrails.local.runtime import LocalRuntime

        with LocalRuntime.resumed(cfg, project_dir, start=datetime.now(UTC), environment=args.env) as runtime:
            answers = (runtime.request("GET", "/ping"), runtime.request("GET", "/version"))
            answers += (runtime.request("POST", "/invocations", body),)
    else:
        from mlrails.adapters.operator import DeployedApi, session_for

        if args.env not in cfg.environments:
            raise ConfigError(f"--env {args.env}: not one of the config's environments {sorted(cfg.environments)}")
        api = DeployedApi(cfg.project, args.env, session_for(cfg.environments[args.env].region, args.role_arn))
        answers = (
            api.request("GET", "/ping"),
            api.request("GET", "/version"),
            api.request("POST", "/invocations", body),
        )
    found = smoke.problems(lock, *answers)
    for line in found:
        print(f"  FAILED {line}")
    if found:
        return 1
    print(
        f"{args.env}: serves the lock {lock.digest[:12]} "
        f"({lock.model_name} v{lock.version} from {lock.source_environment}); "
        f"its {len(lock.example['records'])} example rows answered as recorded"
    )
    return 0
