"""`mlrails ui --env`: the port forward runs while its hold is renewed, and stops at the limit
(a real child process stands for the AWS CLI's session)."""

from __future__ import annotations

import sys

from mlrails.commands.ui import MLFLOW_PORT, forward, port_forward_command


def test_the_forward_targets_mlflows_port_through_the_port_forwarding_document():
    command = port_forward_command("ecs:cluster_abc_abc-123", 5001, "eu-west-1")
    assert command[:3] == ["aws", "ssm", "start-session"]
    assert command[command.index("--target") + 1] == "ecs:cluster_abc_abc-123"
    assert command[command.index("--document-name") + 1] == "AWS-StartPortForwardingSession"
    assert command[command.index("--parameters") + 1] == f"portNumber={MLFLOW_PORT},localPortNumber=5001"
    assert command[-2:] == ["--region", "eu-west-1"]


def test_the_hold_is_renewed_while_the_forward_runs_and_the_forward_stops_at_the_limit():
    renewals = []
    code = forward(
        [sys.executable, "-c", "import time; time.sleep(30)"],
        lambda: renewals.append(1),
        limit_seconds=1.0,
        every_seconds=0.25,
    )
    assert code == 0 and 2 <= len(renewals) <= 4


def test_a_forward_that_ends_by_itself_ends_the_command_with_its_code():
    renewals = []
    code = forward([sys.executable, "-c", "raise SystemExit(3)"], lambda: renewals.append(1), limit_seconds=30)
    assert code == 3 and renewals == []
