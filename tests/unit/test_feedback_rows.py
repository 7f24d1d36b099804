"""Which days of labelled traffic are settled enough to become training rows."""

from datetime import UTC, date, datetime, timedelta

from mlrails.feedback.training_rows import export_key, settled_days

DELAY = timedelta(hours=48)


def test_a_day_is_settled_once_its_last_label_is_due():
    # At 03-12 00:00 with labels due within 48 h, every prediction up to 03-10 00:00 is settled.
    assert settled_days(datetime(2026, 3, 12, tzinfo=UTC), DELAY, timedelta(days=3)) == [
        date(2026, 3, 7),
        date(2026, 3, 8),
        date(2026, 3, 9),
    ]
    # Five hours later 03-10 is still running: the same days.
    assert settled_days(datetime(2026, 3, 12, 5, tzinfo=UTC), DELAY, timedelta(days=3))[-1] == date(2026, 3, 9)


def test_a_short_lookback_still_covers_the_day_that_just_settled():
    assert settled_days(datetime(2026, 3, 12, tzinfo=UTC), DELAY, timedelta(hours=12)) == [date(2026, 3, 9)]


def test_each_day_has_one_key_under_features():
    assert export_key(date(2026, 3, 9)) == "features/date=2026-03-09/feedback/labelled.parquet"
