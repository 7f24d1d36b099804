"""Serving: the champion cache and predictions on validated batches.

The cache loads the model named by the deployment manifest and, at most every
``ttl_seconds``, re-checks the manifest's ETag (one HEAD request); a new champion is swapped
in whole, so no request ever sees half of a swap. If S3 cannot be reached, the loaded
champion keeps serving.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from mlrails import artifacts
from mlrails.adapters.clients import client
from mlrails.errors import MlrailsError, ModelNotReady
from mlrails.manifest import Manifest, current_key
from mlrails.protocol import Batch, Column


@dataclass(frozen=True)
class Champion:
    manifest: Manifest
    model: Any
    etag: str

    @property
    def signature(self) -> list[Column]:
        """The input columns the model expects."""
        return [Column(f["name"], f["type"], f.get("nullable", False)) for f in self.manifest.features]


class ChampionCache:
    """The serving model, refreshed from the manifest at most every ``ttl_seconds``."""

    def __init__(self, bucket: str, model_name: str, ttl_seconds: float,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.bucket, self.key, self.ttl, self.clock = bucket, current_key(model_name), ttl_seconds, clock
        self._champion: Champion | None = None
        self._checked_at = float("-inf")
        self.reload_failures = 0
        self._lock = threading.Lock()

    def get(self) -> Champion:
        """The current champion; raises :class:`ModelNotReady` before the first promotion."""
        if self.clock() - self._checked_at >= self.ttl:
            with self._lock:
                if self.clock() - self._checked_at >= self.ttl:
                    self._refresh()
        if self._champion is None:
            raise ModelNotReady("no model has been promoted yet: train one first (see the README)")
        return self._champion

    def _refresh(self) -> None:
        s3 = client("s3")
        try:
            etag = s3.head_object(Bucket=self.bucket, Key=self.key)["ETag"]
            if self._champion is None or etag != self._champion.etag:
                self._champion = self._load()
        except ClientError as exc:
            if exc.response["Error"]["Code"] in ("404", "NoSuchKey"):
                self._checked_at = self.clock()  # no model yet: a 503 until one is promoted
                return
            self._keep_serving(exc)
        except (BotoCoreError, MlrailsError, ValueError) as exc:
            self._keep_serving(exc)
        self._checked_at = self.clock()

    def _load(self) -> Champion:
        s3 = client("s3")
        response = s3.get_object(Bucket=self.bucket, Key=self.key)
        manifest = Manifest.from_json(response["Body"].read())
        bucket, _, key = manifest.artifact_uri.removeprefix("s3://").partition("/")
        blob = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
        return Champion(manifest, artifacts.loads(blob, manifest.trusted_modules), response["ETag"])

    def _keep_serving(self, error: Exception) -> None:
        """A champion that cannot be (re)loaded must not take the endpoint down: keep the
        loaded one and retry after the TTL. With nothing loaded, the error is the answer."""
        if self._champion is None:
            raise error
        self.reload_failures += 1
        self._checked_at = self.clock()


def predict(champion: Champion, batch: Batch) -> tuple[list[Any], list[dict[str, float]] | None]:
    """Predictions (JSON-native) and, when asked for and available, class probabilities."""
    import pandas as pd  # only the scikit-learn path needs pandas; keep module import cheap

    frame = pd.DataFrame(batch.columns, columns=[c.name for c in champion.signature])
    predictions = [_native(p) for p in champion.model.predict(frame)]
    probabilities = None
    if batch.return_probabilities and hasattr(champion.model, "predict_proba"):
        classes = [str(_native(c)) for c in champion.model.classes_]
        probabilities = [dict(zip(classes, map(float, row))) for row in champion.model.predict_proba(frame)]
    return predictions, probabilities


def _native(value: Any) -> Any:
    return value.item() if hasattr(value, "item") else value


def prediction_ids(count: int) -> list[str]:
    """Unique ids that feedback later refers to."""
    return [uuid.uuid4().hex for _ in range(count)]
