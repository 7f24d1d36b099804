"""Calls the real handlers the way Lambda does: module loaded by path, its environment set,
an event and a context passed in. Handler output (JSON logs, EMF metrics) goes to a log file
so the runtime's own output stays readable."""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import sys
import time
import uuid
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any, TextIO

from mlrails import CHECKOUT_DIR
from mlrails.errors import ConfigError
from mlrails.local.cloud import LocalCloud
from mlrails.wiring import FunctionSpec, function


@dataclass
class LocalContext:
    """The attributes of Lambda's context object that handlers and Powertools read."""

    function_name: str
    memory_limit_in_mb: int
    timeout_seconds: int
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    function_version: str = "$LATEST"
    log_group_name: str = "local"
    log_stream_name: str = "local"
    _started: float = field(default_factory=time.monotonic)

    @property
    def invoked_function_arn(self) -> str:
        return f"arn:aws:lambda:us-east-1:000000000000:function:{self.function_name}"

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self.timeout_seconds - (time.monotonic() - self._started)) * 1000))


# The kit's Lambda handlers: the same files the CDK app deploys, whichever project runs.
FUNCTIONS_DIR = CHECKOUT_DIR / "functions"


class Invoker:
    """Loads each function once (a warm container) and invokes it."""

    def __init__(self, cloud: LocalCloud, log: TextIO, functions_dir: Path = FUNCTIONS_DIR) -> None:
        if not (functions_dir / "inference" / "handler.py").is_file():
            raise ConfigError(
                f"{functions_dir} does not hold the kit's functions: install mlrails from its checkout (uv sync, "
                "or pip install -e), which the local runtime runs the handlers from"
            )
        self.cloud, self.functions_dir, self.log = cloud, functions_dir, log
        self._modules: dict[str, ModuleType] = {}

    def invoke(self, name: str, event: dict[str, Any]) -> Any:
        """Run ``functions/<name>/handler.py:lambda_handler(event, context)``."""
        spec = function(name)
        os.environ.update(self.cloud.environment_for(spec))
        with contextlib.redirect_stdout(self.log), contextlib.redirect_stderr(self.log), warnings.catch_warnings():
            warnings.simplefilter("default")
            # Powertools' note on an invocation that published no metric (the hourly deferred
            # retrain check, most hours): noise in a log of thousands of such runs.
            warnings.filterwarnings("ignore", "No application metrics to publish", UserWarning)
            module = self._modules.get(name) or self._load(spec)
            context = LocalContext(f"mlrails-local-{name}", spec.memory_mb, spec.timeout_seconds)
            # Through JSON both ways, as Lambda does: a result that is not plain JSON (a numpy
            # float, a NaN) fails here as it would in the cloud.
            result = module.lambda_handler(json.loads(json.dumps(event, allow_nan=False)), context)
            return json.loads(json.dumps(result, allow_nan=False))

    def cold_start(self) -> None:
        """Forget the loaded functions, as a deployment replaces every container."""
        self._modules.clear()

    def _load(self, spec: FunctionSpec) -> ModuleType:
        path = self.functions_dir / spec.name / "handler.py"
        module_spec = importlib.util.spec_from_file_location(f"mlrails_function_{spec.name}", path)
        module = importlib.util.module_from_spec(module_spec)
        sys.modules[module_spec.name] = module
        module_spec.loader.exec_module(module)
        self._modules[spec.name] = module
        return module
