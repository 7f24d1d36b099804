"""Handler-test helpers: a tap on the project bus, data in S3, API calls, a trained champion."""

from __future__ import annotations

from datetime import datetime, timedelta

import pandas as pd
import pytest

from mlrails.adapters import s3
from mlrails.adapters.registry import Registry
from mlrails.config import ProjectConfig
from mlrails.local.cloud import put_objects
from mlrails.local.delivery import deliver_captures
from mlrails.local.synthetic import churn_frame
from mlrails.serving.manifest import Manifest, current_key
from mlrails.settings import Settings
from mlrails.wiring import Prefix, ResourceNames
from support.aws import (
    DAY,
    TRAINING_ROWS,
    BusTap,
    api_call,
    api_event,
    keys,
    put_features,
    records,
    run_training,
)


@pytest.fixture(scope="session", autouse=True)
def _fewer_garbage_collections():
    """Each test builds and drops a whole moto cloud (service models, backends): with the
    default thresholds the collector runs so often that it costs a quarter of this folder's
    runtime. Collect less often; nothing here depends on timely collection."""
    import gc

    thresholds = gc.get_threshold()
    gc.set_threshold(100_000, 50, 100)
    yield
    gc.set_threshold(*thresholds)


@pytest.fixture(autouse=True)
def _fresh_metrics():
    """Powertools keeps metrics and dimensions on the class: start and end every test empty."""
    from aws_lambda_powertools.metrics import Metrics

    metrics = Metrics()
    metrics.clear_metrics()
    metrics.clear_default_dimensions()
    yield
    metrics.clear_metrics()
    metrics.clear_default_dimensions()


@pytest.fixture
def bus(cloud: ResourceNames) -> BusTap:
    """Collects the events that reach the project bus."""
    return BusTap(cloud.bus_name)


@pytest.fixture
def train_handler(handler, mlflow_db: str):
    """The train function, loaded cold, with an initialized tracking store."""
    return handler("train")


# A champion produced once per session by the real train handler and restored into each
# test's (fresh) moto bucket: inference and the drift check read only the manifest and
# the objects it names, never MLflow, so the copy serves exactly like the original.
_CHAMPION_OBJECTS: dict[str, bytes] = {}


@pytest.fixture
def champion(cloud: ResourceNames, cfg: ProjectConfig, mlflow_db: str, handler, lambda_context) -> Manifest:
    """A promoted champion (version 1, placeholder model) trained on ``churn_frame`` rows."""
    bucket = cloud.artifacts_bucket
    if not _CHAMPION_OBJECTS:
        put_features(cloud, cfg, churn_frame(TRAINING_ROWS, DAY - pd.Timedelta(days=1), seed=7))
        state = run_training(handler("train"), lambda_context)
        assert state["finish"]["promoted"], state
        for prefix in (Prefix.MANIFESTS.value, Prefix.MODELS.value):
            for key in keys(bucket, prefix):
                _CHAMPION_OBJECTS[key] = s3.get_bytes(s3.uri(bucket, key))
    else:
        put_objects(bucket, _CHAMPION_OBJECTS)
    return Manifest.from_json(s3.get_bytes(s3.uri(bucket, current_key(cfg.model.name))))


@pytest.fixture
def inference(cloud, handler):
    """The inference function, loaded cold."""
    return handler("inference")


@pytest.fixture
def promotion_env(cloud, cfg, mlflow_db):
    """Features in S3 for a few runs; the settings and the registry the promotion rails use."""
    put_features(cloud, cfg, churn_frame(1500, DAY - timedelta(days=3), seed=21, span=timedelta(days=3)))
    settings = Settings.from_env(needs_tracking=True)
    return settings, Registry.for_settings(settings, cfg.model.name)


@pytest.fixture
def serve(cloud, cfg, handler, lambda_context):
    """Score rows through the real inference function, which captures them as it serves
    (delivered to capture/ as the capture stream's buffer flush would)."""
    inference = handler("inference")

    def serve(frame, at: datetime, *, per_request: int = 100) -> None:
        for n, start in enumerate(range(0, len(frame), per_request)):
            event = api_event(
                "inference_invocations_records",
                at=at + timedelta(minutes=n),
                body={"dataframe_records": records(frame.iloc[start : start + per_request], cfg)},
                request_id=f"{at:%Y%m%d%H%M}-{n:04d}",
            )
            status, body = api_call(inference, event, lambda_context)
            assert status == 200, body
        deliver_captures(cloud)

    return serve
