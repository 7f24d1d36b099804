"""One cached AWS client per service, created on first use (never at import time).

botocore directly, not boto3: boto3 adds resources and s3transfer (a fifth of a second of
every cold start) and nothing a client needs; region and credentials resolve the same way."""

from __future__ import annotations

import contextlib
import functools
import threading
from collections.abc import Iterator

import botocore.loaders
import botocore.session
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from mlrails.errors import AwsError

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


@contextlib.contextmanager
def aws_errors(what: str) -> Iterator[None]:
    """botocore's errors out of ``what`` (a call, in words) as :class:`AwsError`: no caller
    outside the adapters handles botocore."""
    try:
        yield
    except ClientError as exc:
        code = exc.response["Error"]["Code"]
        raise AwsError(f"{what}: AWS answered {code}", code=code) from exc
    except BotoCoreError as exc:
        raise AwsError(f"{what}: {exc}", code=type(exc).__name__) from exc
