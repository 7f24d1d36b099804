"""Time and memory of one side of a benchmark, measured the same way on every side.

Standard library only: it is imported both by the main environment and by benchmark
virtualenvs that do not have mlrails (bench/_evidently_side.py).

Memory is the resident set of the process, from /proc/self/status (Linux): ``VmRSS`` once
the data is loaded, then the high-water mark ``VmHWM`` once the work is done. Writing ``5``
to /proc/self/clear_refs resets the high-water mark to the current RSS first, so transient
peaks while the data was being loaded (Parquet read buffers) are not charged to the work.
"""

from __future__ import annotations

import gc
import re
import time
from collections.abc import Callable
from typing import Any

_MB = 2**20


def _status_kb(field: str) -> int:
    with open("/proc/self/status") as status:
        return int(re.search(rf"^{field}:\s+(\d+) kB", status.read(), re.M).group(1))


def measured(work: Callable[[], Any]) -> tuple[Any, dict[str, float]]:
    """Run ``work`` once; its result and ``seconds``, ``loaded_mb`` (RSS before) and
    ``extra_mem_mb`` (peak RSS during the work above that)."""
    gc.collect()
    with open("/proc/self/clear_refs", "w") as clear:
        clear.write("5")
    before = _status_kb("VmRSS")
    started = time.perf_counter()
    result = work()
    seconds = time.perf_counter() - started
    peak = _status_kb("VmHWM")
    return result, {
        "seconds": round(seconds, 3),
        "loaded_mb": round(before * 1024 / _MB, 1),
        "extra_mem_mb": round(max(peak - before, 0) * 1024 / _MB, 1),
    }
