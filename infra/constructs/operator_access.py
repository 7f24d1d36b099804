"""The operators' way in: `mlrails promote | rollback | models --env NAME`.

Operator commands run in the train function (next to MLflow, in the VPC, with the
promotion grants; see :mod:`mlrails.promotion.operations`), through its function URL with IAM
authentication: Lambda checks the SigV4 signature and hands the function the caller's ARN,
which the audit log records. MLflow runs only while held (mlrails.tracking): a command first
holds it through the tracking switch function, and `mlrails ui --env NAME` holds it while a
Session Manager port forward to its task is open. ``policy`` grants exactly that: read the two
SSM parameters, call the URL (not a direct invocation, which would run a training step),
invoke the switch, and start a port-forwarding session on MLflow's tasks; and for `mlrails batch
--env NAME`, start and follow the batch state machine's executions and read their summaries.
Attach it to the role or group your operators use. No bastion, no open port, and CloudTrail records every call.
"""

from __future__ import annotations

from aws_cdk import CfnOutput, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_ssm as ssm
from constructs import Construct

from infra.constructs.batch_scoring import BatchScoring
from infra.constructs.mlflow_service import MlflowService
from infra.constructs.tracking_switch import TrackingSwitch
from infra.support.nag import acknowledge_resource_wildcard

# The Session Manager document of a port forward to a task's port (AWS-owned).
PORT_FORWARD_DOCUMENT = "AWS-StartPortForwardingSession"


class OperatorAccess(Construct):
    """``parameter`` (the function's name) and the ``policy`` to attach to operators."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        function: lambda_.IFunction,
        parameter_name: str,
        tracking_switch: TrackingSwitch,
        tracking: MlflowService,
        batch: BatchScoring,
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
        stack = Stack.of(self)
        tasks = stack.format_arn(service="ecs", resource="task", resource_name=f"{tracking.cluster.cluster_name}/*")
        document = stack.format_arn(service="ssm", account="", resource="document", resource_name=PORT_FORWARD_DOCUMENT)
        self.policy = iam.ManagedPolicy(
            self,
            "Policy",
            description="mlrails operator commands and `mlrails ui` for one environment",
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
                iam.PolicyStatement(actions=["ssm:GetParameter"], resources=[tracking_switch.parameter.parameter_arn]),
                iam.PolicyStatement(
                    actions=["lambda:InvokeFunction"], resources=[tracking_switch.function.function_arn]
                ),
                iam.PolicyStatement(actions=["ssm:StartSession"], resources=[tasks, document]),
                *batch.operator_statements(),
            ],
        )
        batch.acknowledge_operators(self.policy)
        acknowledge_resource_wildcard(
            self.policy,
            tasks,
            "A port forward to MLflow's running task, whose id ECS assigns at each start: "
            "the MLflow cluster's tasks only.",
        )
        CfnOutput(
            self,
            "PolicyArn",
            value=self.policy.managed_policy_arn,
            description="Attach to the operators' role or group to allow `mlrails ... --env`",
        )
