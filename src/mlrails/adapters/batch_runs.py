"""Batch jobs of a deployed environment: an execution of its batch state machine (whose ARN the
environment's SSM parameter holds), followed until it ends, and the job's summary read back.
With the caller's credentials: the stack's ``OperatorPolicy`` grants exactly this.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from mlrails.adapters.operator import environment_parameter
from mlrails.adapters.s3 import split_uri
from mlrails.errors import AwsError
from mlrails.wiring import batch_state_machine_parameter

# Between two looks at a running execution: soon at first (a small job takes a minute), then
# no more often than this (a large one takes hours).
FIRST_POLL_SECONDS = 2.0
MAX_POLL_SECONDS = 30.0


@dataclass(frozen=True)
class Execution:
    """How an execution ended (or stands): Step Functions' status, and for a failed one its
    error (the step's exception type: ``BatchFailed``, ``ConfigError``...) and message."""

    arn: str
    status: str  # RUNNING, SUCCEEDED, FAILED, TIMED_OUT, ABORTED, PENDING_REDRIVE
    error: str | None = None
    message: str | None = None

    @property
    def running(self) -> bool:
        return self.status == "RUNNING"


def _message(cause: str | None) -> str | None:
    """The step's message: a Lambda error's cause is its JSON (``errorMessage``...)."""
    if not cause:
        return cause
    try:
        return json.loads(cause).get("errorMessage", cause)
    except (ValueError, AttributeError):
        return cause


class DeployedBatch:
    """Starts and follows batch jobs in one deployed environment."""

    def __init__(self, project: str, environment: str, session: boto3.Session) -> None:
        self.session, self.environment = session, environment
        self.state_machine = environment_parameter(
            session, batch_state_machine_parameter(project, environment), environment
        )

    def _call(self, what: str, call: Callable[[], Any]) -> Any:
        try:
            return call()
        except ClientError as exc:
            code = exc.response["Error"]["Code"]
            raise AwsError(f"{what} in '{self.environment}': AWS answered {code}", code=code) from exc
        except BotoCoreError as exc:
            raise AwsError(f"{what} in '{self.environment}': {exc}", code=type(exc).__name__) from exc

    def start(self, input_uri: str, output_uri: str) -> str:
        """Start a job; its execution's ARN. Named by when it started (and a random tail), so
        that the console lists jobs in the order they ran."""
        client = self.session.client("stepfunctions")
        document = json.dumps({"input_uri": input_uri, "output_uri": output_uri})
        name = f"{datetime.now(UTC):%Y%m%dT%H%M%SZ}-{uuid.uuid4().hex[:12]}"
        started = self._call(
            "cannot start a batch job",
            lambda: client.start_execution(stateMachineArn=self.state_machine, name=name, input=document),
        )
        return started["executionArn"]

    def describe(self, arn: str) -> Execution:
        """The execution as it stands."""
        client = self.session.client("stepfunctions")
        found = self._call("cannot follow the batch job", lambda: client.describe_execution(executionArn=arn))
        return Execution(arn, found["status"], found.get("error"), _message(found.get("cause")))

    def wait(
        self, arn: str, *, sleep: Callable[[float], None] = time.sleep, progress: Callable[[str], None] = print
    ) -> Execution:
        """The execution once it has ended, looking at it less and less often."""
        pause = FIRST_POLL_SECONDS
        while (execution := self.describe(arn)).running:
            progress(f"batch job running ({arn.rsplit(':', 1)[-1]})...")
            sleep(pause)
            pause = min(pause * 2, MAX_POLL_SECONDS)
        return execution

    def summary(self, summary_uri: str) -> dict[str, Any]:
        """The job's summary (written by its last step, whether the job failed or not)."""
        bucket, key = split_uri(summary_uri)
        client = self.session.client("s3")
        found = self._call(f"cannot read {summary_uri}", lambda: client.get_object(Bucket=bucket, Key=key))
        return json.loads(found["Body"].read())
