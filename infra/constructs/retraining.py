"""Retraining: retrain_trigger applies the policy (schedule, drift, new data) and asks for a
run; train (a container image: mlflow + scikit-learn exceed the zip limit) trains, registers
in MLflow, gates and promotes. train runs in the VPC, next to the MLflow server."""

from __future__ import annotations

from constructs import Construct

from infra.constructs.mlflow_service import MlflowService
from infra.constructs.network import ISOLATED, Network
from infra.constructs.pipeline_function import FunctionContext, PipelineFunction
from mlrails import wiring


class Retraining(Construct):
    """``trigger`` and ``train`` functions."""

    def __init__(self, scope: Construct, construct_id: str, *, context: FunctionContext, network: Network,
                 tracking: MlflowService) -> None:
        super().__init__(scope, construct_id)
        self.trigger = PipelineFunction(self, "Trigger", spec=wiring.function("retrain_trigger"), context=context)
        self.train = PipelineFunction(
            self, "Train", spec=wiring.function("train"), context=context,
            tracking_uri=tracking.tracking_uri,
            vpc=network.vpc, vpc_subnets=ISOLATED, security_groups=[tracking.client_security_group],
        )
