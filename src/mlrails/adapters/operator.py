"""Operator commands against a deployed environment: `lambda:Invoke` on the function the
environment's SSM parameter names (see :mod:`mlrails.operations` for why that function).

Authentication is the caller's AWS credentials; the stack's ``OperatorPolicy`` grants exactly
this parameter and this invocation. Who ran a command is the caller's STS identity, recorded
in the audit log (and by CloudTrail, which cannot be told otherwise).
"""

from __future__ import annotations

import json
from typing import Any

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from mlrails.errors import ConfigError
from mlrails.operations import Operation, OperationRefused, unwrap
from mlrails.wiring import operator_parameter


class DeployedOperator:
    """Runs :class:`Operation` s in one deployed environment."""

    def __init__(self, project: str, environment: str, *, region: str | None = None,
                 session: boto3.Session | None = None) -> None:
        self.session = session or boto3.Session(region_name=region)
        self.parameter = operator_parameter(project, environment)
        self.environment = environment

    def caller(self) -> str:
        """The caller's identity ARN, for the audit log."""
        try:
            return self.session.client("sts").get_caller_identity()["Arn"]
        except (BotoCoreError, ClientError) as exc:
            raise ConfigError(f"no usable AWS credentials for environment '{self.environment}': {exc}") from exc

    def function_name(self) -> str:
        try:
            return self.session.client("ssm").get_parameter(Name=self.parameter)["Parameter"]["Value"]
        except ClientError as exc:
            if exc.response["Error"]["Code"] == "ParameterNotFound":
                raise ConfigError(f"environment '{self.environment}' is not deployed in this account/region "
                                  f"(no SSM parameter {self.parameter}): run `cdk deploy` first") from exc
            raise ConfigError(f"cannot read {self.parameter}: {exc}") from exc

    def __call__(self, operation: Operation) -> dict[str, Any]:
        response = self.session.client("lambda").invoke(
            FunctionName=self.function_name(), Payload=json.dumps(operation.to_event()).encode())
        return answer(response.get("FunctionError"), response["Payload"].read())


def answer(function_error: str | None, payload: bytes) -> dict[str, Any]:
    """The command's result from an invocation's response; a crash or a refusal is raised."""
    body = json.loads(payload or b"null")
    if function_error:  # the function crashed: Lambda's {"errorMessage", "errorType", ...}
        message = body.get("errorMessage") if isinstance(body, dict) else None
        raise OperationRefused(f"the operator function failed: {message or payload.decode()}", details=body)
    return unwrap(body)
