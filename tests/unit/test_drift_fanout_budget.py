"""The drift check's budget: when a window is counted in one pass, and how a bigger one is cut."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from mlrails.config import Monitoring
from mlrails.drift.check import WindowPlan
from mlrails.drift.fanout import MAX_OBJECTS_PER_SHARD, fits_one_pass, objects_per_shard

MB = 2**20


def _plan(sizes: list[int]) -> WindowPlan:
    at = datetime(2026, 3, 3, tzinfo=UTC)
    return WindowPlan(None, at, at, [f"capture/{n}.jsonl" for n in range(len(sizes))], sizes)  # type: ignore[arg-type]


def test_a_window_up_to_the_budget_is_one_pass_and_one_byte_more_is_not() -> None:
    assert fits_one_pass(_plan([MB // 2, MB // 2]), 1)
    assert not fits_one_pass(_plan([MB // 2, MB // 2 + 1]), 1)
    assert fits_one_pass(_plan([]), 1)


def test_a_shard_holds_as_many_of_the_largest_objects_as_fit_at_least_one_and_at_most_its_input_holds() -> None:
    assert objects_per_shard([MB, 3 * MB, MB], 10) == 3  # 3 x 3 MB <= 10 MB whichever three
    assert objects_per_shard([20 * MB], 10) == 1  # one object over the budget: a shard of its own
    # Small objects: as many as a child's input holds (Step Functions' 256 KiB).
    assert objects_per_shard([0, 1024], 1) == MAX_OBJECTS_PER_SHARD


def test_the_default_budget_is_the_measured_one_and_both_fields_are_checked() -> None:
    assert Monitoring().single_pass_max_mb == 1024 and Monitoring().fanout_max_concurrency == 10
    for bad in ({"single_pass_max_mb": 0}, {"fanout_max_concurrency": 0}, {"fanout_max_concurrency": 1001}):
        with pytest.raises(ValidationError):
            Monitoring(**bad)
