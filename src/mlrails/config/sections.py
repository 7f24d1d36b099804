"""The project's config sections: the dataset, the model, training, promotion, monitoring,
retraining, capture, serving, the use case and its value."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import Field, field_validator, model_validator

from mlrails.config.base import Schedule, Section


class Feature(Section):
    name: str = Field(min_length=1)
    type: Literal["numeric", "categorical"]
    nullable: bool = False


# The column that holds each row's arrival time when the data has no time of its own.
ARRIVED_AT = "arrived_at"
# How timestamps are written: ISO 8601 (also "2026-03-01" and "2026-03-01 12:00:00"), Unix
# epoch seconds or milliseconds, or a strftime pattern such as "%d/%m/%Y %H:%M" (read as UTC).
TimestampFormat = Annotated[str, Field(pattern=r"^(iso8601|epoch_seconds|epoch_millis|.*%.*)$")]


def _check_pattern(pattern: str) -> None:
    """A strftime pattern that reads back a time it writes (pandas reads the data with the same
    directives as ``strptime``)."""
    sample = datetime(2026, 3, 1, 12, 30, 45)
    try:
        datetime.strptime(sample.strftime(pattern), pattern)
    except ValueError as exc:
        raise ValueError(f"timestamp_format {pattern!r} does not read back the times it writes: {exc}") from exc


class Dataset(Section):
    task: Literal["classification", "regression"]
    target: str = Field(min_length=1)
    # None: the data has no time of its own; each file's rows take its arrival time (the raw
    # object's S3 event time) in an `arrived_at` column. What that costs: see the docs.
    timestamp: str | None = Field(default=None, min_length=1)
    timestamp_format: TimestampFormat = "iso8601"
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
        for special in (self.target, self.time_column):
            if special in names:
                raise ValueError(f"'{special}' is the target or timestamp and cannot also be a feature")
        if self.timestamp is None and self.timestamp_format != "iso8601":
            raise ValueError("timestamp_format needs a timestamp column (dataset.timestamp)")
        if "%" in self.timestamp_format:
            _check_pattern(self.timestamp_format)
        return self

    @property
    def time_column(self) -> str:
        """The column that orders rows in time: the data's timestamp, else their arrival time."""
        return self.timestamp or ARRIVED_AT

    @property
    def feature_names(self) -> list[str]:
        return [f.name for f in self.features]

    def features_of_type(self, kind: str) -> list[str]:
        return [f.name for f in self.features if f.type == kind]


class Model(Section):
    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$")
    # module:function returning an unfitted scikit-learn estimator or Pipeline.
    entrypoint: str = Field(default="mlrails.models:placeholder", pattern=r"^[\w.]+:\w+$")


# The memory sizes (MiB) a Linux Fargate task may have with each CPU size (vCPU units), as
# the Amazon ECS Developer Guide's "Task CPU and memory" table lists them (checked 2026-12);
# and the ephemeral storage a task may ask for (GiB; 20 without asking).
FARGATE_SIZES: dict[int, tuple[int, ...]] = {
    256: (512, 1024, 2048),
    512: tuple(range(1024, 4096 + 1, 1024)),
    1024: tuple(range(2048, 8192 + 1, 1024)),
    2048: tuple(range(4096, 16384 + 1, 1024)),
    4096: tuple(range(8192, 30720 + 1, 1024)),
    8192: tuple(range(16384, 61440 + 1, 4096)),
    16384: tuple(range(32768, 122880 + 1, 8192)),
}
FARGATE_STORAGE_GIB = (21, 200)


class FargateTask(Section):
    """The training task's size when training runs on ECS Fargate (``training.compute``)."""

    cpu: int = 4096  # vCPU units: 1024 = one vCPU
    memory_mb: int = 16384
    # Above the 20 GiB every task gets: room for the window's Parquet files and the model.
    ephemeral_storage_gib: int = Field(default=21, ge=FARGATE_STORAGE_GIB[0], le=FARGATE_STORAGE_GIB[1])

    @model_validator(mode="after")
    def _a_size_fargate_offers(self) -> FargateTask:
        if self.cpu not in FARGATE_SIZES:
            raise ValueError(f"cpu: Fargate offers {sorted(FARGATE_SIZES)} vCPU units, not {self.cpu}")
        if self.memory_mb not in FARGATE_SIZES[self.cpu]:
            sizes = FARGATE_SIZES[self.cpu]
            raise ValueError(
                f"memory_mb: with cpu {self.cpu} Fargate offers {sizes[0]} to {sizes[-1]} MiB "
                f"({', '.join(map(str, sizes[:4]))}...), not {self.memory_mb}"
            )
        return self


