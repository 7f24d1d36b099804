"""`mlrails ui`: MLflow's web UI on localhost.

With ``--env NAME``, a deployed environment's MLflow, which runs only while someone holds it
(:mod:`mlrails.tracking`): the command holds it (starting its task if none runs), opens a
Session Manager port forward to the task (ECS Exec: no open port, no bastion; the AWS CLI and
its Session Manager plugin do the forwarding), renews its hold every minute while the forward
is open, and releases it when the forward ends, at ``--minutes`` at the latest. A command that
dies without releasing leaves a hold that expires within minutes; the idle sweep then stops
the server. Without ``--env`` (or with ``--local``): the local environment's MLflow store (the
runs, their metrics and the registry), served from this machine.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from mlrails.commands.project import load_project
from mlrails.config import ProjectConfig
from mlrails.errors import ConfigError

MLFLOW_PORT = 5000  # the server's port in its task (infra/constructs/mlflow_service.py)
PORT_FORWARD_DOCUMENT = "AWS-StartPortForwardingSession"
# The hold each renewal sets: a command that dies stops holding within this many minutes.
RENEWED_HOLD_MINUTES = 5
RENEW_EVERY_SECONDS = 60


def ui(args: argparse.Namespace) -> int:
    cfg, project_dir = load_project(args)
    if args.env is None or args.local:
        return _local(project_dir, args.env, args.port)
    return _deployed(cfg, args.env, args.port, args.minutes)


def port_forward_command(target: str, port: int, region: str | None) -> list[str]:
    """The AWS CLI's port forward from localhost:``port`` to MLflow's port in the task ``target``."""
    command = [
        "aws",
        "ssm",
        "start-session",
        "--target",
        target,
        "--document-name",
        PORT_FORWARD_DOCUMENT,
        "--parameters",
        f"portNumber={MLFLOW_PORT},localPortNumber={port}",
    ]
    return command + (["--region", region] if region else [])


def forward(
    command: list[str],
    renew: Callable[[], None],
    *,
    limit_seconds: float,
    every_seconds: float = RENEW_EVERY_SECONDS,
    clock: Callable[[], float] = time.monotonic,
) -> int:
    """Run ``command`` (the port forward), calling ``renew`` every ``every_seconds`` while it
    runs, and stop it after ``limit_seconds``. Returns its exit code (0 when stopped at the limit)."""
    process = subprocess.Popen(command)
    deadline, next_renewal = clock() + limit_seconds, clock() + every_seconds
    try:
        while True:
            try:
                return process.wait(timeout=max(0.0, min(next_renewal, deadline) - clock()))
            except subprocess.TimeoutExpired:
                pass
            if clock() >= deadline:
                process.terminate()
                process.wait()
                return 0
            renew()
            next_renewal = clock() + every_seconds
    finally:
        if process.poll() is None:  # interrupted (Ctrl-C): the forward goes with the command
            process.terminate()
            process.wait()


def _deployed(cfg: ProjectConfig, environment: str, port: int, minutes: float) -> int:
    from mlrails.adapters.operator import DeployedOperator, session_for
    from mlrails.tracking.client import hold_until_ready, holder

    if environment not in cfg.environments:
        raise ConfigError(f"--env {environment}: not one of the config's environments {sorted(cfg.environments)}")
    missing = [tool for tool in ("aws", "session-manager-plugin") if shutil.which(tool) is None]
    if missing:
        raise ConfigError(
            f"`mlrails ui --env` forwards a port with the AWS CLI and its Session Manager plugin; not found: "
            f"{', '.join(missing)} (see the AWS CLI's guide, 'Install the Session Manager plugin')"
        )
    region = cfg.environments[environment].region
    operator = DeployedOperator(
        cfg.project, environment, session=session_for(region), progress=lambda line: print(line, file=sys.stderr)
    )
    name = holder("ui")

    def hold(event: dict[str, Any]) -> dict[str, Any]:
        # Ready for a forward once ECS names the running task's container, not before.
        status = operator.switch(event)
        return {**status, "ready": status["ready"] and status.get("session_target") is not None}

    status = hold_until_ready(hold, name, RENEWED_HOLD_MINUTES, pause=operator.wait_for_start)
    print(
        f"MLflow of '{environment}' at http://localhost:{port} (Ctrl-C to stop; it stops by itself after "
        f"{minutes:g} minutes, and the server when nobody holds it)",
        file=sys.stderr,
    )
    try:
        return forward(
            port_forward_command(status["session_target"], port, region),
            lambda: operator.switch({"action": "hold", "holder": name, "minutes": RENEWED_HOLD_MINUTES}),
            limit_seconds=minutes * 60,
        )
    except KeyboardInterrupt:
        return 0
    finally:
        operator.switch({"action": "release", "holder": name})


def _local(project_dir: Path, environment: str | None, port: int) -> int:
    from mlrails.local.cloud import ENVIRONMENT
    from mlrails.local.runtime import state_dir_of

    store = state_dir_of(project_dir, environment or ENVIRONMENT) / "mlflow.db"
    if not store.is_file():
        raise ConfigError(f"no local MLflow store at {store}: run `mlrails demo` or `mlrails up` first")
    print(
        f"MLflow of the local environment at http://localhost:{port} (Ctrl-C to stop). Runs, metrics and the "
        "registry are here; the artifacts are in the local environment's S3, which runs only with it.",
        file=sys.stderr,
    )
    command = [sys.executable, "-m", "mlflow", "server", "--backend-store-uri", f"sqlite:///{store}"]
    server = subprocess.Popen([*command, "--host", "127.0.0.1", "--port", str(port)])
    try:
        return server.wait()
    except KeyboardInterrupt:
        # The terminal's Ctrl-C reached the server too: let it stop its workers.
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.terminate()
            server.wait()
        return 0
