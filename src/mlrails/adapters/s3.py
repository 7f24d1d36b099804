"""S3 reads and writes by URI. S3's failures leave this module as typed errors
(:class:`~mlrails.errors.StorageError`, :class:`~mlrails.errors.StorageNotFound`): no caller
needs to know botocore."""

from __future__ import annotations

import contextlib
import io
import json
from collections.abc import Iterator
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from mlrails.adapters.clients import client
from mlrails.errors import StorageError, StorageNotFound

# The codes S3 answers for an absent object, version, bucket (404 for a HEAD).
_MISSING = frozenset({"NoSuchKey", "NoSuchVersion", "NoSuchBucket", "404"})


@contextlib.contextmanager
def _translated(location: str) -> Iterator[None]:
    try:
        yield
    except ClientError as exc:
        code = exc.response["Error"]["Code"]
        error = StorageNotFound if code in _MISSING else StorageError
        raise error(f"S3 answered {code} for {location}", code=code) from exc
    except BotoCoreError as exc:
        raise StorageError(f"cannot reach S3 for {location}: {exc}", code=type(exc).__name__) from exc


def split_uri(uri: str) -> tuple[str, str]:
    """``s3://bucket/key`` → (bucket, key)."""
    if not uri.startswith("s3://"):
        raise ValueError(f"not an s3:// URI: {uri!r}")
    bucket, _, key = uri[len("s3://") :].partition("/")
    return bucket, key


def uri(bucket: str, key: str) -> str:
    """(bucket, key) → ``s3://bucket/key``."""
    return f"s3://{bucket}/{key}"


def get_tagged(location: str) -> tuple[bytes, str]:
    """Read a whole object, with its ETag."""
    bucket, key = split_uri(location)
    with _translated(location):
        response = client("s3").get_object(Bucket=bucket, Key=key)
        return response["Body"].read(), response["ETag"]


def get_versioned(location: str) -> tuple[bytes, str | None]:
    """Read a whole object, with the S3 version read (None: the bucket is not versioned)."""
    bucket, key = split_uri(location)
    with _translated(location):
        response = client("s3").get_object(Bucket=bucket, Key=key)
        version = response.get("VersionId")
        return response["Body"].read(), None if version in (None, "null") else version


def get_bytes(location: str) -> bytes:
    """Read a whole object."""
    return get_tagged(location)[0]


def get_optional(location: str, version_id: str | None = None) -> bytes | None:
    """Read a whole object (a given version of it, if named), or None when there is none."""
    bucket, key = split_uri(location)
    kwargs = {"VersionId": version_id} if version_id else {}
    try:
        with _translated(location):
            return client("s3").get_object(Bucket=bucket, Key=key, **kwargs)["Body"].read()
    except StorageNotFound:
        return None


def head(location: str) -> dict[str, Any] | None:
    """An object's HEAD (``ETag``, ``Metadata``...), or None when there is no object."""
    bucket, key = split_uri(location)
    try:
        with _translated(location):
            return client("s3").head_object(Bucket=bucket, Key=key)
    except StorageNotFound:
        return None


def metadata(location: str) -> dict[str, str] | None:
    """An object's user metadata (``x-amz-meta-*``), or None when there is no object."""
    found = head(location)
    return None if found is None else found["Metadata"]


def get_json(location: str) -> Any:
    """Read and parse a JSON object."""
    return json.loads(get_bytes(location))


def put_bytes(location: str, body: bytes, content_type: str = "application/octet-stream", **extra: Any) -> str | None:
    """Write a whole object (atomic for readers); returns its S3 version (None when the
    bucket is not versioned)."""
    bucket, key = split_uri(location)
    with _translated(location):
        response = client("s3").put_object(Bucket=bucket, Key=key, Body=body, ContentType=content_type, **extra)
    return response.get("VersionId")


def delete(location: str) -> None:
    """Delete an object (in a versioned bucket: a delete marker over it). Deleting what is not
    there is no error, as in S3."""
    bucket, key = split_uri(location)
    with _translated(location):
        client("s3").delete_object(Bucket=bucket, Key=key)