class Training(Section):
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
    # Where each step of a run executes (mlrails.training.compute): the train function (Lambda:
    # 10 GB, 15 minutes a step), an ECS Fargate task of the same image (`fargate`: the size below),
    # or per run, from the size of the window's features (`auto`).
    compute: Literal["lambda", "fargate", "auto"] = "lambda"
    fargate: FargateTask = Field(default_factory=FargateTask)


MAXIMIZED_METRICS = {"accuracy", "f1", "roc_auc", "r2"}
MINIMIZED_METRICS = {"log_loss", "rmse", "mae"}
# The metrics that need class probabilities, not only the predicted class.
PROBABILITY_METRICS = frozenset({"roc_auc", "log_loss"})


Metric = Literal["accuracy", "f1", "roc_auc", "log_loss", "rmse", "mae", "r2"]


class Promotion(Section):
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
        return "maximize" if metric in MAXIMIZED_METRICS else "minimize"


# The drift measures (see mlrails.drift.measures). Wasserstein and KS need an order: numeric only.
DriftTest = Literal["psi", "jensenshannon", "wasserstein", "ks", "chi2"]
NUMERIC_ONLY_TESTS = frozenset({"wasserstein", "ks"})


class Performance(Section):
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


class EffectSize(Section):
    """The smallest drift a window must be able to detect to get a verdict, in the units of
    the test that gates each measure: ``ks`` (KS distance, the largest CDF gap, in (0, 1))
    for ``wasserstein`` and ``ks``; ``chi2`` (Cohen's w) for ``psi``, ``jensenshannon`` and
    ``chi2``. The defaults: KS 0.2 is a normal feature's mean moving by half a standard
    deviation (2Φ(0.25) − 1), Cohen's w 0.35 lies between Cohen's "medium" 0.3 and "large"
    0.5; at alpha 0.01 and power 0.8 against a 5,000-row reference they give a verdict from
    105 values for a number, 98 to 130 for a category of two to four values."""

    ks: float = Field(default=0.2, gt=0, lt=1)
    chi2: float = Field(default=0.35, gt=0)


