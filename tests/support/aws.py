"""Helpers for the moto tier (tests/aws): a tap on the project bus, data in S3, API calls,
training runs step by step, sample events with changes."""

from __future__ import annotations

import base64
import copy
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd
import pytest

from mlrails.adapters import deployed, s3
from mlrails.adapters.clients import client
from mlrails.config import ProjectConfig
from mlrails.data import dataset
from mlrails.feedback.intake import feedback_key, feedback_lines
from mlrails.local.cloud import deploy_config
from mlrails.local.synthetic import churn_frame
from mlrails.wiring import EVENT_SOURCE, TRAINING, Prefix, ResourceNames, config_key
from support.samples import load_event

# The day the sample events describe: raw files land in the morning of 2026-03-02, the
# drift check runs at midnight after, the retraining cadence a week later.
DAY = datetime(2026, 3, 2, tzinfo=UTC)


# The credential the sample feedback event carries, as the function records it.
FEEDBACK_KEY = f"api_key:{load_event('inference_feedback')['requestContext']['identity']['apiKeyId']}"


class BusTap:
    """An SQS queue behind a rule on the project bus that matches every event the kit emits
    (moto does the matching, as EventBridge would)."""

    def __init__(self, bus_name: str) -> None:
        sqs, events = client("sqs"), client("events")
        self.url = sqs.create_queue(QueueName="bus-tap")["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=self.url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        events.put_rule(
            Name="bus-tap", EventBusName=bus_name, State="ENABLED", EventPattern=json.dumps({"source": [EVENT_SOURCE]})
        )
        events.put_targets(Rule="bus-tap", EventBusName=bus_name, Targets=[{"Id": "tap", "Arn": arn}])
        self.seen: list[dict[str, Any]] = []

    def drain(self) -> list[dict[str, Any]]:
        """Every event delivered since the last drain (also kept in :attr:`seen`)."""
        sqs, fresh = client("sqs"), []
        while messages := sqs.receive_message(QueueUrl=self.url, MaxNumberOfMessages=10).get("Messages", []):
            for message in messages:
                fresh.append(json.loads(message["Body"]))
                sqs.delete_message(QueueUrl=self.url, ReceiptHandle=message["ReceiptHandle"])
        self.seen.extend(fresh)
        return fresh

    def of(self, detail_type: str) -> list[dict[str, Any]]:
        """Events of one detail type seen so far (drains first)."""
        self.drain()
        return [e for e in self.seen if e["detail-type"] == detail_type]


def upload(event: dict[str, Any], body: bytes) -> dict[str, Any]:
    """Put the object an S3 ``Object Created`` event describes, and stamp the event with the
    version id S3 gave it (as S3 itself would)."""
    s3_object = event["detail"]["object"]
    written = client("s3").put_object(Bucket=event["detail"]["bucket"]["name"], Key=s3_object["key"], Body=body)
    s3_object["version-id"] = written["VersionId"]
    return event


def keys(bucket: str, prefix: str) -> list[str]:
    """Every key under ``prefix``."""
    return list(s3.list_keys(bucket, prefix))


def put_features(
    names: ResourceNames, cfg: ProjectConfig, frame: pd.DataFrame, name: str = "2026/03/02/crm-export"
) -> str:
    """Validated feature rows under features/, as feature_prep writes them (in the partition
    of their newest row's day); returns the key."""
    features = dataset.prepare_features(frame, cfg.dataset)
    key = dataset.features_key(f"{Prefix.RAW.value}{name}", dataset.newest_day(features, cfg.dataset))
    s3.put_bytes(s3.uri(names.data_bucket, key), dataset.to_parquet(features), "application/vnd.apache.parquet")
    return key


def api_call(module, event: dict[str, Any], context) -> tuple[int, Any]:
    """Invoke the inference handler with an API Gateway event; (status, parsed JSON body)."""
    response = module.lambda_handler(event, context)
    body = response.get("body") or "null"
    if response.get("isBase64Encoded"):
        body = base64.b64decode(body).decode()
    # Powertools answers REST (v1) events with multiValueHeaders.
    assert response["multiValueHeaders"]["Content-Type"] == ["application/json"]
    return response["statusCode"], json.loads(body)


def api_event(
    name: str,
    *,
    body: Any = None,
    content_type: str | None = None,
    at: datetime | None = None,
    request_id: str | None = None,
) -> dict[str, Any]:
    """A sample API event, optionally with another body (dicts become JSON), Content-Type,
    request time or request id."""
    event = load_event(name)
    if body is not None:
        event["body"] = body if isinstance(body, str) else json.dumps(body)
    if content_type is not None:
        event["headers"]["Content-Type"] = content_type
        event["multiValueHeaders"]["Content-Type"] = [content_type]
    if at is not None:
        event["requestContext"]["requestTimeEpoch"] = int(at.timestamp() * 1000)
    if request_id is not None:
        event["requestContext"]["requestId"] = request_id
    return event


