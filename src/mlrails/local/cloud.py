"""moto in-process server + the environment's resources, created like the CDK app does."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from mlrails.adapters import deployed, git, s3
from mlrails.adapters.clients import client
from mlrails.capture import records
from mlrails.config import ProjectConfig
from mlrails.wiring import (
    TRAINING,
    FunctionSpec,
    Prefix,
    ResourceNames,
    config_key,
    drift_state_machine_name,
    function_environment,
)

REGION = "us-east-1"
LOOPBACK = "127.0.0.1"
_LOCAL_ROLE = "arn:aws:iam::123456789012:role/mlrails-local-training"
# The local runtime's own environment (`mlrails up`, `mlrails demo`): a training one, in no
# config's environments. `--env NAME` runs a local copy of a config environment beside it.
ENVIRONMENT = "local"
# Values the AWS SDK needs to sign requests; moto accepts anything and nothing leaves the machine.
_SECRET_FILE = "prediction-id-secret"
_FAKE_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "local", "AWS_SECRET_ACCESS_KEY": "local", "AWS_SESSION_TOKEN": "local"}


@dataclass(frozen=True)
class LocalApi:
    """What API Gateway's request context says about a request locally: which REST API it came
    through and the id of the API key it carried (mlrails.local.runtime.api_event)."""

    api_id: str
    api_key_id: str


# Two APIs, as the CDK app deploys them: scoring (every route but /feedback) and feedback,
# each with its own key.
SCORING_API = LocalApi("local-scoring", "local-scoring-key")
FEEDBACK_API = LocalApi("local-feedback", "local-feedback-key")


def prediction_id_secret(names: ResourceNames) -> str:
    """The name of the secret that signs prediction ids (mlrails.serving.prediction_ids) locally."""
    return f"{names.bus_name}/prediction-ids"


def release_bucket(cfg: ProjectConfig) -> str:
    """The release store on the local runtime (:mod:`mlrails.release.transfer`)."""
    return f"mlrails-{cfg.project}-release"


def local_account(cfg: ProjectConfig, environment: str) -> str:
    """The moto account an environment's local copy runs in: the config's account, else one
    of its own, so that no two local environments share an account."""
    configured = cfg.environments.get(environment)
    if configured is not None and configured.account:
        return configured.account
    return f"{int(hashlib.sha256(environment.encode()).hexdigest(), 16) % 10**12:012d}"


def local_names(cfg: ProjectConfig) -> ResourceNames:
    """Resource names on the local runtime (the CDK app lets CloudFormation name them)."""
    prefix = f"mlrails-{cfg.project}"
    return ResourceNames(
        data_bucket=f"{prefix}-data",
        artifacts_bucket=f"{prefix}-artifacts",
        bus_name=prefix,
        state_table=f"{prefix}-state",
        capture_stream=f"{prefix}-capture",
    )


@dataclass
class LocalCloud:
    """A running moto server with the project's buckets, bus, table and deployed config."""

    cfg: ProjectConfig
    state_dir: Path
    environment: str = ENVIRONMENT
    # Where the release store's files are kept between runs, shared by every local environment.
    release_dir: Path | None = None
    # In a `models: release` environment: the digest of the lock "deployed" (the project's lock
    # when the runtime starts), which the inference function serves (MLRAILS_RELEASE_LOCK).
    release_lock: str | None = None
    # Virtual time jumps days between two requests, and a promotion must serve the very next
    # one: the functions re-check the manifest on every request. `mlrails serve` answers in
    # wall-clock time, where the deployed default TTL applies.
    virtual_time: bool = True

    def __post_init__(self) -> None:
        self.names = local_names(self.cfg)
        self.tracking_uri = f"sqlite:///{(self.state_dir / 'mlflow.db').resolve()}"
        self._mock = None
        self._server = None
        self.state_machine_arn = ""
        self.tracking_server_arn = ""
        self.drift_state_machine_arn = ""
        self.git_commit = git.commit(Path.cwd())
        self.release_bucket = release_bucket(self.cfg)

    def start(self) -> LocalCloud:
        """Start moto in this process (every AWS client of the process, MLflow's included, talks
        to it directly: no HTTP server in between, whose per-request routing cost more than
        the calls themselves), create the resources."""
        from moto import mock_aws  # the local runtime only: never on Lambda

        self.state_dir.mkdir(parents=True, exist_ok=True)
        for name in ("AWS_ENDPOINT_URL", "MLFLOW_S3_ENDPOINT_URL"):  # an endpoint would bypass the mock
            os.environ.pop(name, None)
        os.environ.update(
            _FAKE_CREDENTIALS,
            AWS_DEFAULT_REGION=REGION,
            AWS_REGION=REGION,
            MOTO_ACCOUNT_ID=local_account(self.cfg, self.environment),
        )
        # moto keeps its state per process: start from nothing every time.
        self._mock = mock_aws()
        self._mock.start(reset=True)
        deployed.reset()
        self.state_machine_arn = create_resources(self.cfg, self.names)
        self.tracking_server_arn = create_tracking_server(self.names)
        self.drift_state_machine_arn = create_drift_fanout(self.cfg, self.environment)
        self._open_release_store()
        return self

    def _open_release_store(self) -> None:
        """The release store, holding every file proposed so far."""
        create_release_store(self.release_bucket)
        if self.release_dir is not None and self.release_dir.is_dir():
            for path in sorted(self.release_dir.rglob("*")):
                if path.is_file():
                    key = path.relative_to(self.release_dir).as_posix()
                    s3.put_bytes(s3.uri(self.release_bucket, key), path.read_bytes())

    def endpoint(self) -> str:
        """An HTTP endpoint onto this process's moto, for a process of its own (the training
        task, mlrails.local.training_task): moto's server mode serves the backends the
        in-process mock holds, so both see one cloud. Started on first use, on loopback only."""
        if self._server is None:
            from moto.server import ThreadedMotoServer  # the local runtime only

            # Werkzeug logs every request to stderr: the runtime's output is for people.
            logging.getLogger("werkzeug").setLevel(logging.ERROR)
            self._server = ThreadedMotoServer(ip_address=LOOPBACK, port=0, verbose=False)
            self._server.start()
        host, port = self._server.get_host_and_port()
        return f"http://{host}:{port}"

    def stop(self) -> None:
        """Stop moto (its state is in memory and goes with it)."""
        if self._server is not None:
            self._server.stop()
            self._server = None
        if self._mock is not None:
            self._mock.stop()
            self._mock = None
            os.environ.pop("MOTO_ACCOUNT_ID", None)
            deployed.reset()

    def environment_for(self, spec: FunctionSpec) -> dict[str, str]:
        """The function's environment, as the CDK app sets it, plus local-only switches."""
        env = function_environment(
            self.cfg,
            self.environment,
            self.names,
            spec,
            tracking_uri=self.tracking_uri if spec.name == TRAINING.function else None,
            training_state_machine=self.state_machine_arn if spec.name == "retrain_trigger" else None,
            git_commit=self.git_commit if spec.name == TRAINING.function else None,
            prediction_id_secret=prediction_id_secret(self.names) if spec.name == "inference" else None,
            feedback_api_id=FEEDBACK_API.api_id if spec.name == "inference" else None,
            release_store=self.release_bucket if spec.name == TRAINING.function else None,
            release_lock=self.release_lock if spec.name == "inference" else None,
            tracking_server=self.tracking_server_arn if spec.name == TRAINING.tracking_function else None,
            # As deployed: the train function's events go through the outbox and the relay.
            events_outbox=self.names.artifacts_bucket if spec.name == TRAINING.function else None,
            drift_state_machine=self.drift_state_machine_arn if spec.name == "drift_check" else None,
        )
        env.update(POWERTOOLS_TRACE_DISABLED="true", AWS_LAMBDA_FUNCTION_NAME=f"mlrails-local-{spec.name}")
        # Empty: the deployed default (this process's environment may hold an earlier "0").
        env["MLRAILS_MANIFEST_TTL_SECONDS"] = "0" if self.virtual_time else ""
        return env

    @property
    def snapshot_dir(self) -> Path:
        """Where the buckets are saved when a run ends (moto keeps state in memory only)."""
        return self.state_dir / "snapshot"

    def save_snapshot(self) -> None:
        """Copy both buckets to disk so a later command (``mlrails predict``) can restore them,
        and the key that signs prediction ids, so that the ids served before can be labelled after."""
        self.snapshot_dir.mkdir(parents=True, exist_ok=True)
        (self.snapshot_dir / _SECRET_FILE).write_text(
            client("secretsmanager").get_secret_value(SecretId=prediction_id_secret(self.names))["SecretString"]
        )
        for bucket in (self.names.data_bucket, self.names.artifacts_bucket):
            for key in s3.list_keys(bucket, ""):
                path = self.snapshot_dir / bucket / key
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(s3.get_bytes(s3.uri(bucket, key)))
        if self.release_dir is not None:
            # Write-once, as the store: a file kept already is never replaced.
            for key in s3.list_keys(self.release_bucket, ""):
                path = self.release_dir / key
                if not path.exists():
                    path.parent.mkdir(parents=True, exist_ok=True)
                    path.write_bytes(s3.get_bytes(s3.uri(self.release_bucket, key)))

    def restore_snapshot(self) -> bool:
        """Load a saved snapshot into the running server; False when there is none."""
        if not self.snapshot_dir.is_dir():
            return False
        objects: dict[str, dict[str, bytes]] = {self.names.data_bucket: {}, self.names.artifacts_bucket: {}}
        for path in sorted(p for p in self.snapshot_dir.rglob("*") if p.is_file()):
            bucket, key = (
                path.relative_to(self.snapshot_dir).parts[0],
                "/".join(path.relative_to(self.snapshot_dir).parts[1:]),
            )
            if bucket in objects and not key.startswith(Prefix.RAW.value):
                objects[bucket][key] = path.read_bytes()
        for bucket, contents in objects.items():
            put_objects(bucket, contents)
        saved_secret = self.snapshot_dir / _SECRET_FILE
        if saved_secret.is_file():
            client("secretsmanager").put_secret_value(
                SecretId=prediction_id_secret(self.names), SecretString=saved_secret.read_text()
            )
            deployed.reset()  # a container that read the new run's key forgets it
        return True