class Monitoring(Section):
    schedule: Schedule = "rate(1 day)"
    window_hours: int = Field(default=24, ge=1, le=24 * 31)
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
    # Jensen–Shannon *distance* (the square root of the divergence) with base-2 logarithms, so
    # in [0, 1]: 0.1 is a divergence of 0.01 bit.
    jensenshannon_threshold: float = Field(default=0.1, gt=0, le=1)
    wasserstein_threshold: float = Field(default=0.1, gt=0)  # in reference standard deviations
    ks_threshold: float = Field(default=0.1, gt=0, le=1)
    chi2_threshold: float = Field(default=0.25, gt=0)  # Cohen's w, sqrt(chi2 / effective n)
    # Small windows: the effect must also be significant (p < alpha) by the classic test on
    # the same representation, so sampling noise in a few hundred rows is not an alarm.
    # 1 switches the gate off (effect size alone).
    alpha: float = Field(default=0.01, gt=0, le=1)
    # A window gets a verdict when, for every feature, that test at `alpha` has at least this
    # power to detect `effect_size`; otherwise "insufficient_data", stating the smallest effect
    # the window could detect. This replaces a fixed minimum of rows (min_window_rows).
    min_power: float = Field(default=0.8, gt=0, lt=1)
    effect_size: EffectSize = EffectSize()
    # Data-quality checks, reported beside drift (they do not count as drifted features).
    max_missing_rate_increase: float = Field(default=0.1, gt=0, le=1)  # absolute, vs the reference
    max_unseen_share: float = Field(default=0.05, gt=0, le=1)
    max_out_of_range_share: float = Field(default=0.05, gt=0, le=1)
    # How long ground truth takes to arrive: a prediction is judged (performance check,
    # promotion gate) only once this much time has passed since it was made.
    label_delay_hours: float = Field(default=24, ge=0)
    performance: Performance = Performance()
    # The capture bytes one drift check counts in one pass; a bigger window fans out on a
    # Distributed Map, in shards of at most this many bytes each (mlrails.drift.fanout). Measured
    # here (bench, 2026-12-03): counting reads 41 MB/s of capture JSON lines on one core; the
    # function's 1,024 MB get 0.58 of a vCPU, so ~24 MB/s, and 1,024 MB take ~43 s plus the
    # reads: well within a third of the drift_check function's 300 s timeout.
    single_pass_max_mb: float = Field(default=1024, gt=0)
    # The Distributed Map's MaxConcurrency: shards counted at once.
    fanout_max_concurrency: int = Field(default=10, ge=1, le=1000)

    @model_validator(mode="before")
    @classmethod
    def _min_window_rows_is_gone(cls, data: object) -> object:
        if isinstance(data, dict) and "min_window_rows" in data:
            raise ValueError(
                "min_window_rows is gone: a window now gets a verdict when it has the power "
                "(monitoring.min_power, default 0.8) to detect monitoring.effect_size (ks: KS "
                "distance, default 0.2; chi2: Cohen's w, default 0.35) at monitoring.alpha; "
                "remove min_window_rows (see docs/concepts/monitoring.md)"
            )
        return data

    def test_for(self, name: str, kind: Literal["numeric", "categorical"]) -> str:
        """The measure that decides drift for feature ``name`` of type ``kind``."""
        if name in self.tests:
            return self.tests[name]
        return self.numeric_test if kind == "numeric" else self.categorical_test

    def threshold(self, test: str) -> float:
        """The configured threshold of a drift measure."""
        return getattr(self, f"{test}_threshold")

    @staticmethod
    def gate_for(test: str) -> Literal["ks", "chi2"]:
        """The classic test that gates a drift measure (its p-value, its power)."""
        return "ks" if test in NUMERIC_ONLY_TESTS else "chi2"


class MaxRetrains(Section):
    count: int = Field(ge=1)
    period_hours: float = Field(gt=0)


class Retraining(Section):
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


class Capture(Section):
    sample_rate: float = Field(default=1.0, ge=0, le=1)
    # Sampled records wait in the inference container's memory and go to Firehose in one call
    # when buffer_records are held (500: PutRecordBatch's limit) or the oldest is buffer_seconds
    # old, checked on each request: the call's cost lands on ~1 request in N, not on every one.
    # The price: a container that Lambda reclaims loses what it holds (the sampled records of
    # under buffer_seconds before its last request); at traffic sparser than a container's idle
    # life (minutes) that can be most of them: use 0, which sends with every request.
    buffer_records: int = Field(default=500, ge=1, le=500)
    buffer_seconds: float = Field(default=5.0, ge=0)


class Serving(Section):
    # What the inference function ships (see the README, "Serving paths"). onnx: onnxruntime +
    # numpy, under 100 MB, serves champions that compiled to ONNX at promotion (others get a
    # 503 naming the fix, and a loaded champion keeps serving); full: scikit-learn + skops,
    # serves every champion by scikit-learn; image: a container image with both.
    package: Literal["onnx", "full", "image"] = "full"


class Batch(Section):
    """Batch scoring (``mlrails batch``): how the input's items are grouped into shards and how
    many shards run at once; on AWS the batch state machine's Distributed Map takes these as its
    ItemBatcher, MaxConcurrency and ToleratedFailurePercentage."""

    # Items (a CSV or JSON Lines object, or one Parquet row group) per shard: one function
    # invocation scores a shard, so a shard must fit its memory and fifteen minutes.
    items_per_batch: int = Field(default=4, ge=1, le=1000)
    # Shards scored at once (locally: worker processes, at most one per shard).
    max_concurrency: int = Field(default=4, ge=1, le=10_000)
    # The share of items that may fail (0: any failed shard fails the job) before the job fails;
    # every item of a failed shard counts, as the Distributed Map judges it.
    tolerated_failure_percentage: float = Field(default=0.0, ge=0, le=100)


class UseCase(Section):
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


class Value(Section):
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
