"""How a new inference version reaches the users of a ``models: release`` environment.

A new version is a new lock (its digest is in the function's environment), new code or a new
config. CodeDeploy shifts the ``live`` alias to it by ``release.canary``'s steps (10% for five
minutes, then all, by default), watching the scoring API's 5xx-rate and p99-latency alarms:
either one in alarm, or a failed or stopped deployment, moves the alias back to the version
before. The alarms measure the whole API, the old version's share of the traffic included, and
an API without traffic raises neither (see alarms.py): a canary judges a release by its users.
An environment that trains switches at once, as its own promotions do.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_codedeploy as codedeploy
from aws_cdk import aws_lambda as lambda_
from constructs import Construct

from infra.support.nag import acknowledge
from mlrails.config.release import Canary as CanaryConfig


def deployment_config_of(name: CanaryConfig) -> codedeploy.ILambdaDeploymentConfig:
    """CodeDeploy's predefined configuration ``name`` (``CANARY_10PERCENT_5MINUTES``), as
    aws-cdk-lib spells its constant (``CANARY_10_PERCENT_5_MINUTES``)."""
    return getattr(codedeploy.LambdaDeploymentConfig, re.sub(r"(\d+)(?=[A-Z])", r"\1_", name))


class Canary(Construct):
    """``deployment_group``: the alias's traffic shifting, rolled back by ``alarms``."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        alias: lambda_.Alias,
        alarms: Sequence[cloudwatch.IAlarm],
        deployment_config: CanaryConfig,
    ) -> None:
        super().__init__(scope, construct_id)
        self.deployment_group = codedeploy.LambdaDeploymentGroup(
            self,
            "DeploymentGroup",
            alias=alias,
            deployment_config=deployment_config_of(deployment_config),
            alarms=list(alarms),
            auto_rollback=codedeploy.AutoRollbackConfig(
                failed_deployment=True, stopped_deployment=True, deployment_in_alarm=True
            ),
        )
        acknowledge(
            self.deployment_group.role,
            "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSCodeDeployRoleForLambdaLimited]",
            "CodeDeploy's own managed policy for Lambda deployments: read the alarms and move the alias, "
            "nothing else (its SNS and hook grants name CodeDeploy's own resource prefixes).",
        )
