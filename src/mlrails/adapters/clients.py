"""One cached AWS client per service, created on first use (never at import time).

botocore directly, not boto3: boto3 adds resources and s3transfer (a fifth of a second of
every cold start) and nothing a client needs; region and credentials resolve the same way."""

from __future__ import annotations

import functools

import botocore.session
from botocore.config import Config

_CONFIG = Config(retries={"mode": "standard", "max_attempts": 5}, connect_timeout=5, read_timeout=30)


@functools.cache
def client(service: str):  # noqa: ANN201 - botocore clients are generated classes
    """The process-wide client for ``service``; tests call ``client.cache_clear()``."""
    return botocore.session.get_session().create_client(service, config=_CONFIG)
