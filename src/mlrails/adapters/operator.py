"""Operator commands against a deployed environment: a SigV4-signed request to the function
URL the environment's SSM parameter names (see :mod:`mlrails.promotion.operations` for why that
function).

Authentication is the caller's AWS credentials; the stack's ``OperatorPolicy`` grants exactly
this parameter and this URL. Who ran a command is what Lambda verified from the signature,
recorded in the audit log by the function itself (and by CloudTrail): the caller cannot say
otherwise.
"""

from __future__ import annotations

import functools
import json
import time
from collections.abc import Callable
from typing import Any

import boto3
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.exceptions import BotoCoreError, ClientError
from botocore.httpsession import URLLib3Session

from mlrails.errors import ConfigError, NotDeployed
from mlrails.promotion.operations import Operation, OperationRefused, unwrap
from mlrails.tracking.client import held
from mlrails.wiring import api_parameters, operator_parameter, tracking_switch_parameter

# A promotion compiles and verifies the model before it answers: minutes for a large one.
TIMEOUT_SECONDS = 900
# Between two holds of an MLflow server that is starting (a Fargate task: about a minute).
START_PAUSE_SECONDS = 10


def session_for(region: str | None, role_arn: str | None = None) -> boto3.Session:
    """The caller's AWS session, or with ``role_arn`` one of that role's (the release
    pipeline's steps assume each environment's release role this way)."""
    session = boto3.Session(region_name=region)
    if role_arn is None:
        return session
    try:
        credentials = session.client("sts").assume_role(RoleArn=role_arn, RoleSessionName="mlrails-release")[
            "Credentials"
        ]
    except (BotoCoreError, ClientError) as exc:
        # Before an environment's first deployment its release role does not exist yet, and
        # STS says only "access denied": that is what an absent role looks like from outside.
        raise NotDeployed(f"cannot assume {role_arn} (is the environment deployed?): {exc}") from exc
    return boto3.Session(
        aws_access_key_id=credentials["AccessKeyId"],
        aws_secret_access_key=credentials["SecretAccessKey"],
        aws_session_token=credentials["SessionToken"],
        region_name=region,
    )


def environment_parameter(session: boto3.Session, name: str, environment: str) -> str:
    """An SSM parameter of a deployed environment; an absent one means it is not deployed."""
    try:
        return session.client("ssm").get_parameter(Name=name)["Parameter"]["Value"]
    except ClientError as exc:
        if exc.response["Error"]["Code"] == "ParameterNotFound":
            raise NotDeployed(
                f"environment '{environment}' is not deployed in this account/region "
                f"(no SSM parameter {name}): run `cdk deploy` first"
            ) from exc
        raise ConfigError(f"cannot read {name}: {exc}") from exc


class DeployedOperator:
    """Runs :class:`Operation` s in one deployed environment."""

    def __init__(
        self,
        project: str,
        environment: str,
        *,
        region: str | None = None,
        session: boto3.Session | None = None,
        progress: Callable[[str], None] = lambda _message: None,
    ) -> None:
        self.session = session or session_for(region)
        self.parameter = operator_parameter(project, environment)
        self.switch_parameter = tracking_switch_parameter(project, environment)
        self.environment = environment
        self.progress = progress

    @functools.cached_property
    def switch_function(self) -> str:
        """The tracking switch's ARN, from the environment's SSM parameter (read once)."""
        return environment_parameter(self.session, self.switch_parameter, self.environment)

    def switch(self, event: dict[str, Any]) -> dict[str, Any]:
        """One call of the environment's tracking switch (mlrails.tracking), with the caller's
        credentials: hold or release MLflow."""
        try:
            response = self.session.client("lambda").invoke(
                FunctionName=self.switch_function, Payload=json.dumps(event).encode()
            )
        except (BotoCoreError, ClientError) as exc:
            raise OperationRefused(f"cannot reach the tracking switch of '{self.environment}': {exc}") from exc
        payload = json.loads(response["Payload"].read() or b"null")
        if response.get("FunctionError"):
            raise OperationRefused(
                f"the tracking switch of '{self.environment}' failed: "
                f"{payload.get('errorType')}: {payload.get('errorMessage')}"
            )
        return payload

    def wait_for_start(self, status: dict[str, Any]) -> None:
        self.progress(
            f"starting MLflow in '{self.environment}' "
            f"(tasks asked for {status['desired']}, running {status['running']})..."
        )
        time.sleep(START_PAUSE_SECONDS)

    def url(self) -> str:
        """The operator function's URL, from the environment's SSM parameter."""
        return environment_parameter(self.session, self.parameter, self.environment)

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
        """The command, with MLflow held while it runs (it runs only while someone holds it).
        Signed once MLflow runs: a SigV4 signature is good for five minutes, a start may take more."""
        try:
            with held(self.switch, "operator", pause=self.wait_for_start):
                response = URLLib3Session(timeout=TIMEOUT_SECONDS).send(self.signed(operation).prepare())
        except BotoCoreError as exc:
            raise OperationRefused(f"cannot reach the operator function of '{self.environment}': {exc}") from exc
        # A refusal, a denied signature (403) or a crash (502) is raised as OperationRefused.
        return unwrap(response.status_code, response.content)


class DeployedApi:
    """An environment's scoring API as its clients call it: the URL and the default API key
    from the environment's SSM parameters (with ``auth: iam``, requests signed with SigV4):
    what the smoke test (`mlrails release verify --env NAME`) calls."""

    def __init__(self, project: str, environment: str, session: boto3.Session) -> None:
        self.session, self.environment = session, environment
        url_parameter, key_parameter = api_parameters(project, environment)
        self.url = environment_parameter(session, url_parameter, environment).rstrip("/")
        key_id = environment_parameter(session, key_parameter, environment)
        self.api_key = None if key_id == "iam" else self._key_value(key_id)

    def _key_value(self, key_id: str) -> str:
        try:
            return self.session.client("apigateway").get_api_key(apiKey=key_id, includeValue=True)["value"]
        except (BotoCoreError, ClientError) as exc:
            raise ConfigError(f"cannot read the API key of '{self.environment}': {exc}") from exc

    def request(self, method: str, path: str, body: bytes | None = None) -> tuple[int, Any]:
        """(status, the parsed JSON answer, or the text when it is not JSON)."""
        request = AWSRequest(
            method=method, url=f"{self.url}{path}", data=body, headers={"Content-Type": "application/json"}
        )
        if self.api_key is not None:
            request.headers["x-api-key"] = self.api_key
        else:
            credentials = self.session.get_credentials()
            if credentials is None:
                raise ConfigError(f"no usable AWS credentials to sign requests to '{self.environment}'")
            # https://<id>.execute-api.<region>.amazonaws.com/<stage>: the URL names the region.
            region = self.url.split(".execute-api.", 1)[-1].split(".", 1)[0]
            SigV4Auth(credentials.get_frozen_credentials(), "execute-api", region).add_auth(request)
        try:
            response = URLLib3Session(timeout=60).send(request.prepare())
        except BotoCoreError as exc:
            raise OperationRefused(f"cannot reach the API of '{self.environment}': {exc}") from exc
        try:
            return response.status_code, json.loads(response.content or b"null")
        except ValueError:
            return response.status_code, response.content.decode(errors="replace")
