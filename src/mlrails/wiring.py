"""The graph's wiring, declared once: functions, event routes, schedules, storage layout.

The CDK app turns these into Lambda functions, EventBridge rules and Scheduler schedules;
the local runtime turns the very same objects into moto rules, SQS queues and virtual-clock
timers. Neither keeps a second list. Patterns take a :class:`ResourceNames` so the CDK app
can pass deploy-time tokens and the local runtime plain strings.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Literal

from mlrails.config import ProjectConfig

EVENT_SOURCE = "mlrails"
SCHEMA_VERSION = "1"
METRICS_NAMESPACE = "mlrails"


class DetailType(StrEnum):
    """The detail types on the project bus (schemas in :mod:`mlrails.events`)."""

    FEATURES_READY = "FeaturesReady"
    DRIFT_DETECTED = "DriftDetected"
    PERFORMANCE_DEGRADED = "PerformanceDegraded"
    RETRAIN_REQUESTED = "RetrainRequested"
    MODEL_REGISTERED = "ModelRegistered"
    MODEL_PROMOTED = "ModelPromoted"
    MODEL_REJECTED = "ModelRejected"
    TRAINING_FAILED = "TrainingFailed"
    BATCH_SCORED = "BatchScored"


class Prefix(StrEnum):
    """Key prefixes. The data bucket holds what flows through; the artifacts bucket what
    training produces and the config the functions read."""

    RAW = "raw/"
    FEATURES = "features/"
    QUARANTINE = "quarantine/"
    CAPTURE = "capture/"
    FEEDBACK = "feedback/"
    CONFIG = "config/"
    MODELS = "models/"
    MANIFESTS = "manifests/"
    MLFLOW = "mlflow/"
    REPORTS = "reports/"
    # Who promoted or rejected what, and why: written by the train function only, never
    # overwritten or deleted (mlrails.promotion.rails.audit).
    AUDIT = "audit/"
    # A training step's result when it ran as a Fargate task (whose exit gives Step Functions
    # no output): runs/<trigger id>/<step>.json, read back into the execution's state.
    RUNS = "runs/"
    # Events of the train function (and its Fargate task), which has no route to EventBridge
    # from its isolated subnets but reaches S3 through the free gateway endpoint: one PutEvents
    # entry per object, put on the bus by the event_relay function and deleted (mlrails.outbox).
    OUTBOX = "outbox/"
    # Local files given to `mlrails batch` (data bucket): uploaded here first, one folder per
    # content hash of the files, so a rerun on the same files scores the same objects into
    # the same output keys (mlrails.batch).
    BATCH = "batch/"


# Features are partitioned by day (features/date=YYYY-MM-DD/, the newest row's day of each
# file: mlrails.data.dataset): feature prep's files below the partition's raw/, the day's
# labelled traffic below its feedback/ (mlrails.feedback.training_rows). Apart, so each
# writer can be granted its own.
FEATURES_PARTITION = "date="
FEATURES_UPLOADS = "raw/"
FEATURES_FEEDBACK = "feedback/"


def features_in_every_day(tail: str) -> str:
    """A key pattern (IAM, S3 ``StringLike``) for ``tail`` in every day's features partition."""
    return f"{Prefix.FEATURES.value}{FEATURES_PARTITION}*/{tail}"


@dataclass(frozen=True)
class ResourceNames:
    """Names the wiring refers to: tokens at synth time, strings locally."""

    data_bucket: str
    artifacts_bucket: str
    bus_name: str
    state_table: str
    capture_stream: str  # the Firehose delivery stream into capture/ (mlrails.capture)


@dataclass(frozen=True)
class FunctionSpec:
    """One Lambda function: its code lives in ``functions/<name>/handler.py``."""

    name: str
    description: str
    packaging: Literal["zip", "image"]
    layers: tuple[str, ...]
    memory_mb: int
    timeout_seconds: int
    # Functions invoked by events (not by the API) get retries and a dead-letter queue.
    asynchronous: bool = True

    @property
    def service_name(self) -> str:
        """The Powertools service name (POWERTOOLS_SERVICE_NAME)."""
        return self.name.replace("_", "-")


# The inference function's package for each `serving.package` (which champions each serves:
# mlrails.serving.champion.PACKAGE_PATHS): its packaging and layers. FUNCTIONS lists the default, full.
INFERENCE_PACKAGES: dict[str, tuple[Literal["zip", "image"], tuple[str, ...]]] = {
    "onnx": ("zip", ("shared", "onnx")),
    "full": ("zip", ("shared", "ml")),
    "image": ("image", ()),
}

