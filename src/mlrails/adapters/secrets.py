"""Secrets Manager: the key that signs prediction ids (:mod:`mlrails.serving.prediction_ids`)."""

from __future__ import annotations

import functools

from mlrails.adapters.clients import client


@functools.cache
def secret_bytes(secret_id: str) -> bytes:
    """The secret's string as bytes, read once per container: the key never changes while a
    container lives, and a read on every request would cost a call and its latency."""
    return client("secretsmanager").get_secret_value(SecretId=secret_id)["SecretString"].encode()


def reset() -> None:
    """Forget the cached secrets (a new container, or a restored local state)."""
    secret_bytes.cache_clear()
