"""Stateful storage of one environment."""

from __future__ import annotations

from typing import Any

import aws_cdk as cdk
from constructs import Construct

from infra.constructs.data_store import DataStore
from mlrails.config import ProjectConfig


class DataStack(cdk.Stack):
    """The buckets, state table, event bus and deployed config (``store``)."""

    def __init__(
        self, scope: Construct, construct_id: str, *, cfg: ProjectConfig, environment_name: str, **kwargs: Any
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)
        self.store = DataStore(self, "Store", cfg=cfg, environment_name=environment_name)
        cdk.CfnOutput(
            self,
            "DataBucketName",
            value=self.store.data_bucket.bucket_name,
            description="Upload raw data files under raw/",
        )
        cdk.CfnOutput(self, "ArtifactsBucketName", value=self.store.artifacts_bucket.bucket_name)
        cdk.CfnOutput(self, "ConfigUri", value=self.store.config_uri)
