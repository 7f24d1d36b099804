"""Starting named executions of a state machine, at most one per name."""

from __future__ import annotations

import json
import re
from typing import Any

from mlrails.adapters.clients import aws_errors, client
from mlrails.errors import AwsError


def execution_name(text: str) -> str:
    """Step Functions names allow 80 characters of [A-Za-z0-9_-]."""
    return re.sub(r"[^A-Za-z0-9_-]", "-", text)[:80]


def start(state_machine_arn: str, name: str, execution_input: dict[str, Any], *, what: str) -> str:
    """Start the execution ``name`` (``what`` it is, for errors). A second start of the same
    name does not start a second execution: Step Functions returns the existing one (same
    input) or refuses (ExecutionAlreadyExists), which is the same answer here. Returns the name."""
    name = execution_name(name)
    try:
        with aws_errors(f"starting {what} {name}"):
            client("stepfunctions").start_execution(
                stateMachineArn=state_machine_arn, name=name, input=json.dumps(execution_input, default=str)
            )
    except AwsError as exc:
        if exc.code != "ExecutionAlreadyExists":
            raise
    return name
