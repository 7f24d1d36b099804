"""One deployable environment (dev, staging, prod): the same three stacks, the config's
settings for that environment."""

from __future__ import annotations

from pathlib import Path

import aws_cdk as cdk
from constructs import Construct

from infra.stacks.data import DataStack
from infra.stacks.service import ServiceStack
from infra.stacks.tracking import TrackingStack
from infra.support.images import KIT_IMAGE, ImageSource
from infra.support.paths import LAYERS_BUILD_DIR
from mlrails.config import ProjectConfig


class MlrailsStage(cdk.Stage):
    """Data (stateful storage) → Tracking (VPC + MLflow) → Service (functions, API, wiring).
    ``release_lock``: in a ``models: release`` environment, the digest of the model lock its
    inference function serves (None: no lock, or the environment trains)."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        cfg: ProjectConfig,
        environment_name: str,
        layers_dir: Path = LAYERS_BUILD_DIR,
        image: ImageSource = KIT_IMAGE,
        env: cdk.Environment | None = None,
        release_lock: str | None = None,
    ) -> None:
        super().__init__(scope, construct_id, env=env)
        self.data = DataStack(
            self,
            "Data",
            cfg=cfg,
            environment_name=environment_name,
            description=f"mlrails {cfg.project} ({environment_name}): buckets, state table, event bus",
        )
        self.tracking = TrackingStack(
            self,
            "Tracking",
            cfg=cfg,
            environment_name=environment_name,
            store=self.data.store,
            description=f"mlrails {cfg.project} ({environment_name}): VPC endpoints and the MLflow tracking server",
        )
        self.service = ServiceStack(
            self,
            "Service",
            cfg=cfg,
            environment_name=environment_name,
            store=self.data.store,
            tracking=self.tracking.mlflow,
            network=self.tracking.network,
            layers_dir=layers_dir,
            image=image,
            release_lock=release_lock,
            description=f"mlrails {cfg.project} ({environment_name}): functions, training state machine, "
            "REST API, routes, schedules, alarms",
        )
        for stack in (self.data, self.tracking, self.service):
            cdk.Tags.of(stack).add("mlrails:project", cfg.project)
            cdk.Tags.of(stack).add("mlrails:environment", environment_name)