FUNCTIONS: tuple[FunctionSpec, ...] = (
    FunctionSpec(
        "feature_prep",
        "Validates raw files, writes Parquet features, quarantines bad files",
        "zip",
        ("shared", "data"),
        1024,
        120,
    ),
    FunctionSpec(
        "inference",
        "Serves the champion model behind the REST API",
        *INFERENCE_PACKAGES["full"],
        1024,
        29,
        asynchronous=False,
    ),
    FunctionSpec(
        "drift_check",
        "Compares the captured window with the training reference profile",
        "zip",
        ("shared", "data"),
        1024,
        300,
    ),
    FunctionSpec(
        "performance_check",
        "Joins settled captures with fed-back labels: model quality and business KPI",
        "zip",
        ("shared", "data"),
        1024,
        300,
    ),
    # Outside the VPC: puts the train function's events, left under outbox/, on the bus.
    FunctionSpec(
        "event_relay", "Puts the events the train function left in the outbox on the bus", "zip", ("shared",), 256, 30
    ),
    FunctionSpec(
        "retrain_trigger", "Applies the retraining policy and requests a training run", "zip", ("shared",), 256, 30
    ),
    # Invoked synchronously by the training state machine, which owns retries and failures.
    FunctionSpec(
        "train",
        "Training run steps: fit and register, evaluate, promote or reject (container image)",
        "image",
        (),
        3008,
        900,
        asynchronous=False,
    ),
    # The batch state machine's three steps (plan, a shard per Map iteration, summarize): one
    # function, since they share the champion's loading, the prefixes they touch and the package.
    # A container image: Parquet needs pyarrow (112 MB unzipped), which beside the onnx (78 MB)
    # or ml (206 MB) layer and the shared one (26 MB) does not fit the zip limit of 250 MB.
    # Invoked synchronously by the state machine, which owns retries and failures.
    FunctionSpec(
        "batch",
        "Batch scoring steps: plan the items, score a shard, summarize the job (container image)",
        "image",
        (),
        3008,
        900,
        asynchronous=False,
    ),
    # Outside the VPC: ECS's API is on the internet, where no endpoint has to be paid for.
    FunctionSpec(
        "tracking_switch",
        "Starts the MLflow server for whoever holds it and stops it when nobody does",
        "zip",
        ("shared",),
        256,
        30,
    ),
)


def function(name: str) -> FunctionSpec:
    """Look a function up by name."""
    for spec in FUNCTIONS:
        if spec.name == name:
            return spec
    raise KeyError(name)


def inference_function(cfg: ProjectConfig) -> FunctionSpec:
    """The inference function as ``serving.package`` packages it."""
    packaging, layers = INFERENCE_PACKAGES[cfg.serving.package]
    return replace(function("inference"), packaging=packaging, layers=layers)


def layers_in_use(cfg: ProjectConfig) -> list[str]:
    """The layers the zip functions of a deployment of ``cfg`` need (and no other)."""
    specs = [inference_function(cfg) if spec.name == "inference" else spec for spec in FUNCTIONS]
    return sorted({layer for spec in specs for layer in spec.layers})


@dataclass(frozen=True)
class EventRoute:
    """An EventBridge rule with one function target."""

    name: str
    target: str
    bus: Literal["default", "project"]
    pattern: Callable[[ResourceNames], dict]
    description: str


def _project_event(detail_type: DetailType) -> Callable[[ResourceNames], dict]:
    return lambda _names: {"source": [EVENT_SOURCE], "detail-type": [detail_type.value]}


