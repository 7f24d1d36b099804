"""The deployment manifest: what inference serves, written by promotion.

Inference reads only this small JSON document and the artifact it points to, never MLflow,
so predictions go on from the last champion when MLflow is down. An S3 PUT replaces an
object atomically: a reader sees the old manifest or the new one, never half of one.

The manifest pins what it serves: each file it names has its sha256 and S3 version
recorded when it was written (``files``), and every reader fetches that version and checks
that digest before using a byte (:func:`mlrails.adapters.manifests.read_file`). A file
swapped under an unchanged manifest is refused, not loaded. The model's exact skops types,
recorded at training, are its trust list (:mod:`mlrails.serving.artifacts`).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from typing import Any

from mlrails.errors import TamperedArtifact
from mlrails.serving.protocol import Column
from mlrails.wiring import Prefix

# 2: files (sha256 + S3 version per file) and trusted_types (exact) replace trusted_modules.
MANIFEST_VERSION = 2


@dataclass(frozen=True)
class Manifest:
    model_name: str
    version: str
    run_id: str
    artifact_uri: str
    profile_uri: str
    task: str
    features: list[dict[str, Any]]
    metrics: dict[str, float]  # on the holdout
    promoted_at: str
    trained_at: str
    reason: str
    previous_version: str | None = None
    classes: list[Any] | None = None
    flavor: str = "skops"
    # The exact skops types the model file needs, recorded at training (mlrails.serving.artifacts).
    trusted_types: list[str] = field(default_factory=list)
    # Every file this manifest names, by URI: {"sha256": ..., "version_id": ... or None}.
    files: dict[str, dict[str, str | None]] = field(default_factory=dict)
    manifest_version: int = MANIFEST_VERSION
    # Set at promotion (mlrails.serving.compiled): "onnx" when the graph at onnx_uri was verified
    # against the model on the holdout, else "skops"; serving_reason says which and why.
    serving: str = "skops"
    onnx_uri: str | None = None
    serving_reason: str = ""
    # The bootstrap standard error of each holdout metric (mlrails.training.estimator.standard_errors):
    # how much of a gap between served and holdout scores chance alone explains.
    metric_errors: dict[str, float] = field(default_factory=dict)
    # Set when `mlrails release apply` put this version in place: the digest of the lock it
    # serves (mlrails.promotion.lock). None for a version trained here, and for a person's
    # promotion or rollback in a release environment: an emergency every inference version
    # serves, whatever lock it is pinned to (mlrails.serving.champion).
    lock_sha256: str | None = None

    @property
    def signature(self) -> list[Column]:
        """The input columns the model expects, in feature order."""
        return [Column(f["name"], f["type"], f.get("nullable", False)) for f in self.features]

    def recorded(self, uri: str) -> dict[str, str | None]:
        """The sha256 and S3 version recorded for ``uri``; raises :class:`TamperedArtifact`
        for a file the manifest does not pin."""
        if uri not in self.files:
            raise TamperedArtifact(
                f"{self.model_name} v{self.version}'s manifest records no digest for {uri}: refusing to read it",
                details={"uri": uri},
            )
        return self.files[uri]

    def verify(self, uri: str, body: bytes) -> bytes:
        """``body`` if it is the file recorded for ``uri``; raises :class:`TamperedArtifact`."""
        expected = self.recorded(uri)["sha256"]
        actual = hashlib.sha256(body).hexdigest()
        if actual != expected:
            raise TamperedArtifact(
                f"{uri} is not the file {self.model_name} v{self.version} was recorded with "
                f"(sha256 {actual[:12]}..., recorded {str(expected)[:12]}...): refusing to load it",
                details={"uri": uri, "sha256": actual, "recorded": expected},
            )
        return body

    def to_json(self) -> str:
        """Serialized form stored in S3."""
        return json.dumps(asdict(self), sort_keys=True, indent=1)

    @classmethod
    def from_json(cls, text: str | bytes) -> Manifest:
        """Parse a stored manifest; unknown versions are refused rather than misread."""
        document = json.loads(text)
        if document.get("manifest_version") != MANIFEST_VERSION:
            raise ValueError(
                f"manifest_version {document.get('manifest_version')!r} is not supported "
                f"(this mlrails reads {MANIFEST_VERSION}: retrain to write one)"
            )
        return cls(**document)


def file_record(body: bytes, version_id: str | None) -> dict[str, str | None]:
    """What a manifest records of a file it names (see :meth:`Manifest.verify`)."""
    return {"sha256": hashlib.sha256(body).hexdigest(), "version_id": version_id}


def current_key(model_name: str) -> str:
    """The manifest inference watches."""
    return f"{Prefix.MANIFESTS.value}{model_name}/current.json"


def history_key(model_name: str, version: str) -> str:
    """Every promoted manifest is also kept by version, for audit and rollback."""
    return f"{Prefix.MANIFESTS.value}{model_name}/v{version}.json"


def lock_manifest_key(model_name: str, digest: str) -> str:
    """The manifest an applied lock put in place, kept by the lock's digest: what an inference
    version pinned to that lock serves while a newer lock is rolled out (the canary)."""
    return f"{Prefix.MANIFESTS.value}{model_name}/locks/{digest}.json"


def model_prefix(model_name: str, version: str) -> str:
    """Where training stores a version's serving artifact and reference profile."""
    return f"{Prefix.MODELS.value}{model_name}/v{version}/"


# Beside each version's model.skops: the rows every comparison for this version uses (the
# gate's, and the ONNX verification's at promotion), and the compiled graph.
HOLDOUT_FILE = "holdout.parquet"
# The training run's inputs: each features/ object it read, by URI and S3 version.
INPUTS_FILE = "inputs.json"
ONNX_FILE = "model.onnx"
