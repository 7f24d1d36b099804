"""Starting training runs on the training state machine, one per trigger."""

from __future__ import annotations

from typing import Any

from mlrails.adapters import executions


def start(state_machine_arn: str, trigger_id: str, run_input: dict[str, Any]) -> str:
    """Start the run named after the trigger, at most once (:func:`executions.start`).
    Returns the run's name."""
    return executions.start(state_machine_arn, trigger_id, run_input, what="training run")
