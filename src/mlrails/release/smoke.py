"""The smoke test of an environment after a release (`mlrails release verify`): judged from
three answers of its API, the same whether the API is deployed or local."""

from __future__ import annotations

import json
import math
from typing import Any

from mlrails.promotion.lock import ModelLock

Answer = tuple[int, Any]  # (HTTP status, parsed JSON body)
# Float answers are compared with this relative tolerance: the same graph on another machine's
# CPU may round the last bits differently.
TOLERANCE = 1e-6


def example_request(lock: ModelLock) -> bytes:
    """The body that asks for the lock's example rows."""
    return json.dumps({"dataframe_records": lock.example["records"]}).encode()


def problems(lock: ModelLock, ping: Answer, version: Answer, prediction: Answer) -> list[str]:
    """What is wrong, one line each (empty: the environment serves the lock): ``/ping`` answers,
    ``/version`` names the lock, and the lock's example rows get the answers the lock recorded."""
    found = []
    if ping[0] != 200:
        found.append(f"GET /ping answered {ping[0]}: {ping[1]}")
    status, body = version
    if status != 200:
        found.append(f"GET /version answered {status}: {body}")
    elif body.get("lock_sha256") != lock.digest:
        served = body.get("lock_sha256")
        found.append(
            f"/version serves {body.get('model_name')} v{body.get('model_version')} "
            + (f"of lock {served[:12]}" if served else "of no lock (trained here, or an emergency promotion)")
            + f": differs from the lock {lock.digest[:12]} ({lock.source_environment} v{lock.version})"
        )
    status, body = prediction
    if not lock.example["records"]:
        return found
    if status != 200:
        found.append(f"POST /invocations of the lock's example answered {status}: {body}")
    elif not _same(body.get("predictions"), lock.example["predictions"]):
        found.append(
            f"the lock's example rows were answered {body.get('predictions')}, "
            f"the lock recorded {lock.example['predictions']}"
        )
    return found


def _same(served: Any, recorded: list[Any]) -> bool:
    if not isinstance(served, list) or len(served) != len(recorded):
        return False
    for a, b in zip(served, recorded, strict=True):
        if isinstance(a, float) or isinstance(b, float):
            if not isinstance(a, (int, float)) or not math.isclose(a, b, rel_tol=TOLERANCE, abs_tol=TOLERANCE):
                return False
        elif a != b:
            return False
    return True
