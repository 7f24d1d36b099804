"""The functions' custom metrics as CloudWatch metric objects, for the dashboard and the alarms.

Names and dimensions come from :mod:`mlrails.metric_names`, the catalogue the handlers publish
through: a metric read with a dimension more or less than it was published with is another,
empty metric (a widget that shows nothing, an alarm that never fires).
"""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_cloudwatch as cloudwatch

from mlrails import metric_names, wiring
from mlrails.metric_names import MetricName


def custom_metric(
    name: MetricName, model_name: str, *, statistic: str, period: Duration, label: str | None = None
) -> cloudwatch.Metric:
    """``name`` in the project's namespace, with exactly the dimensions it is published with."""
    return cloudwatch.Metric(
        namespace=wiring.METRICS_NAMESPACE,
        metric_name=name.value,
        dimensions_map=metric_names.dimensions(name, model_name),
        statistic=statistic,
        period=period,
        label=label,
    )
