"""Retraining: retrain_trigger applies the policy (schedule, drift, new data) and starts a
training run; the run is a Step Functions state machine whose steps invoke train (a container
image: mlflow + scikit-learn exceed the zip limit), which trains, registers in MLflow, gates
and promotes. train runs in the VPC, next to the MLflow server."""

from __future__ import annotations

from aws_cdk import aws_events as events
from constructs import Construct

from infra.constructs.mlflow_service import MlflowService
from infra.constructs.network import ISOLATED, Network
from infra.constructs.pipeline_function import FunctionContext, PipelineFunction
from infra.constructs.training_pipeline import TrainingPipeline
from infra.support.access import model_writer_role_name
from mlrails import wiring


class Retraining(Construct):
    """``train``, the ``pipeline`` that runs it step by step, and the ``trigger`` that starts
    the pipeline (created in that order: each needs the one before)."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        context: FunctionContext,
        network: Network,
        tracking: MlflowService,
        bus: events.IEventBus,
    ) -> None:
        super().__init__(scope, construct_id)
        self.train = PipelineFunction(
            self,
            "Train",
            spec=wiring.function(wiring.TRAINING.function),
            context=context,
            tracking_uri=tracking.tracking_uri,
            # Named: the artifacts bucket's policy lets only this role write models/ and manifests/.
            role_name=model_writer_role_name(context.cfg.project, context.environment_name),
            vpc=network.vpc,
            vpc_subnets=ISOLATED,
            security_groups=[tracking.client_security_group],
        )
        self.pipeline = TrainingPipeline(
            self,
            "Pipeline",
            train=self.train.function,
            bus=bus,
            model_name=context.cfg.model.name,
            environment_name=context.environment_name,
            log_retention=context.log_retention,
        )
        self.trigger = PipelineFunction(
            self,
            "Trigger",
            spec=wiring.function("retrain_trigger"),
            context=context,
            training_state_machine=self.pipeline.state_machine.state_machine_arn,
        )