def put_objects(bucket: str, objects: Mapping[str, bytes]) -> None:
    """Put saved objects back into a fresh bucket. The bucket gives them new S3 versions, and a
    manifest pins the version of each file it names (mlrails.serving.manifest): so the files go first
    and the manifests naming them are re-pinned to their new versions. Each file's sha256
    stays as recorded at training and is still checked at every read."""
    versions, documents = {}, {}
    for key, body in objects.items():
        document = json.loads(body) if key.endswith(".json") else None
        if isinstance(document, dict) and "manifest_version" in document:
            documents[key] = document
        else:
            versions[s3.uri(bucket, key)] = s3.put_bytes(s3.uri(bucket, key), body)
    for key, document in documents.items():
        for uri, recorded in document.get("files", {}).items():
            recorded["version_id"] = versions.get(uri, recorded["version_id"])
        s3.put_bytes(s3.uri(bucket, key), json.dumps(document, sort_keys=True, indent=1).encode(), "application/json")


def create_release_store(bucket: str) -> None:
    """The release store as the CDK app makes it: versioned, with Object Lock."""
    s3_client = client("s3")
    s3_client.create_bucket(Bucket=bucket, ObjectLockEnabledForBucket=True)
    s3_client.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})


def create_resources(cfg: ProjectConfig, names: ResourceNames) -> str:
    """The environment's resources, as the CDK app declares them, plus the deployed config.
    Used by the local runtime and by handler tests (under ``mock_aws``). Returns the
    training state machine's ARN (moto records its executions; the runtime runs them)."""
    s3_client = client("s3")
    for bucket in (names.data_bucket, names.artifacts_bucket):
        # Object Lock on the artifacts bucket, as in the CDK app: audit records are locked.
        s3_client.create_bucket(Bucket=bucket, ObjectLockEnabledForBucket=bucket == names.artifacts_bucket)
        s3_client.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    # Object Created events go to the default bus, as with `event_bridge_enabled` in the CDK app:
    # raw/ files to feature_prep, outbox/ events to event_relay.
    for bucket in (names.data_bucket, names.artifacts_bucket):
        s3_client.put_bucket_notification_configuration(
            Bucket=bucket, NotificationConfiguration={"EventBridgeConfiguration": {}}
        )
    client("events").create_event_bus(Name=names.bus_name)
    # The CDK app's generated secret: random, never in the code or the config.
    client("secretsmanager").create_secret(Name=prediction_id_secret(names), SecretString=secrets.token_hex(32))
    client("dynamodb").create_table(
        TableName=names.state_table,
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
    )
    client("dynamodb").update_time_to_live(
        TableName=names.state_table, TimeToLiveSpecification={"Enabled": True, "AttributeName": "expires_at"}
    )
    # The CDK app's delivery stream; moto writes each PutRecordBatch to S3 at once and
    # leaves the partitioning to mlrails.local.delivery.
    client("firehose").create_delivery_stream(
        DeliveryStreamName=names.capture_stream,
        DeliveryStreamType="DirectPut",
        ExtendedS3DestinationConfiguration=records.destination(f"arn:aws:s3:::{names.data_bucket}", _LOCAL_ROLE),
    )
    deploy_config(cfg, names)
    # moto does not run Lambda tasks: the definition only has to be valid; the local runtime
    # runs wiring.TRAINING's steps itself for each execution started here.
    return client("stepfunctions").create_state_machine(
        name=f"{names.bus_name}-training",
        roleArn=_LOCAL_ROLE,
        definition=json.dumps({"StartAt": "RunLocally", "States": {"RunLocally": {"Type": "Pass", "End": True}}}),
    )["stateMachineArn"]