ROUTES: tuple[EventRoute, ...] = (
    EventRoute(
        "RawObjectCreated",
        "feature_prep",
        "default",
        lambda names: {
            "source": ["aws.s3"],
            "detail-type": ["Object Created"],
            "detail": {
                "bucket": {"name": [names.data_bucket]},
                "object": {"key": [{"prefix": Prefix.RAW.value}]},
            },
        },
        "A raw data file landed under raw/",
    ),
    EventRoute(
        "OutboxObjectCreated",
        "event_relay",
        "default",
        lambda names: {
            "source": ["aws.s3"],
            "detail-type": ["Object Created"],
            "detail": {
                "bucket": {"name": [names.artifacts_bucket]},
                "object": {"key": [{"prefix": Prefix.OUTBOX.value}]},
            },
        },
        "The train function left an event in the outbox",
    ),
    EventRoute(
        "FeaturesReadyToRetrain",
        "retrain_trigger",
        "project",
        _project_event(DetailType.FEATURES_READY),
        "New feature rows may warrant retraining",
    ),
    EventRoute(
        "DriftDetectedToRetrain",
        "retrain_trigger",
        "project",
        _project_event(DetailType.DRIFT_DETECTED),
        "Input drift may warrant retraining",
    ),
    EventRoute(
        "PerformanceDegradedToRetrain",
        "retrain_trigger",
        "project",
        _project_event(DetailType.PERFORMANCE_DEGRADED),
        "A business metric drop may warrant retraining",
    ),
    EventRoute(
        "TrainingFailedToRetrain",
        "retrain_trigger",
        "project",
        _project_event(DetailType.TRAINING_FAILED),
        "A failed run gives back the lease it took",
    ),
)


