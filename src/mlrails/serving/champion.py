"""Serving: the champion cache and predictions on validated batches.

The cache loads the champion named by the deployment manifest and, at most every
``ttl_seconds``, re-checks the manifest's ETag (one HEAD request); a new champion is loaded
beside the old one and swapped in whole, so no request ever sees half of a swap. If S3 cannot
be reached or the new champion cannot be loaded (a file that is not the one its manifest
recorded, a type outside its recorded trust list), the loaded champion keeps serving.

A champion is served by its compiled ONNX graph when promotion verified one
(:mod:`mlrails.serving.compiled`) and the function's package ships onnxruntime, else by its
scikit-learn model (:mod:`mlrails.serving.predictors`).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from mlrails.adapters import manifests
from mlrails.errors import MlrailsError, ModelNotReady
from mlrails.serving.manifest import Manifest
from mlrails.serving.predictors import OnnxPredictor, Predictor, ServingPath, SkopsPredictor
from mlrails.serving.protocol import Batch, Column

if TYPE_CHECKING:
    from mlrails.settings import Settings

# The paths each inference package (config ``serving.package``) can serve, preferred first:
# ``onnx`` ships onnxruntime + numpy only, ``full`` scikit-learn + skops (no room for
# onnxruntime under Lambda's 250 MB), the container image both.
PACKAGE_PATHS: dict[str, tuple[ServingPath, ...]] = {
    "onnx": ("onnx",),
    "full": ("skops",),
    "image": ("onnx", "skops"),
}


class PackageCannotServe(MlrailsError):
    """The champion needs a serving path the deployed inference package does not ship."""

    status = 503
    error_code = "PACKAGE_CANNOT_SERVE"


@dataclass(frozen=True)
class Champion:
    manifest: Manifest
    predictor: Predictor
    etag: str

    @property
    def signature(self) -> list[Column]:
        """The input columns the model expects."""
        return self.manifest.signature

    @property
    def path(self) -> ServingPath:
        """How this champion is served: ``onnx`` or ``skops``."""
        return self.predictor.path


def serving_path(manifest: Manifest, package: str) -> ServingPath:
    """The path that serves ``manifest`` in ``package``; raises :class:`PackageCannotServe`."""
    offered = ("onnx", "skops") if manifest.serving == "onnx" else ("skops",)
    for path in PACKAGE_PATHS[package]:
        if path in offered:
            return path
    raise PackageCannotServe(
        f"{manifest.model_name} v{manifest.version} is served by scikit-learn "
        f"({manifest.serving_reason or 'not compiled'}), "
        f"but this function is deployed with serving.package '{package}', which serves compiled (ONNX) champions "
        "only: deploy serving.package 'full' or 'image' to serve it",
        details={"model_version": manifest.version, "serving": manifest.serving, "package": package},
    )


class ChampionCache:
    """The serving model, refreshed from the manifest at most every ``ttl_seconds``."""

    def __init__(
        self,
        bucket: str,
        model_name: str,
        ttl_seconds: float,
        package: str,
        clock: Callable[[], float] = time.monotonic,
        pin: str | None = None,
    ) -> None:
        self.bucket, self.model_name, self.ttl, self.clock = bucket, model_name, ttl_seconds, clock
        self.package = package
        # In a `models: release` environment, the digest of the lock this function version was
        # deployed with: while a newer lock is rolled out (a canary between function versions)
        # each version serves its own lock's model.
        self.pin = pin
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
        try:
            etag = manifests.current_etag(self.bucket, self.model_name)
            # No model yet (etag None): a 503 until one is promoted.
            if etag is not None and (self._champion is None or etag != self._champion.etag):
                self._champion = self._load()
        except (MlrailsError, ValueError) as exc:  # S3 down (StorageError), a refused file, a bad manifest
            self._keep_serving(exc)
        self._checked_at = self.clock()

    def _load(self) -> Champion:
        manifest, etag = manifests.read_current_tagged(self.bucket, self.model_name)
        if self.pin is not None and manifest.lock_sha256 not in (None, self.pin):
            # The current manifest is another lock's (a newer one, being rolled out; or an
            # older one, after a rollback of the deployment): serve ours while it was applied
            # here. A current manifest of no lock is a person's emergency promotion or
            # rollback, which every version serves.
            manifest = manifests.read_for_lock(self.bucket, self.model_name, self.pin) or manifest
        path = serving_path(manifest, self.package)
        # The recorded version of the file, checked against its recorded sha256.
        blob = manifests.read_file(manifest, manifest.onnx_uri if path == "onnx" else manifest.artifact_uri)
        if path == "onnx":
            predictor: Predictor = OnnxPredictor(blob, manifest.signature, manifest.classes)
        else:
            predictor = SkopsPredictor(blob, manifest.signature, manifest.trusted_types)
        return Champion(manifest, predictor, etag)

    def _keep_serving(self, error: Exception) -> None:
        """A champion that cannot be (re)loaded must not take the endpoint down: keep the
        loaded one and retry after the TTL. With nothing loaded, the error is the answer."""
        if self._champion is None:
            raise error
        self.reload_failures += 1
        self._checked_at = self.clock()


def cache_for(settings: Settings, model_name: str, package: str, *, ttl_seconds: float | None = None) -> ChampionCache:
    """The champion cache of a function deployed with ``settings``: its bucket and release
    lock, the config's ``model.name`` and ``serving.package``; re-checked every ``ttl_seconds``
    (default: the settings' manifest TTL)."""
    return ChampionCache(
        settings.artifacts_bucket,
        model_name,
        settings.manifest_ttl_seconds if ttl_seconds is None else ttl_seconds,
        package,
        pin=settings.release_lock,
    )


def predict(
    champion: Champion, batch: Batch, *, monitored: bool = False
) -> tuple[list[Any], list[dict[str, float]] | None]:
    """Predictions (JSON-native) and, when available and the request asks for them or
    ``monitored`` (the performance check judges a metric of probabilities, so every capture
    must carry them), class probabilities."""
    return champion.predictor.predict(replace(batch, return_probabilities=True) if monitored else batch)
