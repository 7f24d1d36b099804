"""The custom CloudWatch metrics the functions publish, named once.

Handlers publish them with Powertools Metrics (embedded metric format) in
:data:`mlrails.wiring.METRICS_NAMESPACE`; the dashboard and the alarms read them back. A
CloudWatch metric is identified by its namespace, its name and its *exact* set of
dimensions: a widget or alarm that names one dimension too many or too few reads a
different, empty metric. So this module also says which dimensions each metric carries:

- ``service``: Powertools adds it to every metric it flushes, valued from
  ``POWERTOOLS_SERVICE_NAME`` (each function's :attr:`~mlrails.wiring.FunctionSpec.service_name`,
  set by :func:`mlrails.wiring.function_environment`), unless the handler set one itself
  (aws_lambda_powertools 3.x, ``AmazonCloudWatchEMFProvider.serialize_metric_set``).
- ``model``: the model's name, added by the handlers whose publisher is ``per_model`` below
  (``metrics.add_dimension(name=MODEL_DIMENSION, value=cfg.model.name)``).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from mlrails import wiring

SERVICE_DIMENSION = "service"
MODEL_DIMENSION = "model"


class MetricName(StrEnum):
    """Every custom metric name. Names marked "per item" are prefixes: the metric is
    ``<prefix>.<item>`` (see :func:`per_item`)."""

    # drift_check
    DRIFTED_FEATURE_SHARE = "DriftedFeatureShare"
    DRIFT_WINDOW_ROWS = "DriftWindowRows"
    DRIFT_DETECTED = "DriftDetected"  # 1 when a DriftDetected event is published
    DRIFT_SCORE = "DriftScore"  # per item: a feature's deciding drift measure
    PSI = "PSI"  # per item: a feature's PSI
    # performance_check
    MODEL_QUALITY = "ModelQuality"  # the promotion gate's metric on labelled captures
    QUALITY_METRIC = "Metric"  # per item: every scored metric by name
    BUSINESS_KPI = "BusinessKPI"
    LABELLED_ROWS = "LabelledRows"
    LABEL_COVERAGE = "LabelCoverage"
    PERFORMANCE_DEGRADED = "PerformanceDegraded"  # 1 when a PerformanceDegraded event is published
    # retrain_trigger
    RETRAIN_REQUESTED = "RetrainRequested"
    RETRAIN_DECLINED = "RetrainDeclined"
    # train, finish step. Counted where the gate decides, like every other metric here, rather
    # than from EventBridge rule metrics (AWS/Events MatchedEvents), which would take a rule per
    # event type that exists only to be counted.
    MODEL_PROMOTED = "ModelPromoted"
    MODEL_REJECTED = "ModelRejected"
    # train, `release apply`: 1 when a lock is refused (a file whose sha256 differs from the
    # lock's, or a signature this environment's config does not accept).
    RELEASE_REFUSED = "ReleaseRefused"
    # inference
    PREDICTED_ROWS = "PredictedRows"
    CAPTURE_FAILURES = "CaptureFailures"
    FEEDBACK_LABELS = "FeedbackLabels"
    FEEDBACK_REFUSED = "FeedbackRefused"  # items refused: an id not issued here, a label outside the domain
    # feature_prep
    FEATURE_ROWS = "FeatureRows"
    FILES_QUARANTINED = "FilesQuarantined"
    FILES_GONE = "FilesGone"
    # event_relay
    EVENTS_RELAYED = "EventsRelayed"
    OUTBOX_MALFORMED = "OutboxMalformed"  # outbox objects kept unpublished (each logged with its reason)


@dataclass(frozen=True)
class Publisher:
    """The function that publishes ``metrics``, and whether it adds the ``model`` dimension."""

    function: str
    metrics: tuple[MetricName, ...]
    per_model: bool


PUBLISHERS: tuple[Publisher, ...] = (
    Publisher(
        "drift_check",
        (
            MetricName.DRIFTED_FEATURE_SHARE,
            MetricName.DRIFT_WINDOW_ROWS,
            MetricName.DRIFT_DETECTED,
            MetricName.DRIFT_SCORE,
            MetricName.PSI,
        ),
        per_model=True,
    ),
    Publisher(
        "performance_check",
        (
            MetricName.MODEL_QUALITY,
            MetricName.QUALITY_METRIC,
            MetricName.BUSINESS_KPI,
            MetricName.LABELLED_ROWS,
            MetricName.LABEL_COVERAGE,
            MetricName.PERFORMANCE_DEGRADED,
        ),
        per_model=True,
    ),
    Publisher("retrain_trigger", (MetricName.RETRAIN_REQUESTED, MetricName.RETRAIN_DECLINED), per_model=False),
    Publisher(
        "train", (MetricName.MODEL_PROMOTED, MetricName.MODEL_REJECTED, MetricName.RELEASE_REFUSED), per_model=False
    ),
    Publisher(
        "inference",
        (
            MetricName.PREDICTED_ROWS,
            MetricName.CAPTURE_FAILURES,
            MetricName.FEEDBACK_LABELS,
            MetricName.FEEDBACK_REFUSED,
        ),
        per_model=False,
    ),
    Publisher(
        "feature_prep", (MetricName.FEATURE_ROWS, MetricName.FILES_QUARANTINED, MetricName.FILES_GONE), per_model=False
    ),
    Publisher("event_relay", (MetricName.EVENTS_RELAYED, MetricName.OUTBOX_MALFORMED), per_model=False),
)


def per_item(prefix: MetricName, item: str) -> str:
    """The name of a per-item metric, e.g. ``PSI.age``."""
    return f"{prefix.value}.{item}"


def publisher(metric: MetricName) -> Publisher:
    """The publisher of ``metric``."""
    return next(p for p in PUBLISHERS if metric in p.metrics)


def dimensions(metric: MetricName, model_name: str) -> dict[str, str]:
    """The exact dimensions ``metric`` is published with for the model ``model_name``."""
    source = publisher(metric)
    published = {SERVICE_DIMENSION: wiring.function(source.function).service_name}
    if source.per_model:
        published[MODEL_DIMENSION] = model_name
    return published