def put_once(location: str, body: bytes) -> bool:
    """Write an object that must never be overwritten (``If-None-Match: *``: S3 refuses the
    write when the key exists, and a bucket can refuse writes without it): True when written,
    False when the key was there already (for a content-addressed key, the same bytes)."""
    bucket, key = split_uri(location)
    with _translated(location):
        try:
            client("s3").put_object(
                Bucket=bucket, Key=key, Body=body, IfNoneMatch="*", ContentType="application/octet-stream"
            )
        except ClientError as exc:
            # 412: the key exists; 409: a concurrent write of the same key is in flight.
            if exc.response["Error"]["Code"] in ("PreconditionFailed", "ConditionalRequestConflict"):
                return False
            raise
    return True


def json_bytes(document: Any) -> bytes:
    """How a JSON document is stored."""
    return json.dumps(document, sort_keys=True, default=str).encode()


def put_json(location: str, document: Any, **extra: Any) -> str | None:
    """Write a JSON document; returns its S3 version."""
    return put_bytes(location, json_bytes(document), "application/json", **extra)


def list_prefixes(bucket: str, prefix: str) -> list[str]:
    """What is one level below ``prefix``, in key order: each "folder" (ending in ``/``) and
    each object directly under it (one request per thousand, whatever lies deeper)."""
    paginator = client("s3").get_paginator("list_objects_v2")
    found: list[str] = []
    with _translated(uri(bucket, prefix)):
        for page in paginator.paginate(Bucket=bucket, Prefix=prefix, Delimiter="/"):
            found += [item["Prefix"] for item in page.get("CommonPrefixes", [])]
            found += [item["Key"] for item in page.get("Contents", [])]
    return sorted(found)


def total_size(bucket: str, prefix: str, *, suffix: str = "") -> int:
    """The bytes of every object under ``prefix`` (the key itself, when it is one) whose key
    ends with ``suffix``: what a listing says, no object read."""
    paginator = client("s3").get_paginator("list_objects_v2")
    with _translated(uri(bucket, prefix)):
        return sum(
            item["Size"]
            for page in paginator.paginate(Bucket=bucket, Prefix=prefix)
            for item in page.get("Contents", [])
            if item["Key"].endswith(suffix)
        )


def list_keys(bucket: str, prefix: str, *, start_after: str | None = None) -> Iterator[str]:
    """Every key under ``prefix``, in key order."""
    paginator = client("s3").get_paginator("list_objects_v2")
    kwargs = {"Bucket": bucket, "Prefix": prefix}
    if start_after:
        kwargs["StartAfter"] = start_after
    with _translated(uri(bucket, prefix)):
        for page in paginator.paginate(**kwargs):
            yield from (item["Key"] for item in page.get("Contents", []))


def list_objects(bucket: str, prefix: str) -> Iterator[tuple[str, int]]:
    """Every (key, size) under ``prefix``, in key order: what a listing says, no object read."""
    paginator = client("s3").get_paginator("list_objects_v2")
    with _translated(uri(bucket, prefix)):
        for page in paginator.paginate(Bucket=bucket, Prefix=prefix):
            yield from ((item["Key"], item["Size"]) for item in page.get("Contents", []))


class RangeReader(io.RawIOBase):
    """A read-only, seekable file over one S3 object, each read one ranged ``GetObject``: a
    reader that seeks (a Parquet file's footer, then a row group) fetches only the bytes it
    reads, never the whole object. Pinned to the ETag first seen, so an object replaced while
    it is read fails (S3's 412) rather than mixing two files."""

    def __init__(self, location: str, size: int | None = None) -> None:
        super().__init__()
        self.location = location
        self.bucket, self.key = split_uri(location)
        found = head(location)
        if found is None:
            raise StorageNotFound(f"S3 has no object {location}", code="NoSuchKey")
        self.size = found["ContentLength"] if size is None else size
        self.etag = found["ETag"]
        self._position = 0
        self.fetched = 0  # bytes read from S3 so far: what reading through this file cost

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._position

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._position, io.SEEK_END: self.size}[whence]
        self._position = max(0, base + offset)
        return self._position

    def read(self, size: int = -1) -> bytes:
        end = self.size if size is None or size < 0 else min(self.size, self._position + size)
        if end <= self._position:
            return b""
        with _translated(self.location):
            body = (
                client("s3")
                .get_object(
                    Bucket=self.bucket, Key=self.key, Range=f"bytes={self._position}-{end - 1}", IfMatch=self.etag
                )["Body"]
                .read()
            )
        self._position += len(body)
        self.fetched += len(body)
        return body

    def readinto(self, buffer) -> int:
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)
