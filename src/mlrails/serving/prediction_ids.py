"""Prediction ids that prove where they came from: ``POST /feedback`` takes a label only for an
id this service issued, and checks it without a lookup.

An id is 32 hex digits of randomness followed by 32 hex digits of HMAC-SHA256 over them,
keyed with the environment's secret (Secrets Manager; read once per container) and
truncated to 128 bits, half the hash, as RFC 2104 recommends. A lookup would not do: captures
reach S3 through Firehose a minute or more after the answer, and only a sampled share of
them at all, so a just-served id, or an unsampled one, is not there to be found; a record per
prediction in DynamoDB would cost a write on every prediction. The HMAC costs about a
microsecond an id and holds for every id ever issued with the same secret.

Pure: the key is passed in.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets

NONCE_HEX = 32
TAG_HEX = 32
# Another HMAC of the same key can never be taken for this one.
_CONTEXT = b"mlrails prediction id\x00"
_FORM = re.compile(rf"[0-9a-f]{{{NONCE_HEX + TAG_HEX}}}")


def _tag(key: bytes, nonce: str) -> str:
    return hmac.new(key, _CONTEXT + nonce.encode(), hashlib.sha256).hexdigest()[:TAG_HEX]


def issue(key: bytes, count: int) -> list[str]:
    """``count`` new ids, each unique (128 random bits) and signed with ``key``."""
    nonces = (secrets.token_hex(NONCE_HEX // 2) for _ in range(count))
    return [nonce + _tag(key, nonce) for nonce in nonces]


def issued(key: bytes, prediction_id: str) -> bool:
    """Whether ``key`` signed ``prediction_id`` (any other string, of any form, is not)."""
    if not _FORM.fullmatch(prediction_id):
        return False
    nonce, tag = prediction_id[:NONCE_HEX], prediction_id[NONCE_HEX:]
    return hmac.compare_digest(_tag(key, nonce), tag)
