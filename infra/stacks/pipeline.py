"""The release pipeline's stack, in the pipeline (tooling) account: the pipeline and the release
store it promotes models from."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import aws_cdk as cdk
from constructs import Construct

from infra.constructs.release_pipeline import ReleasePipeline
from infra.constructs.release_store import ReleaseStore, StoreUser
from infra.support.buckets import log_access
from infra.support.release import environment_account, store_users, train_role_arn
from mlrails.config import ProjectConfig


class PipelineStack(cdk.Stack):
    """``store`` (the release store) and ``release`` (the pipeline deploying ``stages``, and
    releasing the lock to those it pins, ``lock_committed``)."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        cfg: ProjectConfig,
        stages: Mapping[str, cdk.Stage],
        lock_committed: bool,
        **kwargs: Any,
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)
        if cfg.release_store is None:
            raise ValueError("the pipeline stack needs the config's release: section")
        self.store = ReleaseStore(
            self,
            "ReleaseStore",
            bucket_name=cfg.release_store,
            users=[
                StoreUser(train_role_arn(self, cfg, name), environment_account(cfg, name)) for name in store_users(cfg)
            ],
        )
        self.release = ReleasePipeline(self, "Release", cfg=cfg, stages=stages, lock_committed=lock_committed)
        log_access(
            self.release.pipeline.pipeline.artifact_bucket,
            into=self.store.access_logs_bucket,
            prefix="pipeline-artifacts/",
        )
        cdk.CfnOutput(
            self, "ReleaseStoreName", value=self.store.bucket.bucket_name, description="Where locked models' files are"
        )
