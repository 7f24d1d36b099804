"""Operator commands against a deployed environment: a SigV4-signed request to the function
URL the environment's SSM parameter names (see :mod:`mlrails.promotion.operations` for why that
function).

Authentication is the caller's AWS credentials; the stack's ``OperatorPolicy`` grants exactly
this parameter and this URL. Who ran a command is what Lambda verified from the signature,
recorded in the audit log by the function itself (and by CloudTrail): the caller cannot say
otherwise.
"""

from __future__ import annotations

import json
from typing import Any

import boto3
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.exceptions import BotoCoreError, ClientError
from botocore.httpsession import URLLib3Session

from mlrails.errors import ConfigError
from mlrails.promotion.operations import Operation, OperationRefused, unwrap
from mlrails.wiring import operator_parameter

# A promotion compiles and verifies the model before it answers: minutes for a large one.
TIMEOUT_SECONDS = 900


class DeployedOperator:
    """Runs :class:`Operation` s in one deployed environment."""

    def __init__(
        self, project: str, environment: str, *, region: str | None = None, session: boto3.Session | None = None
    ) -> None:
        self.session = session or boto3.Session(region_name=region)
        self.parameter = operator_parameter(project, environment)
        self.environment = environment

    def url(self) -> str:
        """The operator function's URL, from the environment's SSM parameter."""
        try:
            return self.session.client("ssm").get_parameter(Name=self.parameter)["Parameter"]["Value"]
        except ClientError as exc:
            if exc.response["Error"]["Code"] == "ParameterNotFound":
                raise ConfigError(
                    f"environment '{self.environment}' is not deployed in this account/region "
                    f"(no SSM parameter {self.parameter}): run `cdk deploy` first"
                ) from exc
            raise ConfigError(f"cannot read {self.parameter}: {exc}") from exc

    def signed(self, operation: Operation) -> AWSRequest:
        """The command as a POST to the function URL, signed for Lambda with the caller's
        credentials."""
        credentials = self.session.get_credentials()
        if credentials is None:
            raise ConfigError(f"no usable AWS credentials for environment '{self.environment}'")
        request = AWSRequest(
            method="POST",
            url=self.url(),
            data=json.dumps(operation.to_body()).encode(),
            headers={"Content-Type": "application/json"},
        )
        # https://<id>.lambda-url.<region>.on.aws/: the URL names the region it is signed for.
        region = request.url.split(".lambda-url.", 1)[-1].split(".", 1)[0]
        SigV4Auth(credentials.get_frozen_credentials(), "lambda", region).add_auth(request)
        return request

    def __call__(self, operation: Operation) -> dict[str, Any]:
        request = self.signed(operation)
        try:
            response = URLLib3Session(timeout=TIMEOUT_SECONDS).send(request.prepare())
        except BotoCoreError as exc:
            raise OperationRefused(f"cannot reach the operator function of '{self.environment}': {exc}") from exc
        # A refusal, a denied signature (403) or a crash (502) is raised as OperationRefused.
        return unwrap(response.status_code, response.content)
