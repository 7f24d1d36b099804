from datetime import UTC, datetime, timedelta

import pytest

from mlrails.schedule import fire_times, parse_cron

ANCHOR = datetime(2026, 1, 1, tzinfo=UTC)  # a Thursday


def test_rate_counts_from_creation():
    times = fire_times("rate(1 day)", ANCHOR, ANCHOR, ANCHOR + timedelta(days=3))
    assert times == [ANCHOR + timedelta(days=d) for d in (1, 2, 3)]


def test_rate_window_is_half_open_at_the_start():
    start = ANCHOR + timedelta(days=7)
    assert fire_times("rate(7 days)", ANCHOR, start, start + timedelta(days=7)) == [ANCHOR + timedelta(days=14)]
    assert fire_times("rate(30 minutes)", ANCHOR, ANCHOR, ANCHOR + timedelta(hours=1)) == [
        ANCHOR + timedelta(minutes=30),
        ANCHOR + timedelta(hours=1),
    ]


def test_cron_daily_and_weekday():
    daily = fire_times("cron(0 6 * * ? *)", ANCHOR, ANCHOR, ANCHOR + timedelta(days=2))
    assert daily == [ANCHOR + timedelta(hours=6), ANCHOR + timedelta(days=1, hours=6)]
    # EventBridge weekdays run 1 (Sunday) to 7 (Saturday): 2 is Monday, 5 January 2026.
    mondays = fire_times("cron(30 8 ? * 2 *)", ANCHOR, ANCHOR, ANCHOR + timedelta(days=14))
    assert mondays == [datetime(2026, 1, 5, 8, 30, tzinfo=UTC), datetime(2026, 1, 12, 8, 30, tzinfo=UTC)]


def test_cron_steps_lists_and_ranges():
    minute, hour, *_ = parse_cron("cron(0/15 9-11,14 * * ? *)")
    assert minute == {0, 15, 30, 45}
    assert hour == {9, 10, 11, 14}


@pytest.mark.parametrize("expression", ["cron(0 25 * * ? *)", "cron(0 6 * *)", "every day", "cron(0 6 * * MON 2027)"])
def test_bad_expressions_are_refused(expression):
    with pytest.raises(ValueError):
        fire_times(expression, ANCHOR, ANCHOR, ANCHOR + timedelta(days=1))
