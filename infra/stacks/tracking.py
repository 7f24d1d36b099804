"""The network and the MLflow tracking server of one environment."""

from __future__ import annotations

from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_logs as logs
from constructs import Construct

from infra.constructs.data_store import DataStore
from infra.constructs.mlflow_service import MlflowService
from infra.constructs.network import Network
from infra.support.access import Access, grant_prefix
from mlrails.config import ProjectConfig
from mlrails.wiring import Prefix

LOG_RETENTION = logs.RetentionDays.ONE_MONTH


class TrackingStack(cdk.Stack):
    """``network`` (VPC + endpoints) and ``mlflow`` (server + database)."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        cfg: ProjectConfig,
        environment_name: str,
        store: DataStore,
        **kwargs: Any,
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)
        self.network = Network(
            self,
            "Network",
            log_retention=LOG_RETENTION,
            buckets=[store.data_bucket, store.artifacts_bucket],
            table=store.state_table,
            release_store=cfg.release_store,
        )
        self.mlflow = MlflowService(
            self,
            "Mlflow",
            network=self.network,
            artifacts_bucket=store.artifacts_bucket,
            namespace_name=f"{cfg.project}.{environment_name}.internal",
            log_retention=LOG_RETENTION,
        )
        # The server owns MLflow's artifact store: it lists and reads artifacts for the UI and the
        # artifacts API, and deletes them on `mlflow gc`.
        grant_prefix(store.artifacts_bucket, self.mlflow.task_role, Access.READ_WRITE, Prefix.MLFLOW)
        cdk.CfnOutput(
            self,
            "TrackingUri",
            value=self.mlflow.tracking_uri,
            description="MLflow inside the VPC (train function and clients in its security group)",
        )
