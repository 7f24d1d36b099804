"""The optional ``release:`` section: one pipeline deploys the code and the model lock.

With it, the CDK app adds a self-mutating CDK Pipelines stack in the pipeline account: it
builds from the repository's branch, runs the tests and ``cdk synth``, then deploys each
stage in order, applying the lock (``release/<model>.lock.json``) and smoke-testing it after
each deploy, with a manual approval before the stages named in ``approval_before``. The
release store, where ``mlrails release propose`` copies a locked model's files by their
sha256, lives in the pipeline account too."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from mlrails.config.base import Section

# CodeDeploy's predefined Lambda deployment configurations (aws_codedeploy.LambdaDeploymentConfig).
Canary = Literal[
    "CANARY_10PERCENT_5MINUTES",
    "CANARY_10PERCENT_10MINUTES",
    "CANARY_10PERCENT_15MINUTES",
    "CANARY_10PERCENT_30MINUTES",
    "LINEAR_10PERCENT_EVERY_1MINUTE",
    "LINEAR_10PERCENT_EVERY_2MINUTES",
    "LINEAR_10PERCENT_EVERY_3MINUTES",
    "LINEAR_10PERCENT_EVERY_10MINUTES",
    "ALL_AT_ONCE",
]


class Release(Section):
    # The CodeConnections (formerly CodeStar Connections) connection to the repository host,
    # created and authorized once in the pipeline account's console.
    connection_arn: str = Field(
        pattern=r"^arn:aws[a-z-]*:(codestar-connections|codeconnections):[a-z0-9-]+:\d{12}:connection/[A-Za-z0-9-]+$"
    )
    repository: str = Field(pattern=r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$")  # owner/name
    branch: str = Field(default="main", min_length=1)
    # The pipeline (tooling) account and region; unset: the CLI's default, like environments.
    account: str | None = Field(default=None, pattern=r"^\d{12}$")
    region: str | None = Field(default=None, pattern=r"^[a-z]{2}(-[a-z]+)+-\d$")
    # Bucket names are global: name the release store, or set account and region to derive one.
    store_bucket: str | None = Field(default=None, pattern=r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
    # The environments the pipeline deploys, in order (default: every environment, in config order).
    stages: list[str] | None = None
    # A person approves before these deploy (default: the production ones among the stages).
    approval_before: list[str] | None = None
    # How a new inference version (code, config or lock) reaches users in a `models: release` environment.
    canary: Canary = "CANARY_10PERCENT_5MINUTES"
