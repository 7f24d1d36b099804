"""At-most-once processing per event key, on the state table (Powertools Idempotency).

A retried or duplicated event (EventBridge retries, S3 multipart notifications) returns
the first run's result instead of doing the work again; a run that fails is not recorded,
so its retry does the work.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from aws_lambda_powertools.utilities.idempotency import (
    DynamoDBPersistenceLayer,
    IdempotencyConfig,
    idempotent_function,
)

from mlrails.adapters.clients import client

_DAY = 24 * 3600


@functools.cache
def _persistence(table_name: str, key: str) -> DynamoDBPersistenceLayer:
    # One layer per key expression: a layer keeps the first config it is given.
    del key
    return DynamoDBPersistenceLayer(
        table_name=table_name, key_attr="pk", expiry_attr="expires_at", boto3_client=client("dynamodb")
    )


def once(
    table_name: str,
    key: str,
    work: Callable[..., dict[str, Any]],
    event: dict[str, Any],
    *,
    lambda_context: Any = None,
    expires_after_seconds: int = 7 * _DAY,
) -> dict[str, Any]:
    """Run ``work(event=event)`` once per value of the JMESPath ``key`` in ``event``."""
    config = IdempotencyConfig(
        event_key_jmespath=key, expires_after_seconds=expires_after_seconds, raise_on_no_idempotency_key=True
    )
    if lambda_context is not None:
        config.register_lambda_context(lambda_context)
    guarded = idempotent_function(
        data_keyword_argument="event", persistence_store=_persistence(table_name, key), config=config
    )(work)
    return guarded(event=event)


def reset() -> None:
    """Forget the persistence layers (they hold a client bound to one endpoint)."""
    _persistence.cache_clear()
