"""The operators' way in: `mlrails promote | rollback | models --env NAME`.

Operator commands run in the train function (next to MLflow, in the VPC, with the
promotion grants; see :mod:`mlrails.promotion.operations`), through its function URL with IAM
authentication: Lambda checks the SigV4 signature and hands the function the caller's ARN,
which the audit log records. An operator needs exactly two things: to read the SSM parameter
holding that URL and to call it. ``policy`` grants those and nothing else (not a direct
invocation, which would run a training step); attach it to the role or group your operators
use. No port forwarding to MLflow, no bastion, and CloudTrail records every call.
"""

from __future__ import annotations

from aws_cdk import CfnOutput
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_ssm as ssm
from constructs import Construct


class OperatorAccess(Construct):
    """``parameter`` (the function's name) and the ``policy`` to attach to operators."""

    def __init__(
        self, scope: Construct, construct_id: str, *, function: lambda_.IFunction, parameter_name: str
    ) -> None:
        super().__init__(scope, construct_id)
        self.url = function.add_function_url(auth_type=lambda_.FunctionUrlAuthType.AWS_IAM)
        self.parameter = ssm.StringParameter(
            self,
            "FunctionUrl",
            parameter_name=parameter_name,
            string_value=self.url.url,
            description="The URL that runs mlrails operator commands (promote, rollback, models)",
        )
        self.policy = iam.ManagedPolicy(
            self,
            "Policy",
            description="mlrails operator commands for one environment: find and call the operator function's URL",
            statements=[
                iam.PolicyStatement(actions=["ssm:GetParameter"], resources=[self.parameter.parameter_arn]),
                # Both actions, as Lambda requires of function URLs since October 2025; each only
                # through the IAM-authenticated URL.
                iam.PolicyStatement(
                    actions=["lambda:InvokeFunctionUrl"],
                    resources=[function.function_arn],
                    conditions={"StringEquals": {"lambda:FunctionUrlAuthType": "AWS_IAM"}},
                ),
                iam.PolicyStatement(
                    actions=["lambda:InvokeFunction"],
                    resources=[function.function_arn],
                    conditions={"Bool": {"lambda:InvokedViaFunctionUrl": "true"}},
                ),
            ],
        )
        CfnOutput(
            self,
            "PolicyArn",
            value=self.policy.managed_policy_arn,
            description="Attach to the operators' role or group to allow `mlrails ... --env`",
        )
