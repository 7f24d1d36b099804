"""The project config: one file describes the model project, validated on load.

The CDK app and the local runtime both call :func:`load_config`; deployed functions read
the same validated document as JSON from S3 (:func:`ProjectConfig.model_validate_json`).
Every validation error names the field it is about, e.g.
``monitoring.psi_threshold: Input should be greater than 0``.
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from typing import Annotated, Literal

import yaml
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from mlrails.errors import ConfigError
from mlrails.schedule import parse_cron

_NAME = r"^[a-z][a-z0-9-]{1,38}[a-z0-9]$"
# EventBridge schedule expressions; cron() fields are then checked by mlrails.schedule.
_SCHEDULE = r"^(rate\(\d+ (minute|minutes|hour|hours|day|days)\)|cron\(.+\))$"


def _valid_schedule(expression: str) -> str:
    if expression.startswith("cron("):
        parse_cron(expression)  # raises ValueError naming the bad cron field
    return expression


Schedule = Annotated[str, Field(pattern=_SCHEDULE), AfterValidator(_valid_schedule)]
# A browser origin: scheme, host and optional port, nothing after (no path, no wildcard).
Origin = Annotated[str, Field(pattern=r"^https?://[A-Za-z0-9.-]+(:\d{1,5})?$")]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Feature(_Strict):
    name: str = Field(min_length=1)
    type: Literal["numeric", "categorical"]
    nullable: bool = False


class Dataset(_Strict):
    task: Literal["classification", "regression"]
    target: str = Field(min_length=1)
    timestamp: str = Field(min_length=1)
    features: tuple[Feature, ...] = Field(min_length=1)
    # What `mlrails check` demands of the data (see mlrails.feasibility). Columns known only
    # after the outcome (a leak by construction): the check and training refuse them as features.
    not_available_at_prediction: tuple[str, ...] = ()
    # None: training.min_rows is the minimum.
    min_rows: int | None = Field(default=None, ge=1)
    # None: any span will do.
    min_coverage_days: float | None = Field(default=None, gt=0)

    @model_validator(mode="after")
    def _distinct_columns(self) -> Dataset:
        names = [f.name for f in self.features]
        duplicated = sorted({n for n in names if names.count(n) > 1})
        if duplicated:
            raise ValueError(f"feature names must be unique, repeated: {duplicated}")
        for special in (self.target, self.timestamp):
            if special in names:
                raise ValueError(f"'{special}' is the target or timestamp and cannot also be a feature")
        return self

    @property
    def feature_names(self) -> list[str]:
        return [f.name for f in self.features]

    def features_of_type(self, kind: str) -> list[str]:
        return [f.name for f in self.features if f.type == kind]


class Model(_Strict):
    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$")
    # module:function returning an unfitted scikit-learn estimator or Pipeline.
    entrypoint: str = Field(default="mlrails.models:placeholder", pattern=r"^[\w.]+:\w+$")


class Training(_Strict):
    holdout_fraction: float = Field(default=0.2, gt=0, lt=1)
    seed: int = 42
    min_rows: int = Field(default=100, ge=10)
    # Train on the newest this-many days of features/ only (None: all of it). After the world
    # changes, a model fit mostly on the old world cannot recover; a window forgets it.
    window_days: float | None = Field(default=None, gt=0)
    # True: served predictions whose labels came back through POST /feedback become training
    # rows too, a day at a time once the day has settled (mlrails.feedback.training_rows). Leave it
    # false where labelled files already arrive under raw/: the same rows would count twice.
    feedback_rows: bool = False


_MAXIMIZE = {"accuracy", "f1", "roc_auc", "r2"}
_MINIMIZE = {"log_loss", "rmse", "mae"}


Metric = Literal["accuracy", "f1", "roc_auc", "log_loss", "rmse", "mae", "r2"]


class Promotion(_Strict):
    metric: Metric | None = None
    # The challenger is promoted when it is at least this much better than the champion:
    # in the metric's units (absolute) or as a fraction of the champion's score (relative).
    # 0 means "not worse", so a model trained on fresher data wins a tie.
    min_improvement: float = Field(default=0.0, ge=0)
    improvement: Literal["absolute", "relative"] = "absolute"
    # Guard metrics and how far each may regress (absolute) before a promotion is refused.
    guards: dict[Metric, float] = Field(default_factory=dict)
    mode: Literal["auto", "manual"] = "auto"
    # Both models are also scored on served predictions of the last feedback_days whose
    # labels have arrived (monitoring.label_delay_hours) and that the challenger did not train
    # on: the holdout is as old as the training data, the traffic is what the model will see.
    # 0: the holdout only.
    feedback_days: float = Field(default=14, ge=0)

    @field_validator("guards")
    @classmethod
    def _tolerances_are_not_negative(cls, value: dict[str, float]) -> dict[str, float]:
        negative = sorted(name for name, tolerance in value.items() if tolerance < 0)
        if negative:
            raise ValueError(f"guard tolerances must be >= 0: {negative}")
        return value

    @staticmethod
    def direction(metric: str) -> Literal["maximize", "minimize"]:
        """Whether a larger value of ``metric`` is better."""
        return "maximize" if metric in _MAXIMIZE else "minimize"


# The drift measures (see mlrails.drift.measures). Wasserstein and KS need an order: numeric only.
DriftTest = Literal["psi", "jensenshannon", "wasserstein", "ks", "chi2"]
NUMERIC_ONLY_TESTS = frozenset({"wasserstein", "ks"})


class Performance(_Strict):
    """The business / model-quality check (mlrails.performance.check): settled captures joined with
    fed-back labels, the task's metrics and the business KPI, on its own schedule."""

    schedule: Schedule = "rate(1 day)"
    # Predictions evaluated per run: the last window_hours of those whose labels are due.
    window_hours: int = Field(default=7 * 24, ge=1, le=24 * 90)
    metric: Metric | None = None  # None: the promotion gate's metric
    # PerformanceDegraded when the metric is worse than `minimum` (for error metrics: above
    # it) or has lost more than `max_drop` (absolute) from the champion's holdout score.
    minimum: float | None = None
    max_drop: float | None = Field(default=None, ge=0)
    # Fewer labelled rows than this: "insufficient labels", never an alarm.
    min_labelled_rows: int = Field(default=100, ge=1)
    # ...and only a drop beyond chance: the metric must be below the floor even at the upper
    # end of its one-sided interval at this confidence, from the window's bootstrap standard
    # error (plus the holdout's, for the max_drop floor). 0.5: no allowance for chance.
    confidence: float = Field(default=0.95, ge=0.5, lt=1)


