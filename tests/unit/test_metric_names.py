"""The metric catalogue: one publisher per metric, and the dimensions it declares are the ones
Powertools really publishes with the environment the functions are deployed with."""

import json

import pytest
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.metrics.provider.cloudwatch_emf.cloudwatch import AmazonCloudWatchEMFProvider

from mlrails import metric_names, wiring
from mlrails.config import ProjectConfig
from mlrails.local.cloud import local_names
from mlrails.metric_names import MODEL_DIMENSION, PUBLISHERS, MetricName, dimensions, per_item


def test_every_metric_has_exactly_one_publisher():
    published = [metric for p in PUBLISHERS for metric in p.metrics]
    assert sorted(published) == sorted(MetricName)


def test_per_item_names_join_prefix_and_item():
    assert per_item(MetricName.PSI, "age") == "PSI.age"


def _emitted(cfg: ProjectConfig, monkeypatch: pytest.MonkeyPatch, metric: MetricName) -> dict:
    """What a handler publishing ``metric`` writes to its log: its function's deployed
    environment, a fresh provider (Metrics() shares state between instances), the model
    dimension where the catalogue says the handler adds it."""
    source = metric_names.publisher(metric)
    environment = wiring.function_environment(cfg, "dev", local_names(cfg), wiring.function(source.function))
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    provider = AmazonCloudWatchEMFProvider()
    if source.per_model:
        provider.add_dimension(name=MODEL_DIMENSION, value=cfg.model.name)
    provider.add_metric(name=metric, unit=MetricUnit.Count, value=1)
    return json.loads(json.dumps(provider.serialize_metric_set()))


@pytest.mark.parametrize(
    "metric",
    [
        MetricName.DRIFTED_FEATURE_SHARE,
        MetricName.RETRAIN_REQUESTED,
        MetricName.MODEL_PROMOTED,
        MetricName.PREDICTED_ROWS,
    ],
)
def test_declared_dimensions_are_exactly_what_powertools_publishes(cfg, monkeypatch, metric):
    emf = _emitted(cfg, monkeypatch, metric)
    [directive] = emf["_aws"]["CloudWatchMetrics"]
    assert directive["Namespace"] == wiring.METRICS_NAMESPACE
    assert [m["Name"] for m in directive["Metrics"]] == [metric.value]
    [dimension_names] = directive["Dimensions"]
    published = {name: emf[name] for name in dimension_names}
    assert published == dimensions(metric, cfg.model.name)
