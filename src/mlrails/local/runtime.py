"""The local runtime: cloud + handlers + router + a virtual clock, behind a small API."""

from __future__ import annotations

import base64
import contextlib
import itertools
import json
import shutil
import uuid
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, TextIO

from mlrails.adapters import deployed, s3
from mlrails.config import ProjectConfig
from mlrails.errors import ConfigError
from mlrails.local.cloud import ENVIRONMENT, FEEDBACK_API, SCORING_API, LocalApi, LocalCloud, deploy_config
from mlrails.local.delivery import deliver_captures
from mlrails.local.invoker import Invoker
from mlrails.local.router import Invocation, Router
from mlrails.promotion.lock import read_lock
from mlrails.promotion.operations import Operation, unwrap
from mlrails.schedule import fire_times
from mlrails.tracking.client import held
from mlrails.wiring import SCHEDULES, TRAINING, Prefix


def api_for(path: str) -> LocalApi:
    """The API a path is served by, as deployed: /feedback by its own, the rest by the scoring API."""
    return FEEDBACK_API if path == "/feedback" else SCORING_API


def api_event(
    method: str,
    path: str,
    at: datetime,
    body: bytes | None = None,
    content_type: str | None = None,
    api: LocalApi | None = None,
) -> dict[str, Any]:
    """An API Gateway REST (proxy) event, as the deployed API sends the inference function:
    through ``api`` (default: the one that serves ``path``), with that API's key, whose id
    API Gateway puts in the request context."""
    api = api or api_for(path)
    headers = {"Content-Type": content_type} if content_type else {}
    request_id = str(uuid.uuid4())
    return {
        "resource": path,
        "path": path,
        "httpMethod": method,
        "headers": headers,
        "multiValueHeaders": {k: [v] for k, v in headers.items()},
        "queryStringParameters": None,
        "multiValueQueryStringParameters": None,
        "pathParameters": None,
        "stageVariables": None,
        "requestContext": {
            "resourcePath": path,
            "httpMethod": method,
            "path": f"/local{path}",
            "stage": "local",
            "requestId": request_id,
            "requestTimeEpoch": int(at.timestamp() * 1000),
            "apiId": api.api_id,
            "identity": {"sourceIp": "127.0.0.1", "apiKey": "local", "apiKeyId": api.api_key_id},
        },
        "body": base64.b64encode(body).decode() if body is not None else None,
        "isBase64Encoded": body is not None,
    }


def function_url_request(body: dict[str, Any], *, caller: str, at: datetime) -> dict[str, Any]:
    """A function URL request (payload 2.0) as Lambda passes it on after checking its SigV4
    signature: the caller's identity and the request time are Lambda's, not the sender's."""
    return {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": "/",
        "rawQueryString": "",
        "headers": {"content-type": "application/json"},
        "requestContext": {
            "http": {"method": "POST", "path": "/", "sourceIp": "127.0.0.1"},
            "authorizer": {"iam": {"userArn": caller}},
            "requestId": str(uuid.uuid4()),
            "timeEpoch": int(at.timestamp() * 1000),
        },
        "body": json.dumps(body),
        "isBase64Encoded": False,
    }


# Under a project's .mlrails/: the local copies of config environments, and the release store
# they share. The local environment's own state is the rest (what `fresh` clears).
ENVIRONMENTS_DIR, RELEASE_STORE_DIR = "environments", "release-store"


def state_dir_of(project_dir: Path, environment: str) -> Path:
    """Where an environment's local state lives: the local environment's in .mlrails/, a local
    copy of a config environment's in .mlrails/environments/<name>/."""
    root = project_dir / ".mlrails"
    return root if environment == ENVIRONMENT else root / ENVIRONMENTS_DIR / environment