class Monitoring(_Strict):
    schedule: Schedule = "rate(1 day)"
    window_hours: int = Field(default=24, ge=1, le=24 * 31)
    min_window_rows: int = Field(default=200, ge=1)
    bins: int = Field(default=10, ge=2, le=100)
    drifted_share: float = Field(default=0.3, gt=0, le=1)
    # The measure that decides whether a feature drifted, by feature type, and per feature
    # (`tests: {tenure_months: ks}`); the prediction's follows its type unless set. Every
    # applicable measure is computed and reported either way.
    numeric_test: DriftTest = "wasserstein"
    categorical_test: Literal["psi", "jensenshannon", "chi2"] = "jensenshannon"
    prediction_test: DriftTest | None = None
    tests: dict[str, DriftTest] = Field(default_factory=dict)
    # Effect sizes, which do not grow with the window: a feature drifts when its measure
    # reaches its threshold (and the window is large enough to tell, see `alpha`).
    psi_threshold: float = Field(default=0.2, gt=0)
    jensenshannon_threshold: float = Field(default=0.1, gt=0, le=1)  # base-2 distance, in [0, 1]
    wasserstein_threshold: float = Field(default=0.1, gt=0)  # in reference standard deviations
    ks_threshold: float = Field(default=0.1, gt=0, le=1)
    chi2_threshold: float = Field(default=0.25, gt=0)  # Cohen's w, sqrt(chi2 / effective n)
    # Small windows: the effect must also be significant (p < alpha) by the classic test on
    # the same representation, so sampling noise in a few hundred rows is not an alarm.
    # 1 switches the gate off (effect size alone).
    alpha: float = Field(default=0.01, gt=0, le=1)
    # Data-quality checks, reported beside drift (they do not count as drifted features).
    max_missing_rate_increase: float = Field(default=0.1, gt=0, le=1)  # absolute, vs the reference
    max_unseen_share: float = Field(default=0.05, gt=0, le=1)
    max_out_of_range_share: float = Field(default=0.05, gt=0, le=1)
    # How long ground truth takes to arrive: a prediction is judged (performance check,
    # promotion gate) only once this much time has passed since it was made.
    label_delay_hours: float = Field(default=24, ge=0)
    performance: Performance = Performance()

    def test_for(self, name: str, kind: Literal["numeric", "categorical"]) -> str:
        """The measure that decides drift for feature ``name`` of type ``kind``."""
        if name in self.tests:
            return self.tests[name]
        return self.numeric_test if kind == "numeric" else self.categorical_test

    def threshold(self, test: str) -> float:
        """The configured threshold of a drift measure."""
        return getattr(self, f"{test}_threshold")