def create_drift_fanout(cfg: ProjectConfig, environment: str) -> str:
    """The drift fan-out state machine, by the name the CDK app gives it; its ARN. As with
    training, moto records its executions and the local runtime runs their steps."""
    return client("stepfunctions").create_state_machine(
        name=drift_state_machine_name(cfg.project, environment),
        roleArn=_LOCAL_ROLE,
        definition=json.dumps({"StartAt": "RunLocally", "States": {"RunLocally": {"Type": "Pass", "End": True}}}),
    )["stateMachineArn"]


def create_tracking_server(names: ResourceNames) -> str:
    """MLflow's ECS service as the CDK app declares it, with no task until someone holds it
    (mlrails.tracking). Returns its ARN. Locally MLflow itself is the SQLite store, there
    whether the service runs or not; moto counts a scaled service's tasks as running at once."""
    ecs = client("ecs")
    cluster = ecs.create_cluster(clusterName=f"{names.bus_name}-tracking")["cluster"]["clusterName"]
    task = ecs.register_task_definition(
        family=f"{names.bus_name}-mlflow",
        requiresCompatibilities=["FARGATE"],
        networkMode="awsvpc",
        cpu="256",
        memory="1024",
        containerDefinitions=[{"name": "Mlflow", "image": "mlflow", "essential": True}],
    )["taskDefinition"]["taskDefinitionArn"]
    return ecs.create_service(
        cluster=cluster, serviceName="mlflow", taskDefinition=task, desiredCount=0, launchType="FARGATE"
    )["service"]["serviceArn"]


def deploy_config(cfg: ProjectConfig, names: ResourceNames) -> None:
    """Put the validated config where the functions read it (the CDK app's BucketDeployment)."""
    s3.put_bytes(s3.uri(names.artifacts_bucket, config_key(cfg)), cfg.to_json().encode(), "application/json")
