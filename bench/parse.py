"""Request parsing under attack: the worst body an API caller can send, at the body limit.

Each adversarial body is built up to ``MAX_BODY_BYTES`` (5 MiB) and handed to the parser the
inference function runs (``mlrails.serving.protocol.parse_request`` against the example model's
signature; ``/feedback`` shares its JSON loader). Every one must end in a 4xx error, never a
5xx, and in bounded time: the budget is under 1 s for the worst of them on a 2-core machine.
A valid body with the most rows a request may carry (10,000) is timed beside them, for scale.

Prints a table (median of ``--repeat`` runs), then ONE JSON line of the figures.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from mlrails.config import load_config  # noqa: E402
from mlrails.errors import BadRequest  # noqa: E402
from mlrails.serving.protocol import MAX_BODY_BYTES, MAX_ROWS, Column, parse_request  # noqa: E402

BUDGET_SECONDS = 1.0


def _fill(head: bytes, unit: Callable[[int], bytes], tail: bytes, sep: bytes = b",") -> bytes:
    """``head`` + as many ``unit(i)`` as fit in the body limit + ``tail``."""
    parts, size, i = [], len(head) + len(tail), 0
    while True:
        piece = unit(i)
        if size + len(piece) + len(sep) > MAX_BODY_BYTES:
            break
        parts.append(piece)
        size += len(piece) + len(sep)
        i += 1
    return head + sep.join(parts) + tail


def bodies(columns: list[str]) -> dict[str, tuple[bytes, str]]:
    """Name -> (body, Content-Type): the adversarial ones, each at the body limit."""
    half = (MAX_BODY_BYTES - 64) // 2
    per_record = max(1, (MAX_BODY_BYTES // MAX_ROWS) // 14)  # keys per record to fill the limit
    valid_row = {c: (1.5 if i < 3 else "basic") for i, c in enumerate(columns)}
    json_type = "application/json"
    return {
        "nested brackets": (b'{"dataframe_records": ' + b"[" * half + b"]" * half + b"}", json_type),
        "distinct keys, one per record": (
            _fill(b'{"dataframe_records": [', lambda i: b'{"k%d": 1}' % i, b"]}"),
            json_type,
        ),
        "distinct keys, 10,000 records": (
            _fill(
                b'{"dataframe_records": [',
                lambda i: b"{" + b",".join(b'"k%d_%d": 1' % (i, j) for j in range(per_record)) + b"}",
                b"]}",
            ),
            json_type,
        ),
        "one record, all distinct keys": (
            _fill(b'{"dataframe_records": [{', lambda i: b'"k%d": 1' % i, b"}]}"),
            json_type,
        ),
        "split, all distinct columns": (
            _fill(b'{"dataframe_split": {"data": [], "columns": [', lambda i: b'"c%d"' % i, b"]}}"),
            json_type,
        ),
        "inputs mapping, all distinct columns": (_fill(b'{"inputs": {', lambda i: b'"c%d": [1]' % i, b"}}"), json_type),
        "lone surrogate escapes": (
            _fill(b'{"dataframe_records": [{"plan": "', lambda i: b"\\ud800", b'"}]}', sep=b""),
            json_type,
        ),
        "NaN cells": (_fill(b'{"dataframe_records": [', lambda i: b'{"plan": NaN}', b"]}"), json_type),
        "long digit strings": (
            _fill(b'{"dataframe_records": [', lambda i: b'{"support_calls": ' + b"9" * 4000 + b"}", b"]}"),
            json_type,
        ),
        "csv, one wide header": (_fill(b"", lambda i: b"c%d" % i, b"\n1\n"), "text/csv"),
        "one long string cell": (
            b'{"dataframe_records": [{"plan": "' + b"x" * (MAX_BODY_BYTES - 40) + b'"}]}',
            json_type,
        ),
        "csv, blank lines": (
            b",".join(c.encode() for c in columns) + b"\n" + b"\n" * (MAX_BODY_BYTES - 200) + b"1,1,1,basic,east\n",
            "text/csv",
        ),
        "csv, too many rows": (
            _fill(",".join(columns).encode() + b"\n", lambda i: b"1,1,1,basic,east", b"\n", sep=b"\n"),
            "text/csv",
        ),
        "valid, 10,000 rows (for scale)": (
            json.dumps({"dataframe_records": [valid_row] * MAX_ROWS}).encode(),
            json_type,
        ),
    }


def time_parse(body: bytes, content_type: str, signature: list[Column], repeat: int) -> tuple[float, str]:
    """Median seconds of ``repeat`` parses, and the outcome (``ok`` or the 4xx error code)."""
    timings, outcome = [], ""
    for _ in range(repeat):
        started = time.perf_counter()
        try:
            parse_request(body, content_type, signature)
            outcome = "ok"
        except BadRequest as error:
            outcome = f"{error.status} {error.error_code}"
        timings.append(time.perf_counter() - started)
    return statistics.median(timings), outcome


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    cfg = load_config(ROOT / "mlrails.yaml")
    signature = [
        Column(f.name, "numeric" if f.type == "numeric" else "categorical", f.nullable) for f in cfg.dataset.features
    ]
    results = {}
    title = f"body (at the {MAX_BODY_BYTES // 1024 // 1024} MiB limit)"
    print(f"{title:<40} {'bytes':>9} {'seconds':>8}  outcome")
    for name, (body, content_type) in bodies([c.name for c in signature]).items():
        seconds, outcome = time_parse(body, content_type, signature, args.repeat)
        results[name] = {"bytes": len(body), "seconds": round(seconds, 4), "outcome": outcome}
        print(f"{name:<40} {len(body):>9,} {seconds:>8.3f}  {outcome}")
    adversarial = {k: v for k, v in results.items() if not k.startswith("valid")}
    worst = max(adversarial, key=lambda k: adversarial[k]["seconds"])
    five_xx = [k for k, v in results.items() if v["outcome"].startswith("5")]
    print(f"worst adversarial body: {worst}, {adversarial[worst]['seconds']:.3f} s (budget {BUDGET_SECONDS} s)")
    print(
        json.dumps(
            {
                "bench": "parse",
                "body_limit_bytes": MAX_BODY_BYTES,
                "results": results,
                "worst": worst,
                "worst_seconds": adversarial[worst]["seconds"],
                "budget_seconds": BUDGET_SECONDS,
                "within_budget": adversarial[worst]["seconds"] < BUDGET_SECONDS,
                "any_5xx": bool(five_xx),
            },
            sort_keys=True,
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
