"""One cached AWS client per service, created on first use (never at import time).

botocore directly, not boto3: boto3 adds resources and s3transfer (a fifth of a second of
every cold start) and nothing a client needs; region and credentials resolve the same way."""

from __future__ import annotations

import functools
import threading

import botocore.loaders
import botocore.session
from botocore.config import Config

_CONFIG = Config(retries={"mode": "standard", "max_attempts": 5}, connect_timeout=5, read_timeout=30)
# A botocore session is not thread-safe (clients are): one client is created at a time.
_CREATING = threading.Lock()


@functools.cache
def _loader() -> botocore.loaders.Loader:
    """botocore's data loader (service models, endpoint rules), kept for the process: it
    caches what it reads, so a later session reads no model file again."""
    return botocore.loaders.create_loader()


@functools.cache
def _session() -> botocore.session.Session:
    """One session for every client: a session per client re-registers botocore's handlers
    and re-reads the endpoint rules, ~0.15 s a client on a 2-core machine."""
    session = botocore.session.get_session()
    session.register_component("data_loader", _loader())
    return session


@functools.cache
def client(service: str):
    """The process-wide client for ``service``, created on first use."""
    with _CREATING:
        return _session().create_client(service, config=_CONFIG)


def reset() -> None:
    """Forget the clients and their session (credentials and region resolve again at the next
    client), keeping only the loaded service models."""
    client.cache_clear()
    _session.cache_clear()
