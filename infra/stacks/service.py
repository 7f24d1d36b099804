"""The serverless graph of one environment: functions, the training state machine, REST API,
routes, schedules, alarms, the dashboard, the release's way in (and its canary), and the grants
between them and the data store (least privilege, by key prefix)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_logs as logs
from constructs import Construct

from infra.constructs.alarms import Alarms
from infra.constructs.batch_scoring import BatchScoring
from infra.constructs.canary import Canary
from infra.constructs.dashboard import Dashboard
from infra.constructs.data_store import DataStore
from infra.constructs.drift_fanout import DriftFanout, state_machine_arn
from infra.constructs.event_wiring import EventWiring
from infra.constructs.inference_api import InferenceApi
from infra.constructs.lambda_layers import LambdaLayers
from infra.constructs.mlflow_service import MlflowService
from infra.constructs.network import Network
from infra.constructs.operator_access import OperatorAccess
from infra.constructs.pipeline_function import FunctionContext, PipelineFunction, WiredFunction
from infra.constructs.release_access import ReleaseAccess
from infra.constructs.retraining import Retraining
from infra.constructs.tracking_switch import TrackingSwitch
from infra.support.access import Access, grant_prefix
from infra.support.images import KIT_IMAGE, ImageSource
from mlrails import wiring
from mlrails.config import ProjectConfig
from mlrails.wiring import (
    Prefix,
    batch_state_machine_parameter,
    drift_state_machine_name,
    operator_parameter,
    tracking_switch_parameter,
)

LOG_RETENTION = logs.RetentionDays.ONE_MONTH


class ServiceStack(cdk.Stack):
    """Composes the function constructs and grants each one what its handler touches."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        cfg: ProjectConfig,
        environment_name: str,
        store: DataStore,
        tracking: MlflowService,
        network: Network,
        layers_dir: Path,
        image: ImageSource = KIT_IMAGE,
        release_lock: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)
        environment = cfg.environments[environment_name]
        layers = LambdaLayers(self, "Layers", build_dir=layers_dir, names=wiring.layers_in_use(cfg))
        context = FunctionContext(
            cfg=cfg,
            environment_name=environment_name,
            names=store.names,
            layers=layers.layers,
            log_retention=LOG_RETENTION,
            reserved_concurrency=environment.reserved_concurrency,
            image=image,
        )

        feature_prep = WiredFunction(self, "FeaturePrep", name="feature_prep", context=context)
        event_relay = WiredFunction(self, "EventRelay", name="event_relay", context=context)
        inference = InferenceApi(self, "Inference", context=context, environment=environment, release_lock=release_lock)
        drift_machine = drift_state_machine_name(cfg.project, environment_name)
        drift_check = WiredFunction(
            self,
            "DriftCheck",
            name="drift_check",
            context=context,
            drift_state_machine=state_machine_arn(self, drift_machine),
        )
        performance_check = WiredFunction(self, "PerformanceCheck", name="performance_check", context=context)
        tracking_switch = TrackingSwitch(
            self,
            "TrackingSwitch",
            context=context,
            tracking=tracking,
            parameter_name=tracking_switch_parameter(cfg.project, environment_name),
        )
        retraining = Retraining(
            self,
            "Retraining",
            context=context,
            network=network,
            tracking=tracking,
            tracking_switch=tracking_switch.function,
            bus=store.bus,
        )
        batch = BatchScoring(
            self,
            "Batch",
            context=context,
            data_bucket=store.data_bucket,
            batch=cfg.batch,
            parameter_name=batch_state_machine_parameter(cfg.project, environment_name),
        )

        drift_fanout = DriftFanout(
            self,
            "DriftFanout",
            context=context,
            handler=drift_check.handler,
            artifacts_bucket=store.artifacts_bucket,
            monitoring=cfg.monitoring,
            state_machine_name=drift_machine,
        )

        self.functions: dict[str, PipelineFunction] = {
            "feature_prep": feature_prep.handler,
            "inference": inference.handler,
            "drift_check": drift_check.handler,
            "performance_check": performance_check.handler,
            "retrain_trigger": retraining.trigger,
            "train": retraining.train,
            "tracking_switch": tracking_switch.handler,
            "event_relay": event_relay.handler,
            "batch": batch.handler,
        }
        self.batch = batch
        self.inference = inference
        self.operator_access = OperatorAccess(
            self,
            "Operators",
            function=retraining.train.function,
            parameter_name=operator_parameter(cfg.project, environment_name),
            tracking_switch=tracking_switch,
            tracking=tracking,
            batch=batch,
        )
        self.release_access = ReleaseAccess(
            self,
            "Release",
            cfg=cfg,
            environment_name=environment_name,
            inference=inference,
            operator_policy=self.operator_access.policy,
        )
        self.wiring = EventWiring(
            self, "Wiring", cfg=cfg, names=store.names, project_bus=store.bus, functions=self.functions
        )
        self.alarms = Alarms(
            self,
            "Alarms",
            functions={name: fn.function for name, fn in self.functions.items()},
            api=inference.api,
            state_machines={
                "training": retraining.pipeline.state_machine,
                "batch": batch.state_machine,
                "drift": drift_fanout.state_machine,
            },
            dead_letter_queues={
                name: fn.dead_letter_queue for name, fn in self.functions.items() if fn.dead_letter_queue is not None
            },
            email=environment.alarm_email,
            thresholds=environment.alarms,
            model_name=cfg.model.name,
            # The Tracking stack deploys first: these references point from Service to it, no cycle.
            mlflow_service=tracking.service,
            mlflow_database=tracking.database,
        )
        # Only where releases arrive: an environment that trains switches at once, as its promotions do.
        self.canary = (
            Canary(
                self,
                "Canary",
                alias=inference.alias,
                alarms=[self.alarms.api_5xx_rate, self.alarms.api_p99_latency],
                deployment_config=cfg.release_canary,
            )
            if cfg.models_source(environment_name) == "release"
            else None
        )
        self.dashboard = Dashboard(
            self,
            "Dashboard",
            model_name=cfg.model.name,
            functions=self.functions,
            api=inference.api,
            training=retraining.pipeline.state_machine,
            alarms=self.alarms.alarms,
        )

        # Each function gets what its calls need (mlrails.adapters.*, the service it runs,
        # Powertools Idempotency), and nothing else. Every function but the relay (which moves
        # events, whatever the config says) reads the deployed config, which must exist: no
        # listing, a missing config fails either way.
        for name, fn in self.functions.items():
            if name != "event_relay":
                grant_prefix(store.artifacts_bucket, fn.function, Access.GET, Prefix.CONFIG)

        # Each function's grants sit with the construct that creates it (grant_store).
        for construct in (feature_prep, event_relay, drift_check, performance_check, inference, retraining):
            construct.grant_store(store, cfg)
        tracking_switch.grant_store(store)
        batch.grant_store(store)
        retraining.grant_release_store(cfg, environment_name)
