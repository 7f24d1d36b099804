"""Starting training runs on the training state machine, one per trigger."""

from __future__ import annotations

import json
import re
from typing import Any

from mlrails.adapters.clients import aws_errors, client
from mlrails.errors import AwsError


def execution_name(trigger_id: str) -> str:
    """Step Functions names allow 80 characters of [A-Za-z0-9_-]."""
    return re.sub(r"[^A-Za-z0-9_-]", "-", trigger_id)[:80]


def start(state_machine_arn: str, trigger_id: str, run_input: dict[str, Any]) -> str:
    """Start the run named after the trigger. A second start for the same trigger does not
    start a second run: Step Functions returns the existing execution (same input) or
    refuses (ExecutionAlreadyExists), which is the same answer here. Returns the run's name."""
    name = execution_name(trigger_id)
    try:
        with aws_errors(f"starting training run {name}"):
            client("stepfunctions").start_execution(
                stateMachineArn=state_machine_arn, name=name, input=json.dumps(run_input, default=str)
            )
    except AwsError as exc:
        if exc.code != "ExecutionAlreadyExists":
            raise
    return name
