"""Retraining: retrain_trigger applies the policy (schedule, drift, new data) and starts a
training run; the run is a Step Functions state machine whose steps invoke train (a container
image: mlflow + scikit-learn exceed the zip limit), which trains, registers in MLflow, gates
and promotes. train runs in the VPC, next to the MLflow server; with ``training.compute:
fargate | auto`` its image also runs as an ECS Fargate task there, with its role."""

from __future__ import annotations

from aws_cdk import Aws
from aws_cdk import aws_events as events
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_s3 as s3
from constructs import Construct

from infra.constructs.data_store import DataStore
from infra.constructs.mlflow_service import MlflowService
from infra.constructs.network import ISOLATED, PUBLIC, Network
from infra.constructs.pipeline_function import FunctionContext, PipelineFunction
from infra.constructs.training_pipeline import TrainingPipeline
from infra.constructs.training_task import TrainingTask
from infra.support.access import IDEMPOTENCY, STATE, Access, grant_items, grant_prefix, model_writer_role_name
from infra.support.nag import acknowledge_resource_wildcard
from infra.support.release import STORE_PREFIX, pipeline_account, store_region, store_users
from mlrails import wiring
from mlrails.config import ProjectConfig
from mlrails.wiring import Prefix


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
        tracking_switch: lambda_.IFunction,
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
            # Where `mlrails release propose` copies a locked model's files, and the lock's
            # apply action fetches them from (with a release: section).
            release_store=context.cfg.release_store,
            # No route to EventBridge from the isolated subnets: its events go through S3 (the
            # gateway endpoint) and event_relay puts them on the bus (mlrails.outbox).
            events_outbox=context.names.artifacts_bucket,
            vpc=network.vpc,
            vpc_subnets=ISOLATED,
            security_groups=[tracking.client_security_group],
        )
        compute = context.cfg.training.compute
        # Only when a run may need it: a `lambda` project deploys no cluster or task definition.
        self.task = (
            TrainingTask(
                self,
                "Task",
                size=context.cfg.training.fargate,
                image=context.image,
                environment=self.train.environment,
                role=self.train.role,
                vpc=network.vpc,
                # As the MLflow task: an address to pull its image and write its logs (the VPC
                # has no endpoints for those), the clients' group to reach MLflow, nothing inbound.
                subnets=PUBLIC,
                security_groups=[tracking.client_security_group],
                log_retention=context.log_retention,
            )
            if compute != "lambda"
            else None
        )
        self.pipeline = TrainingPipeline(
            self,
            "Pipeline",
            train=self.train.function,
            tracking_switch=tracking_switch,
            bus=bus,
            model_name=context.cfg.model.name,
            environment_name=context.environment_name,
            log_retention=context.log_retention,
            compute=compute,
            task=self.task,
            results_bucket=context.names.artifacts_bucket,
        )
        self.trigger = PipelineFunction(
            self,
            "Trigger",
            spec=wiring.function("retrain_trigger"),
            context=context,
            training_state_machine=self.pipeline.state_machine.state_machine_arn,
        )

    def grant_store(self, store: DataStore, cfg: ProjectConfig) -> None:
        """What the trigger and the train function need of the data store, and nothing else."""
        artifacts, data, table, bus = store.artifacts_bucket, store.data_bucket, store.state_table, store.bus
        # mlrails.retraining.trigger: the current manifest (absent = no champion yet), the
        # decision report; policy state; RetrainRequested (a notification); one training run per
        # trigger (StartExecution named after the trigger id, nothing else on the state machine).
        rt = self.trigger.function
        grant_prefix(artifacts, rt, Access.READ, Prefix.MANIFESTS)
        grant_prefix(artifacts, rt, Access.PUT, Prefix.REPORTS)
        grant_items(table, rt, IDEMPOTENCY, STATE)
        bus.grant_put_events_to(rt)
        self.pipeline.state_machine.grant_start_execution(rt)

        # mlrails.training.lifecycle + mlrails.promotion.rails: list + read features/, and
        # capture/ + feedback/ (the gate also scores on labelled traffic); the current manifest
        # (absent before the first promotion) and the versions of the champion's files it
        # records; write the version's model, profile and candidate manifest under models/ and
        # read the candidate back (get_optional: absent is an error of its own); write manifests/
        # and the audit record under audit/ (locked: a PUT with its retention); MLflow's artifact
        # store under mlflow/ (its managed uploads may go multipart); Model* events, left under
        # outbox/ (write only: the relay reads and deletes). Operator commands
        # (mlrails.promotion.operations) also list + read the audit log.
        tr = self.train.function
        grant_prefix(data, tr, Access.READ, Prefix.FEATURES, Prefix.CAPTURE, Prefix.FEEDBACK)
        grant_prefix(artifacts, tr, Access.READ | Access.PUT, Prefix.MANIFESTS)
        grant_prefix(artifacts, tr, Access.READ | Access.PUT | Access.RETAIN, Prefix.AUDIT)
        grant_prefix(artifacts, tr, Access.READ | Access.GET_VERSION | Access.PUT, Prefix.MODELS)
        grant_prefix(artifacts, tr, Access.READ | Access.PUT | Access.ABORT, Prefix.MLFLOW)
        grant_prefix(artifacts, tr, Access.PUT, Prefix.OUTBOX)
        grant_items(table, tr, IDEMPOTENCY)
        if self.task is not None:
            # The training task assumes this role: the earlier steps' results under runs/, and
            # its own (functions/train/task.py). With auto, retrain_trigger sizes the window's
            # features: a listing (mlrails.training.compute.for_run).
            grant_prefix(artifacts, tr, Access.GET | Access.PUT, Prefix.RUNS)
            if cfg.training.compute == "auto":
                grant_prefix(data, rt, Access.LIST, Prefix.FEATURES)

    def grant_release_store(self, cfg: ProjectConfig, environment_name: str) -> None:
        """The release store, in the pipeline's account (its bucket and key policies grant the
        same from their side): list, read and add the files under release/sha256/ (see
        infra.support.release.store_users). Through S3 only, with the store's key (the condition
        the key's policy sets)."""
        if cfg.release_store is None or environment_name not in store_users(cfg):
            return
        tr = self.train.function
        store = s3.Bucket.from_bucket_name(self, "ReleaseStore", cfg.release_store)
        grant_prefix(store, tr, Access.READ | Access.PUT, STORE_PREFIX)
        # The store's key is another stack's, often another account's: named by its account
        # and region, its id unknown here; the conditions hold it to this bucket through S3.
        key_arns = f"arn:{Aws.PARTITION}:kms:{store_region(cfg)}:{pipeline_account(cfg)}:key/*"
        iam.Grant.add_to_principal(
            grantee=tr,
            actions=["kms:Decrypt", "kms:GenerateDataKey"],
            resource_arns=[key_arns],
            conditions={
                "StringEquals": {
                    "kms:ViaService": f"s3.{store_region(cfg)}.amazonaws.com",
                    "kms:EncryptionContext:aws:s3:arn": store.bucket_arn,
                }
            },
        )
        acknowledge_resource_wildcard(
            self.train.role,
            key_arns,
            "The release store's key is in the pipeline's stack (another account's, often): its id is "
            "unknown here. Only S3 may use it on the train role's behalf, for the release store's bucket alone.",
        )
