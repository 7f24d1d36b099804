"""MLflow on demand: the tracking_switch function (outside the VPC: ECS's API is on the
internet) scales the MLflow service between no task and one, as holds come and go (see
:mod:`mlrails.tracking`), and the SSM parameter that names it for operator commands and
`mlrails ui`. Its idle sweep is a schedule of the wiring (``TrackingIdle``)."""

from __future__ import annotations

from aws_cdk import Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_ssm as ssm
from constructs import Construct

from infra.constructs.data_store import DataStore
from infra.constructs.mlflow_service import MlflowService
from infra.constructs.pipeline_function import FunctionContext, PipelineFunction
from infra.support.access import STATE, grant_items
from infra.support.nag import acknowledge, acknowledge_resource_wildcard
from mlrails import wiring


class TrackingSwitch(Construct):
    """``handler`` (the function) and ``parameter`` (its ARN, for the CLI)."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        context: FunctionContext,
        tracking: MlflowService,
        parameter_name: str,
    ) -> None:
        super().__init__(scope, construct_id)
        service = tracking.service
        self.handler = PipelineFunction(
            self,
            "Handler",
            spec=wiring.function(wiring.TRAINING.tracking_function),
            context=context,
            tracking_server=service.service_arn,
        )
        self.function = self.handler.function
        role = self.handler.role
        # mlrails.adapters.tracking_server: scale the service and read its counts; find the
        # running task's container for `mlrails ui` (its session target).
        role.add_to_principal_policy(
            iam.PolicyStatement(actions=["ecs:DescribeServices", "ecs:UpdateService"], resources=[service.service_arn])
        )
        # A policy of its own, so that its one finding is acknowledged on it alone.
        list_tasks = iam.Policy(
            self,
            "ListTasks",
            roles=[role],
            statements=[
                iam.PolicyStatement(
                    actions=["ecs:ListTasks"],
                    resources=["*"],
                    conditions={"ArnEquals": {"ecs:cluster": tracking.cluster.cluster_arn}},
                )
            ],
        )
        acknowledge(
            list_tasks,
            "AwsSolutions-IAM5[Resource::*]",
            "ecs:ListTasks names no task resource: the ecs:cluster condition holds it to MLflow's cluster.",
        )
        tasks = Stack.of(self).format_arn(
            service="ecs", resource="task", resource_name=f"{tracking.cluster.cluster_name}/*"
        )
        role.add_to_principal_policy(iam.PolicyStatement(actions=["ecs:DescribeTasks"], resources=[tasks]))
        acknowledge_resource_wildcard(
            role,
            tasks,
            "Describes the MLflow cluster's tasks only (their ids are ECS's, unknown at synth): "
            "to find the running one's container for a port forward.",
        )
        self.parameter = ssm.StringParameter(
            self,
            "FunctionArn",
            parameter_name=parameter_name,
            string_value=self.function.function_arn,
            description="The function that starts and stops MLflow (operator commands and `mlrails ui` hold it)",
        )

    def grant_store(self, store: DataStore) -> None:
        """The leases, one item of the state table (mlrails.adapters.state: get and update)."""
        grant_items(store.state_table, self.function, STATE)
