"""Reading and writing deployment manifests in the artifacts bucket (no ML imports here:
the drift check and the retrain trigger read the manifest without scikit-learn)."""

from __future__ import annotations

from mlrails.adapters import s3
from mlrails.errors import TamperedArtifact
from mlrails.serving.manifest import Manifest, current_key, file_record, history_key, lock_manifest_key


def read_current(bucket: str, model_name: str) -> Manifest | None:
    """The manifest inference serves from, or None before the first promotion."""
    body = s3.get_optional(s3.uri(bucket, current_key(model_name)))
    return None if body is None else Manifest.from_json(body)


def current_etag(bucket: str, model_name: str) -> str | None:
    """The current manifest's ETag (one HEAD), or None before the first promotion."""
    found = s3.head(s3.uri(bucket, current_key(model_name)))
    return None if found is None else found["ETag"]


def read_current_tagged(bucket: str, model_name: str) -> tuple[Manifest, str]:
    """The current manifest and the ETag of what was read."""
    body, etag = s3.get_tagged(s3.uri(bucket, current_key(model_name)))
    return Manifest.from_json(body), etag


def read_for_lock(bucket: str, model_name: str, digest: str) -> Manifest | None:
    """The manifest the lock ``digest`` put in place here (None: never applied here)."""
    body = s3.get_optional(s3.uri(bucket, lock_manifest_key(model_name, digest)))
    return None if body is None else Manifest.from_json(body)


def write_for_lock(bucket: str, manifest: Manifest) -> None:
    """Keep an applied lock's manifest by the lock's digest (``manifest.lock_sha256``)."""
    key = lock_manifest_key(manifest.model_name, str(manifest.lock_sha256))
    s3.put_bytes(s3.uri(bucket, key), manifest.to_json().encode(), "application/json")


def write(bucket: str, manifest: Manifest) -> str:
    """Record the manifest by version, then make it current; returns the current URI.

    History first, then the pointer inference reads: a crash in between leaves the old
    champion serving and the new one recorded, never a manifest pointing at nothing."""
    body = manifest.to_json().encode()
    s3.put_bytes(s3.uri(bucket, history_key(manifest.model_name, manifest.version)), body, "application/json")
    current = s3.uri(bucket, current_key(manifest.model_name))
    s3.put_bytes(current, body, "application/json")
    return current


def put_file(location: str, body: bytes, content_type: str = "application/octet-stream") -> dict[str, str | None]:
    """Write a file a manifest will name; returns what the manifest records of it."""
    return file_record(body, s3.put_bytes(location, body, content_type))


def read_file(manifest: Manifest, uri: str) -> bytes:
    """The file ``manifest`` names at ``uri``: the S3 version it recorded, checked against its
    sha256 before anyone deserializes a byte. Raises :class:`TamperedArtifact`."""
    recorded = manifest.recorded(uri)
    body = s3.get_optional(uri, recorded["version_id"])
    if body is None:
        raise TamperedArtifact(
            f"{uri} (version {recorded['version_id']}) recorded by {manifest.model_name} "
            f"v{manifest.version}'s manifest is gone",
            details={"uri": uri},
        )
    return manifest.verify(uri, body)
