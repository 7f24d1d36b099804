"""The serverless graph of one environment: functions, the training state machine, REST API,
routes, schedules, alarms, the dashboard, and the grants between them and the data store (least privilege,
by key prefix)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_logs as logs
from constructs import Construct

from infra.constructs.alarms import Alarms
from infra.constructs.dashboard import Dashboard
from infra.constructs.data_store import DataStore
from infra.constructs.event_wiring import EventWiring
from infra.constructs.inference_api import InferenceApi
from infra.constructs.lambda_layers import LambdaLayers
from infra.constructs.mlflow_service import MlflowService
from infra.constructs.network import Network
from infra.constructs.operator_access import OperatorAccess
from infra.constructs.pipeline_function import FunctionContext, PipelineFunction, WiredFunction
from infra.constructs.retraining import Retraining
from infra.support.access import IDEMPOTENCY, STATE, Access, grant_items, grant_prefix
from mlrails import wiring
from mlrails.config import ProjectConfig
from mlrails.wiring import Prefix, operator_parameter

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
        )

        feature_prep = WiredFunction(self, "FeaturePrep", name="feature_prep", context=context)
        inference = InferenceApi(self, "Inference", context=context, environment=environment)
        drift_check = WiredFunction(self, "DriftCheck", name="drift_check", context=context)
        performance_check = WiredFunction(self, "PerformanceCheck", name="performance_check", context=context)
        retraining = Retraining(self, "Retraining", context=context, network=network, tracking=tracking, bus=store.bus)

        self.functions: dict[str, PipelineFunction] = {
            "feature_prep": feature_prep.handler,
            "inference": inference.handler,
            "drift_check": drift_check.handler,
            "performance_check": performance_check.handler,
            "retrain_trigger": retraining.trigger,
            "train": retraining.train,
        }
        self.inference = inference
        self.operator_access = OperatorAccess(
            self,
            "Operators",
            function=retraining.train.function,
            parameter_name=operator_parameter(cfg.project, environment_name),
        )
        self.wiring = EventWiring(
            self, "Wiring", cfg=cfg, names=store.names, project_bus=store.bus, functions=self.functions
        )
        self.alarms = Alarms(
            self,
            "Alarms",
            functions={name: fn.function for name, fn in self.functions.items()},
            api=inference.api,
            state_machines={"training": retraining.pipeline.state_machine},
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
        self.dashboard = Dashboard(
            self,
            "Dashboard",
            model_name=cfg.model.name,
            functions=self.functions,
            api=inference.api,
            training=retraining.pipeline.state_machine,
            alarms=self.alarms.alarms,
        )

        data, artifacts, table, bus = store.data_bucket, store.artifacts_bucket, store.state_table, store.bus
        # Each grant below is what the function's calls need (mlrails.adapters.*, the domain
        # module it runs, Powertools Idempotency), and nothing else. Every function reads the
        # deployed config, which must exist: no listing, a missing config fails either way.
        for fn in self.functions.values():
            grant_prefix(artifacts, fn.function, Access.GET, Prefix.CONFIG)

        # mlrails.data.ingest: get_optional(raw/<key>, the event's version) (gone = an earlier delivery
        # quarantined it), copy that version to quarantine/ + reason, delete that version; put
        # features/; FeaturesReady. Without a version id (an object older than versioning; a
        # local bucket) the same calls name no version.
        fp = feature_prep.handler.function
        grant_prefix(data, fp, Access.READ | Access.GET_VERSION | Access.DELETE | Access.DELETE_VERSION, Prefix.RAW)
        grant_prefix(data, fp, Access.PUT, Prefix.FEATURES, Prefix.QUARANTINE)
        grant_items(table, fp, IDEMPOTENCY)
        bus.grant_put_events_to(fp)

        # mlrails.serving.champion: HEAD/GET the manifest (absent = 503 "no model yet", so it must be a
        # 404), GET the version of the model it records; captures to the capture stream (mlrails.serving.capture), which
        # writes capture/ itself; feedback/ writes.
        inf = inference.handler.function
        grant_prefix(artifacts, inf, Access.READ, Prefix.MANIFESTS)
        grant_prefix(artifacts, inf, Access.GET | Access.GET_VERSION, Prefix.MODELS)
        grant_prefix(data, inf, Access.PUT, Prefix.FEEDBACK)
        store.capture.grant_put_records(inf)

        # mlrails.drift.check: the current manifest (absent = "no_model"), its profile.json under
        # models/ (the version the manifest records), list + read the capture window, write the
        # report; drift counter; DriftDetected.
        dc = drift_check.handler.function
        grant_prefix(artifacts, dc, Access.READ, Prefix.MANIFESTS)
        grant_prefix(artifacts, dc, Access.GET | Access.GET_VERSION, Prefix.MODELS)
        grant_prefix(data, dc, Access.READ, Prefix.CAPTURE)
        grant_prefix(artifacts, dc, Access.PUT, Prefix.REPORTS)
        grant_items(table, dc, IDEMPOTENCY, STATE)
        bus.grant_put_events_to(dc)

        # mlrails.performance.check: the current manifest (absent = "no_model"), list + read the capture
        # window and the feedback days, write the report; PerformanceDegraded. mlrails.feedback.training_rows
        # (training.feedback_rows): HEAD a day's file (absent = not written yet: a 404, so listable),
        # write it; FeaturesReady.
        pc = performance_check.handler.function
        grant_prefix(artifacts, pc, Access.READ, Prefix.MANIFESTS)
        grant_prefix(data, pc, Access.READ, Prefix.CAPTURE, Prefix.FEEDBACK)
        grant_prefix(artifacts, pc, Access.PUT, Prefix.REPORTS)
        if cfg.training.feedback_rows:
            grant_prefix(data, pc, Access.READ | Access.PUT, Prefix.FEEDBACK_ROWS)
        grant_items(table, pc, IDEMPOTENCY)
        bus.grant_put_events_to(pc)

        # mlrails.retraining.trigger: the current manifest (absent = no champion yet), the decision report;
        # policy state; RetrainRequested (a notification); one training run per trigger
        # (StartExecution named after the trigger id, nothing else on the state machine).
        rt = retraining.trigger.function
        grant_prefix(artifacts, rt, Access.READ, Prefix.MANIFESTS)
        grant_prefix(artifacts, rt, Access.PUT, Prefix.REPORTS)
        grant_items(table, rt, IDEMPOTENCY, STATE)
        bus.grant_put_events_to(rt)
        retraining.pipeline.state_machine.grant_start_execution(rt)

        # mlrails.training.lifecycle + mlrails.promotion.rails: list + read features/, and capture/ + feedback/ (the
        # gate also scores on labelled traffic); the current manifest (absent before the first
        # promotion) and the versions of the champion's files it records; write the version's model,
        # profile and candidate manifest under models/ and read the candidate back (get_optional:
        # absent is an error of its own); write manifests/ and the audit record under audit/ (locked:
        # a PUT with its retention); MLflow's artifact store under mlflow/ (its managed uploads may
        # go multipart); Model* events. Operator commands (mlrails.promotion.operations) also list + read the
        # audit log.
        tr = retraining.train.function
        grant_prefix(data, tr, Access.READ, Prefix.FEATURES, Prefix.CAPTURE, Prefix.FEEDBACK)
        grant_prefix(artifacts, tr, Access.READ | Access.PUT, Prefix.MANIFESTS)
        grant_prefix(artifacts, tr, Access.READ | Access.PUT | Access.RETAIN, Prefix.AUDIT)
        grant_prefix(artifacts, tr, Access.READ | Access.GET_VERSION | Access.PUT, Prefix.MODELS)
        grant_prefix(artifacts, tr, Access.READ | Access.PUT | Access.ABORT, Prefix.MLFLOW)
        grant_items(table, tr, IDEMPOTENCY)
        bus.grant_put_events_to(tr)