def records(frame: pd.DataFrame, cfg: ProjectConfig) -> list[dict[str, Any]]:
    """A frame's feature columns as ``dataframe_records`` rows (JSON-native values)."""
    return json.loads(frame[cfg.dataset.feature_names].to_json(orient="records"))


def put_traffic(
    cloud: ResourceNames,
    cfg: ProjectConfig,
    *,
    rows: int,
    correct: float,
    at: datetime,
    version: str = "1",
    seed: int = 0,
    probabilities: bool = False,
    labelled_at: datetime | None = None,
    labelled_by: str | None = FEEDBACK_KEY,
) -> list[str]:
    """Captured predictions made at ``at`` (the capture line format) with labels fed back for
    them at ``labelled_at`` (default: three days later, past the label delay, so they count),
    a share ``correct`` of them right; returns the prediction ids. The labels record
    ``labelled_by`` as their credential; None writes them as labels were stored before
    feedback had its own credential (no such field)."""
    labelled_at = labelled_at or at + timedelta(days=3)
    rng = np.random.default_rng(seed)
    frame = churn_frame(rows, at, seed=seed, with_target=False)
    labels = rng.integers(0, 2, rows)
    right = rng.random(rows) < correct
    predicted = np.where(right, labels, 1 - labels)
    ids = [f"{version}-{seed}-{i:05d}" for i in range(rows)]
    lines = []
    for i, (record, prediction) in enumerate(
        zip(json.loads(frame[cfg.dataset.feature_names].to_json(orient="records")), predicted)
    ):
        record.update(
            prediction_id=ids[i],
            prediction=int(prediction),
            timestamp=at.isoformat(),
            model_name=cfg.model.name,
            model_version=version,
        )
        if probabilities:
            p = float(np.clip(0.5 + (0.3 if prediction == 1 else -0.3) + rng.normal(0, 0.15), 0, 1))
            record["probabilities"] = {"0": 1 - p, "1": p}
        lines.append(json.dumps(record))
    s3.put_bytes(
        s3.uri(cloud.data_bucket, f"capture/date={at:%Y-%m-%d}/hour={at:%H}/{version}-{seed}.jsonl"),
        ("\n".join(lines) + "\n").encode(),
    )
    items = [{"prediction_id": pid, "label": int(label)} for pid, label in zip(ids, labels)]
    lines = (
        feedback_lines(items, labelled_at, labelled_by)
        if labelled_by is not None
        else "".join(json.dumps({**item, "received_at": labelled_at.isoformat()}) + "\n" for item in items).encode()
    )
    s3.put_bytes(s3.uri(cloud.data_bucket, feedback_key(labelled_at, f"fb-{version}-{seed}")), lines)
    return ids


TRAINING_ROWS = 600


def redeploy(cloud: ResourceNames, cfg: ProjectConfig, monkeypatch: pytest.MonkeyPatch) -> None:
    """Deploy ``cfg`` and point the functions at it, as a redeploy would: fresh containers,
    which read their settings again."""
    deploy_config(cfg, cloud)
    monkeypatch.setenv("MLRAILS_CONFIG_URI", s3.uri(cloud.artifacts_bucket, config_key(cfg)))
    deployed.reset()


def run_training(train, context, first: dict[str, Any] | None = None) -> dict[str, Any]:
    """Invoke the train function once per step, as the training state machine does (each
    result joins the state under its step's name); returns the final state."""
    state = copy.deepcopy((first or load_event("train_step_train"))["state"])
    for step in TRAINING.steps:
        state[step] = train.lambda_handler({"step": step, "state": state}, context)
    return state


def training_request(**changes: Any) -> dict[str, Any]:
    """The sample first-step event with some request fields (or ``time``) changed."""
    event = copy.deepcopy(load_event("train_step_train"))
    for key, value in changes.items():
        if key == "time":
            event["state"]["time"] = value
        else:
            event["state"]["request"][key] = value
    return event


def with_detail(name: str, **changes: Any) -> dict[str, Any]:
    """A sample EventBridge event with some fields changed (``detail__rows=...`` for detail)."""
    event = copy.deepcopy(load_event(name))
    for key, value in changes.items():
        if key.startswith("detail__"):
            event["detail"][key.removeprefix("detail__")] = value
        else:
            event[key] = value
    return event
