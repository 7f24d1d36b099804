"""The project config as a whole, and reading it from a file or a document."""

from __future__ import annotations

import hashlib
import json
import re
import warnings
from pathlib import Path

import yaml
from pydantic import Field, ValidationError, field_validator, model_validator

from mlrails.config.base import NAME, Section
from mlrails.config.environments import PRODUCTION_ENVIRONMENTS, RELEASE_ENVIRONMENTS, Environment, ModelSource
from mlrails.config.release import Canary, Release
from mlrails.config.sections import (
    MINIMIZED_METRICS,
    NUMERIC_ONLY_TESTS,
    PROBABILITY_METRICS,
    Batch,
    Capture,
    Dataset,
    Model,
    Monitoring,
    Promotion,
    Retraining,
    Serving,
    Training,
    UseCase,
    Value,
)
from mlrails.errors import ConfigError


class ConfigWarning(UserWarning):
    """A config that loads but will not do what its author likely expects."""


class ProjectConfig(Section):
    project: str = Field(pattern=NAME)
    model: Model
    dataset: Dataset
    training: Training = Training()
    promotion: Promotion = Promotion()
    monitoring: Monitoring = Monitoring()
    retraining: Retraining = Retraining()
    capture: Capture = Capture()
    serving: Serving = Serving()
    batch: Batch = Batch()
    use_case: UseCase = UseCase()
    value: Value = Value()
    environments: dict[str, Environment] = Field(min_length=1)
    release: Release | None = None

    @field_validator("environments")
    @classmethod
    def _environment_names(cls, value: dict[str, Environment]) -> dict[str, Environment]:
        bad = [name for name in value if not re.fullmatch(r"[a-z][a-z0-9]{0,15}", name)]
        if bad:
            raise ValueError(f"environment names must be short lowercase words, got {bad}")
        return value

    def models_source(self, environment: str) -> ModelSource:
        """Where ``environment``'s champion comes from (``environments.<env>.models``; unset:
        ``release`` for a staging or production name, else ``train``). An environment the
        config does not name (the local runtime's own, ``local``) trains."""
        configured = self.environments.get(environment)
        if configured is not None and configured.models is not None:
            return configured.models
        return "release" if environment in RELEASE_ENVIRONMENTS and environment in self.environments else "train"

    @property
    def release_stages(self) -> list[str]:
        """The environments the release pipeline deploys, in order."""
        if self.release is None:
            return []
        return list(self.release.stages) if self.release.stages is not None else list(self.environments)

    @property
    def release_approvals(self) -> list[str]:
        """The stages a person approves before the pipeline deploys them."""
        if self.release is None:
            return []
        if self.release.approval_before is not None:
            return list(self.release.approval_before)
        return [name for name in self.release_stages if name in PRODUCTION_ENVIRONMENTS]

    @property
    def release_store(self) -> str | None:
        """The release store's bucket name (None: no ``release:`` section)."""
        if self.release is None:
            return None
        return (
            self.release.store_bucket or f"mlrails-{self.project}-release-{self.release.account}-{self.release.region}"
        )

    @property
    def release_canary(self) -> Canary:
        """How a new inference version reaches the users of a ``models: release`` environment
        (``release.canary``; no ``release:`` section: that field's default)."""
        return self.release.canary if self.release is not None else Release.model_fields["canary"].default

    @model_validator(mode="after")
    def _release_names_environments(self) -> ProjectConfig:
        release = self.release
        if release is None:
            return self
        unknown = [n for n in [*(release.stages or []), *(release.approval_before or [])] if n not in self.environments]
        if unknown:
            raise ValueError(f"release: {unknown} not among the environments {sorted(self.environments)}")
        if release.approval_before and not set(release.approval_before) <= set(self.release_stages):
            raise ValueError("release.approval_before: each must be one of release.stages")
        if release.store_bucket is None and (release.account is None or release.region is None):
            raise ValueError(
                "release.store_bucket: name the release store (bucket names are global), "
                "or set release.account and release.region to derive one"
            )
        return self

    @model_validator(mode="after")
    def _release_reaches_environments(self) -> ProjectConfig:
        # Each environment's stacks name the pipeline's account (who may assume its release role,
        # whose store its train function reads): unknowable from the config when the pipeline
        # deploys to the CLI's default account and the environment to an account of its own.
        # The train function reaches the release store through its VPC's S3 gateway endpoint,
        # which serves buckets of its own region only (no NAT): one region for all.
        release = self.release
        if release is None:
            return self
        for name, environment in self.environments.items():
            if environment.account is not None and release.account is None:
                raise ValueError(
                    f"release.account: environments.{name} deploys to account {environment.account}: "
                    "name the pipeline's account too (its stacks trust it and read its release store)"
                )
            if environment.region is not None and environment.region != release.region:
                raise ValueError(
                    f"environments.{name}.region: the release store is in the pipeline's region "
                    f"(release.region: {release.region or 'unset, the CLI default'}), and the train function "
                    "reaches it through its VPC's S3 gateway endpoint, which serves its own region only: "
                    "deploy every environment to the pipeline's region"
                )
        return self

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
        if minimum is not None and self.value_metric in MINIMIZED_METRICS and minimum < 0:
            raise ValueError(f"value.minimum {minimum} is negative; {self.value_metric} never is")
        return self

    @model_validator(mode="after")
    def _performance_has_a_floor(self) -> ProjectConfig:
        rules = self.monitoring.performance
        if rules.minimum is None and rules.max_drop is None:
            warnings.warn(
                f"monitoring.performance sets neither minimum nor max_drop: the performance check measures "
                f"{self.performance_metric} but never raises PerformanceDegraded (set max_drop, in "
                f"{self.performance_metric}'s units, to alarm on a drop from the champion's holdout score)",
                ConfigWarning,
                stacklevel=2,
            )
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

    @model_validator(mode="after")
    def _drift_fanout_fits_its_function(self) -> ProjectConfig:
        # Each shard of the drift fan-out is an invocation of drift_check: past the function's
        # reservation Lambda throttles the Map's children faster than their retries wait, and a
        # window that fans out fails without a verdict.
        needed = self.monitoring.fanout_max_concurrency + 2
        for name, environment in self.environments.items():
            reserved = environment.reserved_concurrency.drift_check
            if reserved is not None and reserved < needed:
                raise ValueError(
                    f"environments.{name}.reserved_concurrency.drift_check {reserved} is below "
                    f"monitoring.fanout_max_concurrency {self.monitoring.fanout_max_concurrency} + 2 "
                    "(the schedule's check and a retry beside the shards): the drift fan-out's shards would be "
                    "throttled; raise the reservation (or null: unreserved) or lower the fan-out's concurrency"
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

    @property
    def monitoring_needs_probabilities(self) -> bool:
        """Whether every capture must carry class probabilities, asked for or not: the
        performance check (and the KPI it computes) judges a metric of probabilities."""
        return self.dataset.task == "classification" and bool(
            {self.performance_metric, self.value_metric} & PROBABILITY_METRICS
        )

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