class MaxRetrains(_Strict):
    count: int = Field(ge=1)
    period_hours: float = Field(gt=0)


class Retraining(_Strict):
    schedule: Schedule = "rate(7 days)"
    triggers: tuple[Literal["schedule", "drift", "performance", "new_data"], ...] = (
        "schedule",
        "drift",
        "performance",
        "new_data",
    )
    cooldown_hours: float = Field(default=12, ge=0)
    consecutive_drift_windows: int = Field(default=1, ge=1)
    min_new_rows: int = Field(default=1000, ge=1)
    # At most `count` training runs per rolling `period_hours`, whatever triggers them.
    max_retrains: MaxRetrains | None = None


class Capture(_Strict):
    sample_rate: float = Field(default=1.0, ge=0, le=1)
    # Sampled records wait in the inference container's memory and go to Firehose in one call
    # when buffer_records are held (500: PutRecordBatch's limit) or the oldest is buffer_seconds
    # old, checked on each request: the call's cost lands on ~1 request in N, not on every one.
    # The price: a container that Lambda reclaims loses what it holds (the sampled records of
    # under buffer_seconds before its last request); at traffic sparser than a container's idle
    # life (minutes) that can be most of them: use 0, which sends with every request.
    buffer_records: int = Field(default=500, ge=1, le=500)
    buffer_seconds: float = Field(default=5.0, ge=0)


class Serving(_Strict):
    # What the inference function ships (see the README, "Serving paths"). onnx: onnxruntime +
    # numpy, under 100 MB, serves champions that compiled to ONNX at promotion (others get a
    # 503 naming the fix, and a loaded champion keeps serving); full: scikit-learn + skops,
    # serves every champion by scikit-learn; image: a container image with both.
    package: Literal["onnx", "full", "image"] = "full"


class UseCase(_Strict):
    """Who acts on a prediction and how: the feasibility check's "path to action".

    Every field may be left out or empty; `mlrails check` then answers "unknown" and names
    the fields to fill in rather than refusing the config."""

    consumer: str = ""  # who receives a prediction (a team, a system)
    decision: str = ""  # what they decide with it, and its threshold or rule
    action: str = ""  # what they then do
    latency: Literal["online", "batch"] | None = None
    # online: the most one prediction may take end to end, in milliseconds.
    latency_ms: float | None = Field(default=None, gt=0)

    @model_validator(mode="after")
    def _latency_ms_is_for_online(self) -> UseCase:
        if self.latency_ms is not None and self.latency == "batch":
            raise ValueError("latency_ms applies to latency: online only (batch has no per-request need)")
        return self


class Value(_Strict):
    """The level below which the use case is not worth it, and what the metric is worth."""

    metric: Metric | None = None  # None: the promotion gate's metric
    # The worst score at which the use case still pays (for error metrics: the highest).
    minimum: float | None = None
    # How far beyond `minimum` the quick model must score for a confident "yes".
    margin: float = Field(default=0.02, ge=0)
    # Business value per point (0.01) of the metric beyond `minimum`: linear, 0 at `minimum`.
    value_per_point: float | None = None
    # Or module:function(score: float) -> float.
    function: str | None = Field(default=None, pattern=r"^[\w.]+:\w+$")
    unit: str = ""  # of the business value, e.g. "EUR/month"

    @model_validator(mode="after")
    def _one_value_function(self) -> Value:
        if self.value_per_point is not None and self.function is not None:
            raise ValueError("give value_per_point or function, not both")
        return self


class AlarmThresholds(_Strict):
    """Operational alarm thresholds (infra/constructs/alarms.py), per environment."""

    # Share of the API's requests answered with a 5xx in a 5-minute window.
    api_5xx_rate: float = Field(default=0.01, gt=0, le=1)
    # API Gateway's p99 Latency (request received to response sent), in milliseconds.
    api_p99_ms: float = Field(default=1000, gt=0)


# Lambda's default concurrency quota per account and region. A reservation above it cannot deploy
# there; a raised quota is rare enough for this kit that the bound catches typos (a 10000).
LAMBDA_DEFAULT_CONCURRENCY = 1000
Reservation = Annotated[int, Field(ge=1, le=LAMBDA_DEFAULT_CONCURRENCY)] | None


