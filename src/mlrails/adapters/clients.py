"""One cached boto3 client per service, created on first use (never at import time)."""

from __future__ import annotations

import functools

import boto3
from botocore.config import Config

_CONFIG = Config(retries={"mode": "standard", "max_attempts": 5}, connect_timeout=5, read_timeout=30)


@functools.cache
def client(service: str):  # noqa: ANN201 - boto3 clients are generated classes
    """The process-wide client for ``service``; tests call ``client.cache_clear()``."""
    return boto3.client(service, config=_CONFIG)