@dataclass(frozen=True)
class TrainingPipeline:
    """A training run: the steps of one function, in order, orchestrated by Step Functions
    (locally: run in-process by the runtime, since moto cannot invoke Lambda tasks).

    retrain_trigger starts one execution per trigger, named after the trigger id, so a
    duplicated trigger cannot start a second run. The execution input is
    ``{"request": <RetrainRequested detail>, "time": <ISO time>, "compute": "lambda" | "fargate"}``
    (the engine: :mod:`mlrails.training.compute`); each step is invoked
    with ``{"step": <name>, "state": <the state so far>}`` and its result is stored in the
    state under its name. Any failure publishes ``TrainingFailed``.
    """

    function: str = "train"
    steps: tuple[str, ...] = ("train", "evaluate", "finish")
    # Per step: Lambda's own limit bounds each invocation; this bounds the whole run.
    timeout_seconds: int = 3 * 3600
    # Transient Lambda errors only (throttling, service errors): a bad model or too little
    # data fails the same way twice.
    retry_attempts: int = 2
    # MLflow runs only while held (mlrails.tracking): the run holds it before its first step
    # (asking again every interval until its task runs: a Fargate task starts in about a
    # minute, MLflow's image pull included) and releases it after the last, or after a failure.
    tracking_function: str = "tracking_switch"
    tracking_start_interval_seconds: int = 15
    tracking_start_attempts: int = 40  # 10 minutes

    # The name a run holds the tracking server under, with its trigger id for the placeholder
    # (Python's str.format here, States.Format in the state machine).
    tracking_holder_format: str = "training:{}"

    def tracking_holder(self, trigger_id: str) -> str:
        return self.tracking_holder_format.format(trigger_id)

    def tracking_hold(self, holder: object, time: object) -> dict[str, object]:
        """The switch's event holding the server for a whole run, at the run's ``time``: its
        lease lasts the run's timeout, so a run that ends without releasing it (a timed-out
        execution) keeps the server no longer than that before the idle sweep stops it."""
        return {"action": "hold", "holder": holder, "minutes": self.timeout_seconds // 60, "wait": True, "time": time}

    def tracking_release(self, holder: object, time: object) -> dict[str, object]:
        return {"action": "release", "holder": holder, "time": time}


TRAINING = TrainingPipeline()

# The environment of the training task's container (functions/train/task.py), which the state
# machine overrides per step: the step, and the execution's request and time.
TASK_STEP = "MLRAILS_STEP"
TASK_REQUEST = "MLRAILS_RUN_REQUEST"  # the RetrainRequested detail, as JSON
TASK_TIME = "MLRAILS_RUN_TIME"
# A step's result on the task path, with the trigger id and the step for the placeholders:
# Python's str.format here, States.Format in the state machine.
STEP_RESULT_KEY = Prefix.RUNS.value + "{}/{}.json"


def step_result_key(trigger_id: str, step: str) -> str:
    """Where the training task leaves a step's result (the state machine reads it back)."""
    return STEP_RESULT_KEY.format(trigger_id, step)


@dataclass(frozen=True)
class ScheduleSpec:
    """A recurring invocation. ``payload`` may hold EventBridge Scheduler's context
    placeholders, which the local runtime substitutes the same way."""

    name: str
    target: str
    expression: Callable[[ProjectConfig], str]
    enabled: Callable[[ProjectConfig], bool]
    payload: Mapping[str, str] = field(default_factory=dict)


SCHEDULED_TIME = "<aws.scheduler.scheduled-time>"
EXECUTION_ID = "<aws.scheduler.execution-id>"

SCHEDULES: tuple[ScheduleSpec, ...] = (
    ScheduleSpec(
        "DriftCheck",
        "drift_check",
        expression=lambda cfg: cfg.monitoring.schedule,
        enabled=lambda cfg: True,
        payload={"schedule": "DriftCheck", "scheduled_time": SCHEDULED_TIME, "execution_id": EXECUTION_ID},
    ),
    ScheduleSpec(
        "PerformanceCheck",
        "performance_check",
        expression=lambda cfg: cfg.monitoring.performance.schedule,
        enabled=lambda cfg: True,
        payload={"schedule": "PerformanceCheck", "scheduled_time": SCHEDULED_TIME, "execution_id": EXECUTION_ID},
    ),
    ScheduleSpec(
        "RetrainCadence",
        "retrain_trigger",
        expression=lambda cfg: cfg.retraining.schedule,
        enabled=lambda cfg: "schedule" in cfg.retraining.triggers,
        payload={"schedule": "RetrainCadence", "scheduled_time": SCHEDULED_TIME, "execution_id": EXECUTION_ID},
    ),
    # A trigger that the cooldown or max_retrains declines is deferred to when they allow a run
    # (mlrails.retraining.trigger.run_deferred): this check starts it within the hour after.
    # It does nothing but read the policy's state unless a deferral is due. Whenever either
    # rule can decline, whatever the triggers: the first model's bootstrap defers too.
    ScheduleSpec(
        "DeferredRetrain",
        "retrain_trigger",
        expression=lambda cfg: "rate(1 hour)",
        enabled=lambda cfg: cfg.retraining.cooldown_hours > 0 or cfg.retraining.max_retrains is not None,
        payload={"schedule": "DeferredRetrain", "scheduled_time": SCHEDULED_TIME, "execution_id": EXECUTION_ID},
    ),
    # MLflow's idle sweep: a holder that vanished (a killed `mlrails ui`, a run that timed out)
    # keeps the server up until its lease ends and this sweep finds it ended.
    ScheduleSpec(
        "TrackingIdle",
        "tracking_switch",
        expression=lambda cfg: "rate(1 hour)",
        enabled=lambda cfg: True,
        payload={"schedule": "TrackingIdle", "scheduled_time": SCHEDULED_TIME, "execution_id": EXECUTION_ID},
    ),
)


def operator_parameter(project: str, environment: str) -> str:
    """The SSM parameter holding the URL that runs operator commands in an environment
    (`mlrails promote --env NAME` reads it: no stack names to know)."""
    return f"/mlrails/{project}/{environment}/operator-url"


def tracking_switch_parameter(project: str, environment: str) -> str:
    """The SSM parameter holding the tracking switch function's ARN: operator commands and
    `mlrails ui --env NAME` hold MLflow through it before they need it."""
    return f"/mlrails/{project}/{environment}/tracking-switch"


# A batch job's summary, under its output prefix (mlrails.batch.items); operators may read it.
BATCH_SUMMARY = "summary.json"


def batch_state_machine_parameter(project: str, environment: str) -> str:
    """The SSM parameter holding the batch state machine's ARN: `mlrails batch --env NAME` starts
    its executions."""
    return f"/mlrails/{project}/{environment}/batch-state-machine"


def drift_state_machine_name(project: str, environment: str) -> str:
    """The drift fan-out state machine's name, fixed: the drift_check function starts it and it
    invokes that function, so the function knows its ARN by this name (a reference either way
    round would be a cycle in the stack)."""
    return f"mlrails-{project}-{environment}-drift-fanout"[:80]


def drift_reports_prefix(model: str) -> str:
    """Where a model's drift reports go in the artifacts bucket, and beside them, per window,
    the fan-out's plan, item list and partials (mlrails.drift.fanout)."""
    return f"{Prefix.REPORTS.value}drift/{model}/"


def api_parameters(project: str, environment: str) -> tuple[str, str]:
    """The SSM parameters holding an environment's scoring API URL and the id of its default
    API key (auth: api_key): what `mlrails release verify --env NAME`, the smoke test, reads."""
    return f"/mlrails/{project}/{environment}/api-url", f"/mlrails/{project}/{environment}/api-key-id"


# IAM's limit on a role's name.
ROLE_NAME_LIMIT = 64


def release_role_name(project: str, environment: str) -> str:
    """The role in an environment's account that the release pipeline's steps assume to run
    `mlrails release apply | verify --env NAME` there (operator access plus reading the API key).
    A project name too long for IAM's limit is cut, with a hash of it to keep names apart."""
    name = f"mlrails-{project}-{environment}-release"
    if len(name) <= ROLE_NAME_LIMIT:
        return name
    digest = hashlib.sha256(project.encode()).hexdigest()[:8]
    room = ROLE_NAME_LIMIT - len(f"mlrails--{digest}-{environment}-release")
    return f"mlrails-{project[:room]}-{digest}-{environment}-release"


def config_key(cfg: ProjectConfig) -> str:
    """Where the validated config lives in the artifacts bucket; content-addressed so a
    config change is a function configuration change (fresh containers, no stale cache)."""
    return f"{Prefix.CONFIG.value}{cfg.digest}.json"


def function_environment(
    cfg: ProjectConfig,
    environment: str,
    names: ResourceNames,
    spec: FunctionSpec,
    *,
    tracking_uri: str | None = None,
    training_state_machine: str | None = None,
    git_commit: str | None = None,
    prediction_id_secret: str | None = None,
    feedback_api_id: str | None = None,
    release_store: str | None = None,
    release_lock: str | None = None,
    tracking_server: str | None = None,
    events_outbox: str | None = None,
    drift_state_machine: str | None = None,
) -> dict[str, str]:
    """The environment variables every function gets (read by :mod:`mlrails.settings`).
    ``release_store``: the release store's bucket (the train function: it copies a proposed
    lock's files there, and an applied lock's from there); ``release_lock``: in a ``models:
    release`` environment, the digest of the lock the inference function's version serves (a
    new lock is a new function version, which the canary shifts traffic to); ``events_outbox``:
    the bucket whose outbox/ the function leaves its events in (the train function, which cannot
    reach EventBridge: :mod:`mlrails.outbox`)."""
    env = {
        "MLRAILS_ENVIRONMENT": environment,
        "MLRAILS_CONFIG_URI": f"s3://{names.artifacts_bucket}/{config_key(cfg)}",
        "MLRAILS_DATA_BUCKET": names.data_bucket,
        "MLRAILS_ARTIFACTS_BUCKET": names.artifacts_bucket,
        "MLRAILS_BUS_NAME": names.bus_name,
        "MLRAILS_STATE_TABLE": names.state_table,
        "MLRAILS_CAPTURE_STREAM": names.capture_stream,
        "POWERTOOLS_SERVICE_NAME": spec.service_name,
        "POWERTOOLS_METRICS_NAMESPACE": METRICS_NAMESPACE,
    }
    if tracking_uri is not None:
        env["MLFLOW_TRACKING_URI"] = tracking_uri
        # MLflow reports usage to its maintainers by default: not from inside the account.
        env["MLFLOW_DISABLE_TELEMETRY"] = "true"
    if training_state_machine is not None:
        env["MLRAILS_TRAINING_STATE_MACHINE"] = training_state_machine
    if git_commit is not None:
        env["MLRAILS_GIT_COMMIT"] = git_commit
    if prediction_id_secret is not None:
        env["MLRAILS_PREDICTION_ID_SECRET"] = prediction_id_secret
    if feedback_api_id is not None:
        env["MLRAILS_FEEDBACK_API_ID"] = feedback_api_id
    if release_store is not None:
        env["MLRAILS_RELEASE_STORE"] = release_store
    if release_lock is not None:
        env["MLRAILS_RELEASE_LOCK"] = release_lock
    if tracking_server is not None:
        env["MLRAILS_TRACKING_SERVER"] = tracking_server
    if events_outbox is not None:
        env["MLRAILS_EVENTS_OUTBOX"] = events_outbox
    if drift_state_machine is not None:
        env["MLRAILS_DRIFT_STATE_MACHINE"] = drift_state_machine
    origins = cfg.environments[environment].cors_origins if environment in cfg.environments else []
    if origins:
        env["MLRAILS_CORS_ORIGINS"] = ",".join(origins)
    return env
