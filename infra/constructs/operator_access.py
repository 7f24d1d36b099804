"""The operators' way in: `mlrails promote | rollback | models --env NAME`.

Operator commands run in the train function (next to MLflow, in the VPC, with the
promotion grants; see :mod:`mlrails.operations`), so an operator needs exactly two things:
to read the SSM parameter naming that function and to invoke it. ``policy`` grants those
and nothing else; attach it to the role or group your operators use. No port forwarding to
MLflow, no bastion, and every command is an IAM-authenticated call CloudTrail records.
"""

from __future__ import annotations

from aws_cdk import CfnOutput
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_ssm as ssm
from constructs import Construct


class OperatorAccess(Construct):
    """``parameter`` (the function's name) and the ``policy`` to attach to operators."""

    def __init__(self, scope: Construct, construct_id: str, *, function: lambda_.IFunction,
                 parameter_name: str) -> None:
        super().__init__(scope, construct_id)
        self.parameter = ssm.StringParameter(
            self, "FunctionName", parameter_name=parameter_name, string_value=function.function_name,
            description="The function that runs mlrails operator commands (promote, rollback, models)",
        )
        self.policy = iam.ManagedPolicy(
            self, "Policy",
            description="mlrails operator commands for one environment: find and invoke the operator function",
            statements=[
                iam.PolicyStatement(actions=["ssm:GetParameter"], resources=[self.parameter.parameter_arn]),
                iam.PolicyStatement(actions=["lambda:InvokeFunction"], resources=[function.function_arn]),
            ],
        )
        CfnOutput(self, "PolicyArn", value=self.policy.managed_policy_arn,
                  description="Attach to the operators' role or group to allow `mlrails ... --env`")