class ReservedConcurrency(_Strict):
    """Concurrent executions reserved for each function of one environment (its floor and its
    ceiling): environments in one account cannot take each other's concurrency. None: no
    reservation, the function shares the account's unreserved pool (no guarantee, no cap). 0 is
    refused: Lambda would throttle every invocation, a switched-off function."""

    # One execution serves one API request: at least environments.<env>.throttle_burst plus
    # feedback_throttle_burst (both APIs invoke it).
    inference: Reservation = 110
    # One invocation per raw file: a bulk upload waits (asynchronous invocations retry a
    # throttle for hours) instead of taking the account.
    feature_prep: Reservation = 10
    # Daily schedules; the second execution is a retry that overlaps a slow first one.
    drift_check: Reservation = 2
    performance_check: Reservation = 2
    retrain_trigger: Reservation = 2
    # One training run at a time (the retrain lease), plus the state machine's retry of a step
    # still running and an operator command (`mlrails promote | rollback | models`).
    train: Reservation = 3

    def total(self) -> int:
        """Every reservation of the environment together."""
        return sum(value for value in self.model_dump().values() if value is not None)


class Acknowledgements(_Strict):
    """Risks an environment takes on purpose, each given as its reason (a reason, not a yes: it
    stays in the config for review); without it the synth fails (infra/app_builder.py)."""

    # Another environment deploys to the same account (`account` unset on both: the CLI's
    # default account): they share its quotas, and a production one its blast radius.
    shared_account: str | None = Field(default=None, min_length=20)
    # No alarm_email: the alarms publish to a topic nobody subscribes to.
    no_alarm_email: str | None = Field(default=None, min_length=20)


class Environment(_Strict):
    account: str | None = Field(default=None, pattern=r"^\d{12}$")
    region: str | None = Field(default=None, pattern=r"^[a-z]{2}(-[a-z]+)+-\d$")
    inference_memory_mb: int = Field(default=1024, ge=128, le=10240)
    auth: Literal["api_key", "iam"] = "api_key"
    throttle_rate: float = Field(default=50, gt=0)
    throttle_burst: int = Field(default=100, gt=0)
    # Requests per API key per day (the usage plan's quota; auth: api_key).
    daily_quota: int = Field(default=100_000, gt=0)
    # POST /feedback is its own API with its own credential (a usage plan and key of its own,
    # or IAM), throttled apart: labels come in batches (up to 10,000 items a request) from a
    # few systems, not per prediction.
    feedback_throttle_rate: float = Field(default=5, gt=0)
    feedback_throttle_burst: int = Field(default=10, gt=0)
    feedback_daily_quota: int = Field(default=10_000, gt=0)
    # Browser origins allowed to call the API (CORS), e.g. https://app.example.com. Empty (the
    # default): no CORS headers and no preflight route, so browsers on other sites cannot call it.
    cors_origins: list[Origin] = Field(default_factory=list)
    alarm_email: str | None = Field(default=None, pattern=r"^[^@\s]+@[^@\s]+$")
    alarms: AlarmThresholds = AlarmThresholds()
    reserved_concurrency: ReservedConcurrency = ReservedConcurrency()
    acknowledge: Acknowledgements = Acknowledgements()

    @model_validator(mode="after")
    def _burst_fits_inference(self) -> Environment:
        # A burst admits that many requests at once, each needing an execution of its own:
        # past the reservation Lambda throttles them and API Gateway answers 500, where the
        # API's own throttle would have answered 429, which clients know to retry.
        # Both APIs invoke the inference function: their bursts can come at once.
        reserved = self.reserved_concurrency.inference
        burst = self.throttle_burst + self.feedback_throttle_burst
        if reserved is not None and burst > reserved:
            raise ValueError(
                f"throttle_burst {self.throttle_burst} + feedback_throttle_burst "
                f"{self.feedback_throttle_burst} exceeds reserved_concurrency.inference "
                f"{reserved}: raise the reservation or lower the bursts"
            )
        return self


# Environments held to production's rules (a shared account fails the synth, not only warns).
PRODUCTION_ENVIRONMENTS = frozenset({"prod", "production"})


