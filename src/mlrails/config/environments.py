"""Deployment environments: where each stage deploys, how its API is reached and throttled,
the concurrency it reserves, its alarms, and the risks it takes on purpose."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, model_validator

from mlrails.config.base import Origin, Section


class AlarmThresholds(Section):
    """Operational alarm thresholds (infra/constructs/alarms.py), per environment."""

    # Share of the API's requests answered with a 5xx in a 5-minute window.
    api_5xx_rate: float = Field(default=0.01, gt=0, le=1)
    # API Gateway's p99 Latency (request received to response sent), in milliseconds.
    api_p99_ms: float = Field(default=1000, gt=0)


# Lambda's default concurrency quota per account and region. A reservation above it cannot deploy
# there; a raised quota is rare enough for this kit that the bound catches typos (a 10000).
LAMBDA_DEFAULT_CONCURRENCY = 1000
Reservation = Annotated[int, Field(ge=1, le=LAMBDA_DEFAULT_CONCURRENCY)] | None


class ReservedConcurrency(Section):
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
    # The drift fan-out's shards at once (monitoring.fanout_max_concurrency, 10 by default: each
    # an invocation of this function), plus its daily schedule and a retry overlapping a slow run
    # (checked: at least the fan-out's concurrency + 2).
    drift_check: Reservation = 12
    # A daily schedule; the second execution is a retry that overlaps a slow first one.
    performance_check: Reservation = 2
    retrain_trigger: Reservation = 2
    # One training run at a time (the retrain lease), plus the state machine's retry of a step
    # still running and an operator command (`mlrails promote | rollback | models`).
    train: Reservation = 3
    # The MLflow switch: a training run's holds and release, operators' commands, the idle sweep.
    tracking_switch: Reservation = 3
    # A few events per training run or operator command, one invocation each.
    event_relay: Reservation = 2
    # Batch jobs: a plan, up to batch.max_concurrency shards at once, a summary. Unreserved by
    # default: the Map's MaxConcurrency bounds it, and a reservation as large would sit idle.
    batch: Reservation = None

    def total(self) -> int:
        """Every reservation of the environment together."""
        return sum(value for value in self.model_dump().values() if value is not None)


class Acknowledgements(Section):
    """Risks an environment takes on purpose, each given as its reason (a reason, not a yes: it
    stays in the config for review); without it the synth fails (infra/app_builder.py)."""

    # Another environment deploys to the same account (`account` unset on both: the CLI's
    # default account): they share its quotas, and a production one its blast radius.
    shared_account: str | None = Field(default=None, min_length=20)
    # No alarm_email: the alarms publish to a topic nobody subscribes to.
    no_alarm_email: str | None = Field(default=None, min_length=20)


# Where an environment's champion comes from: `train` retrains, gates and promotes on its own;
# `release` serves only what the model lock in git names (mlrails.promotion.lock), and its own
# retrains, if any, register challengers for a person to propose. Unset: release for the
# environments named like a staging or production one, train for the others.
ModelSource = Literal["train", "release"]
RELEASE_ENVIRONMENTS = frozenset({"staging", "stage", "preprod", "prod", "production"})


class Environment(Section):
    models: ModelSource | None = None
    account: str | None = Field(default=None, pattern=r"^\d{12}$")
    region: str | None = Field(default=None, pattern=r"^[a-z]{2}(-[a-z]+)+-\d$")
    inference_memory_mb: int = Field(default=1024, ge=128, le=10240)
    # Lambda SnapStart for the inference function (zip packages): a cold start restores a
    # snapshot instead of importing the model stack, for the snapshot cache's price (about
    # $3.95 a month per GB of memory, idle or not) and a version that goes Inactive after 14
    # quiet days (docs/api.md). Off: the idle environment costs less than $10 a month.
    snapstart: bool = False
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
