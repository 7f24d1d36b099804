"""The serverless graph of one environment: functions, REST API, routes, schedules, alarms,
and the grants between them and the data store (least privilege, by key prefix)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_logs as logs
from constructs import Construct

from infra.access import Access, grant_prefix
from infra.constructs.alarms import Alarms
from infra.constructs.data_store import DataStore
from infra.constructs.drift_check import DriftCheck
from infra.constructs.event_wiring import EventWiring
from infra.constructs.feature_prep import FeaturePrep
from infra.constructs.inference_api import InferenceApi
from infra.constructs.lambda_layers import LambdaLayers
from infra.constructs.mlflow_service import MlflowService
from infra.constructs.network import Network
from infra.constructs.pipeline_function import FunctionContext, PipelineFunction
from infra.constructs.retraining import Retraining
from mlrails.config import ProjectConfig
from mlrails.wiring import Prefix

LOG_RETENTION = logs.RetentionDays.ONE_MONTH


class ServiceStack(cdk.Stack):
    """Composes the function constructs and grants each one what its handler touches."""

    def __init__(self, scope: Construct, construct_id: str, *, cfg: ProjectConfig, environment_name: str,
                 store: DataStore, tracking: MlflowService, network: Network, layers_dir: Path,
                 **kwargs: Any) -> None:
        super().__init__(scope, construct_id, **kwargs)
        environment = cfg.environments[environment_name]
        layers = LambdaLayers(self, "Layers", build_dir=layers_dir)
        context = FunctionContext(cfg=cfg, environment_name=environment_name, names=store.names,
                                  layers=layers.layers, log_retention=LOG_RETENTION)

        feature_prep = FeaturePrep(self, "FeaturePrep", context=context)
        inference = InferenceApi(self, "Inference", context=context, environment=environment)
        drift_check = DriftCheck(self, "DriftCheck", context=context)
        retraining = Retraining(self, "Retraining", context=context, network=network, tracking=tracking)

        self.functions: dict[str, PipelineFunction] = {
            "feature_prep": feature_prep.handler,
            "inference": inference.handler,
            "drift_check": drift_check.handler,
            "retrain_trigger": retraining.trigger,
            "train": retraining.train,
        }
        self.inference = inference
        self.wiring = EventWiring(self, "Wiring", cfg=cfg, names=store.names, project_bus=store.bus,
                                  functions=self.functions)
        self.alarms = Alarms(
            self, "Alarms",
            functions={name: fn.function for name, fn in self.functions.items()},
            api=inference.api,
            dead_letter_queues={name: fn.dead_letter_queue for name, fn in self.functions.items()
                                if fn.dead_letter_queue is not None},
            email=environment.alarm_email,
        )

        data, artifacts, table, bus = store.data_bucket, store.artifacts_bucket, store.state_table, store.bus
        # Every function reads the deployed config.
        for fn in self.functions.values():
            grant_prefix(artifacts, fn.function, Access.READ, Prefix.CONFIG)

        fp = feature_prep.handler.function
        grant_prefix(data, fp, Access.READ, Prefix.RAW)
        grant_prefix(data, fp, Access.PUT, Prefix.FEATURES, Prefix.QUARANTINE)
        grant_prefix(data, fp, Access.DELETE, Prefix.RAW)  # bad files move to quarantine/
        table.grant_read_write_data(fp)  # idempotency records
        bus.grant_put_events_to(fp)

        inf = inference.handler.function
        grant_prefix(artifacts, inf, Access.READ, Prefix.MANIFESTS, Prefix.MODELS)
        grant_prefix(data, inf, Access.PUT, Prefix.CAPTURE, Prefix.FEEDBACK)

        dc = drift_check.handler.function
        grant_prefix(data, dc, Access.READ, Prefix.CAPTURE)
        grant_prefix(artifacts, dc, Access.READ, Prefix.MANIFESTS, Prefix.MODELS)
        grant_prefix(artifacts, dc, Access.PUT, Prefix.REPORTS)
        table.grant_read_write_data(dc)
        bus.grant_put_events_to(dc)

        rt = retraining.trigger.function
        table.grant_read_write_data(rt)
        bus.grant_put_events_to(rt)

        tr = retraining.train.function
        grant_prefix(data, tr, Access.READ, Prefix.FEATURES)
        grant_prefix(artifacts, tr, Access.READ_WRITE, Prefix.MODELS, Prefix.MANIFESTS, Prefix.MLFLOW)
        table.grant_read_write_data(tr)
        bus.grant_put_events_to(tr)