def _clear(state_dir: Path, environment: str) -> None:
    """Forget an environment's state (the local one's leaves the other environments and the
    release store)."""
    if environment != ENVIRONMENT:
        shutil.rmtree(state_dir)
        return
    for child in state_dir.iterdir():
        if child.name not in (ENVIRONMENTS_DIR, RELEASE_STORE_DIR):
            shutil.rmtree(child) if child.is_dir() else child.unlink()


class LocalRuntime:
    """Runs the deployed graph on this machine, as one environment (the local one by default,
    or ``environment``, a local copy of one of the config's). Use as a context manager."""

    def __init__(
        self,
        cfg: ProjectConfig,
        project_dir: Path,
        *,
        start: datetime,
        on_invocation: Callable[[Invocation], None] = lambda _: None,
        fresh: bool = True,
        state_dir: Path | None = None,
        environment: str = ENVIRONMENT,
    ) -> None:
        if environment != ENVIRONMENT and environment not in cfg.environments:
            raise ConfigError(f"--env {environment}: not one of the config's environments {sorted(cfg.environments)}")
        self.cfg, self.project_dir, self.environment = cfg, project_dir, environment
        # `mlrails demo` leaves its state here for the commands that follow; a simulation
        # keeps its own so that it does not wipe the demo's.
        self.state_dir = state_dir or state_dir_of(project_dir, environment)
        if fresh and self.state_dir.exists():
            _clear(self.state_dir, environment)
        self.now = self.anchor = start
        lock = read_lock(project_dir, cfg.model.name) if cfg.models_source(environment) == "release" else None
        self.cloud = LocalCloud(
            cfg,
            self.state_dir,
            environment=environment,
            release_dir=project_dir / ".mlrails" / RELEASE_STORE_DIR,
            # Each run deploys the project as it is: a release environment's inference serves
            # the lock in the project's release/ folder (as `cdk deploy` pins it).
            release_lock=lock.digest if lock is not None else None,
        )
        self._on_invocation = on_invocation
        self._log: TextIO | None = None

    def __enter__(self) -> LocalRuntime:
        self.cloud.start()
        self._log = (self.state_dir / "functions.log").open("a")
        self.router = Router(
            self.cloud,
            Invoker(self.cloud, self._log),
            lambda: self.now,
            self._on_invocation,
        )
        self.router.install()
        return self

    def __exit__(self, *_: object) -> None:
        self.cloud.stop()
        if self._log:
            self._log.close()

    @classmethod
    @contextlib.contextmanager
    def resumed(
        cls,
        cfg: ProjectConfig,
        project_dir: Path,
        *,
        start: datetime,
        on_invocation: Callable[[Invocation], None] = lambda _: None,
        environment: str = ENVIRONMENT,
    ) -> Iterator[LocalRuntime]:
        """The project's saved local environment, running, and saved again when the block ends
        (however it ends): what a command did there (served predictions and their captures,
        labels, promotions) is there for the next one. Raises :class:`ConfigError` when there
        is nothing saved yet."""
        with cls(
            cfg, project_dir, start=start, fresh=False, on_invocation=on_invocation, environment=environment
        ) as runtime:
            if not runtime.resume():
                named = "" if environment == ENVIRONMENT else f" --env {environment}"
                raise ConfigError(
                    f"no local state yet{' for ' + repr(environment) if named else ''}: run `mlrails up{named}` "
                    "(your project) or `mlrails demo` first"
                )
            try:
                yield runtime
            finally:
                runtime.save()

    @property
    def log_path(self) -> Path:
        """Where handler logs and metrics go."""
        return self.state_dir / "functions.log"

    def upload_raw(self, name: str, body: bytes) -> list[Invocation]:
        """Put a file under raw/ (S3 → EventBridge → feature_prep) and run what follows."""
        s3.put_bytes(s3.uri(self.cloud.names.data_bucket, Prefix.RAW.value + name), body)
        return self.router.drain()

    def call(
        self,
        method: str,
        path: str,
        body: bytes | None = None,
        content_type: str | None = "application/json",
        api: LocalApi | None = None,
    ) -> tuple[int, str, bytes]:
        """Call the inference function as API Gateway would, through ``api`` (default: the one
        that serves ``path``): (status, content type, body)."""
        response = self.router.invoker.invoke("inference", api_event(method, path, self.now, body, content_type, api))
        payload = response.get("body") or ""
        raw = base64.b64decode(payload) if response.get("isBase64Encoded") else payload.encode()
        headers = response.get("multiValueHeaders") or {k: [v] for k, v in (response.get("headers") or {}).items()}
        return response["statusCode"], (headers.get("Content-Type") or ["application/json"])[0], raw

    def request(
        self,
        method: str,
        path: str,
        body: bytes | None = None,
        content_type: str | None = "application/json",
        api: LocalApi | None = None,
    ) -> tuple[int, Any]:
        """:meth:`call`, with the JSON answer parsed."""
        status, _, raw = self.call(method, path, body, content_type, api)
        return status, json.loads(raw or b"null")

    def save(self) -> None:
        """Keep this run's state (buckets and virtual time) for the next command."""
        deliver_captures(self.cloud.names)
        self.cloud.save_snapshot()
        # The anchor too: rate schedules count from the deployment, not from each resume.
        clock = {"now": self.now.isoformat(), "anchor": self.anchor.isoformat()}
        (self.cloud.snapshot_dir / "clock.json").write_text(json.dumps(clock))

    def resume(self) -> bool:
        """Continue where the last saved run stopped; False when there is nothing saved."""
        if not self.cloud.restore_snapshot():
            return False
        clock = self.cloud.snapshot_dir / "clock.json"
        if clock.is_file():
            saved = json.loads(clock.read_text())
            self.now = datetime.fromisoformat(saved["now"])
            self.anchor = datetime.fromisoformat(saved.get("anchor", saved["now"]))
        return True

    def redeploy(self, cfg: ProjectConfig) -> None:
        """Deploy a changed config, as `cdk deploy` would: the new validated config under its
        content hash, functions pointed at it, every container cold."""
        deliver_captures(self.cloud.names)  # the old containers' buffers, which the reset forgets
        self.cfg = self.cloud.cfg = cfg
        deploy_config(cfg, self.cloud.names)
        deployed.reset()
        self.router.invoker.cold_start()

    def operate(self, operation: Operation, *, by: str) -> dict[str, Any]:
        """A person's command, run by the train function through its URL as in AWS (see
        :mod:`mlrails.promotion.operations`); here the runtime stands for IAM: ``by`` is who it says the
        caller is, and the time is the run's virtual time."""
        with held(self.hold_tracking, "operator", pause=lambda _status: None):
            response = self.router.invoker.invoke(
                TRAINING.function, function_url_request(operation.to_body(), caller=by, at=self.now)
            )
        # What the command announced (ModelPromoted...) waits in the outbox: relay it.
        self.router.drain()
        return unwrap(response["statusCode"], response["body"])

    def hold_tracking(self, event: dict[str, Any]) -> dict[str, Any]:
        """A hold or release of MLflow (mlrails.tracking) at the run's virtual time."""
        return self.router.invoker.invoke(TRAINING.tracking_function, {**event, "time": self.now.isoformat()})

    def advance(self, delta: timedelta) -> list[Invocation]:
        """Move the virtual clock, firing every schedule due on the way, in time order."""
        end = self.now + delta
        due = sorted(
            (when, spec.name)
            for spec in SCHEDULES
            if spec.enabled(self.cfg)
            for when in fire_times(spec.expression(self.cfg), self.anchor, self.now, end)
        )
        fired = []
        for when, group in itertools.groupby(due, key=lambda item: item[0]):
            self.now = when
            fired += self.router.fire_schedules([name for _, name in group], when)
        # Captures are delivered when something reads them (a scheduled check, a saved
        # state), not whenever the clock moves: Firehose's buffer interval is far below any
        # schedule's, so on AWS a reader finds them delivered either way.
        self.now = end
        return fired