class ProjectConfig(_Strict):
    project: str = Field(pattern=_NAME)
    model: Model
    dataset: Dataset
    training: Training = Training()
    promotion: Promotion = Promotion()
    monitoring: Monitoring = Monitoring()
    retraining: Retraining = Retraining()
    capture: Capture = Capture()
    serving: Serving = Serving()
    use_case: UseCase = UseCase()
    value: Value = Value()
    environments: dict[str, Environment] = Field(min_length=1)

    @field_validator("environments")
    @classmethod
    def _environment_names(cls, value: dict[str, Environment]) -> dict[str, Environment]:
        bad = [name for name in value if not re.fullmatch(r"[a-z][a-z0-9]{0,15}", name)]
        if bad:
            raise ValueError(f"environment names must be short lowercase words, got {bad}")
        return value

    @property
    def primary_metric(self) -> str:
        """The gate's metric: configured, else the task's usual one."""
        if self.promotion.metric:
            return self.promotion.metric
        return "accuracy" if self.dataset.task == "classification" else "rmse"

    @model_validator(mode="after")
    def _metrics_fit_task(self) -> ProjectConfig:
        regression = {"rmse", "mae", "r2"}
        for metric in [self.promotion.metric, *self.promotion.guards]:
            if metric and (metric in regression) != (self.dataset.task == "regression"):
                raise ValueError(f"promotion metric '{metric}' does not fit task '{self.dataset.task}'")
        metric = self.monitoring.performance.metric
        if metric and (metric in regression) != (self.dataset.task == "regression"):
            raise ValueError(f"monitoring.performance.metric '{metric}' does not fit task '{self.dataset.task}'")
        metric = self.value.metric
        if metric and (metric in regression) != (self.dataset.task == "regression"):
            raise ValueError(f"value.metric '{metric}' does not fit task '{self.dataset.task}'")
        bounded = {"accuracy", "f1", "roc_auc"}
        minimum = self.value.minimum
        if minimum is not None and self.value_metric in bounded and not 0 <= minimum <= 1:
            raise ValueError(f"value.minimum {minimum} is outside [0, 1], the range of {self.value_metric}")
        if minimum is not None and self.value_metric in _MINIMIZE and minimum < 0:
            raise ValueError(f"value.minimum {minimum} is negative; {self.value_metric} never is")
        return self

    @model_validator(mode="after")
    def _drift_tests_fit_features(self) -> ProjectConfig:
        kinds = {f.name: f.type for f in self.dataset.features}
        for name, test in self.monitoring.tests.items():
            if name not in kinds:
                raise ValueError(f"monitoring.tests.{name}: not a feature in dataset.features")
            if test in NUMERIC_ONLY_TESTS and kinds[name] != "numeric":
                raise ValueError(
                    f"monitoring.tests.{name}: {test} applies to numeric features only, '{name}' is {kinds[name]}"
                )
        test = self.monitoring.prediction_test
        if test in NUMERIC_ONLY_TESTS and self.dataset.task == "classification":
            raise ValueError(
                f"monitoring.prediction_test: {test} applies to numeric predictions only, "
                "and classification predicts labels"
            )
        return self

    @property
    def performance_metric(self) -> str:
        """The metric the performance check judges the serving model by: configured, else the gate's."""
        return self.monitoring.performance.metric or self.primary_metric

    @property
    def value_metric(self) -> str:
        """The metric the feasibility check judges value by: configured, else the gate's."""
        return self.value.metric or self.primary_metric

    def to_json(self) -> str:
        """The canonical JSON form deployed functions read (stable key order)."""
        return json.dumps(self.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))

    @property
    def digest(self) -> str:
        """A short content hash: changes whenever the validated config changes."""
        return hashlib.sha256(self.to_json().encode()).hexdigest()[:12]


def parse_config(document: dict, source: str = "config") -> ProjectConfig:
    """Validate a config mapping; raise :class:`ConfigError` naming each bad field."""
    try:
        return ProjectConfig.model_validate(document)
    except ValidationError as exc:
        problems = [f"{'.'.join(str(p) for p in err['loc']) or '(top level)'}: {err['msg']}" for err in exc.errors()]
        raise ConfigError(f"{source} is invalid:\n  " + "\n  ".join(problems), details=problems) from exc


def load_config(path: str | Path) -> ProjectConfig:
    """Read and validate a YAML (or JSON) project config file."""
    path = Path(path)
    try:
        document = yaml.safe_load(path.read_text())
    except FileNotFoundError as exc:
        raise ConfigError(f"config file not found: {path}") from exc
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path} is not valid YAML: {exc}") from exc
    if not isinstance(document, dict):
        raise ConfigError(f"{path} must hold a mapping at the top level")
    return parse_config(document, source=str(path))
