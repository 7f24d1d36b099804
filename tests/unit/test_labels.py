"""Captures joined with fed-back labels: late labels, unsettled predictions, duplicates, unknown ids."""

from datetime import UTC, datetime, timedelta

import pandas as pd
import pytest

from mlrails.feedback.labels import LABEL, EvaluationWindow, join_feedback, latest_labels

NOW = datetime(2026, 3, 10, tzinfo=UTC)
WINDOW, DELAY = timedelta(days=7), timedelta(days=2)


def _captures(*rows: tuple[str, datetime, object]) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {"prediction_id": pid, "timestamp": at.isoformat(), "prediction": prediction, "tenure_months": 12.0}
            for pid, at, prediction in rows
        ]
    )


def _feedback(*rows: tuple[str, object, datetime], labelled_by: str | None = "api_key:feedback-key") -> pd.DataFrame:
    """Stored labels, as sent with ``labelled_by`` (None: stored without it, as before feedback
    had its own credential)."""
    credential = {} if labelled_by is None else {"labelled_by": labelled_by}
    return pd.DataFrame(
        [{"prediction_id": pid, "label": label, "received_at": at.isoformat(), **credential} for pid, label, at in rows]
    )


def _join(captures: pd.DataFrame, feedback: pd.DataFrame, task: str = "classification"):
    return join_feedback(captures, feedback, now=NOW, window=WINDOW, label_delay=DELAY, task=task)


def test_the_window_ends_where_labels_have_had_their_delay():
    window = EvaluationWindow.settled_before(NOW, window=WINDOW, label_delay=DELAY)
    assert (window.start, window.end) == (NOW - DELAY - WINDOW, NOW - DELAY)


def test_a_late_label_counts_and_an_unsettled_prediction_is_left_out():
    made = NOW - DELAY - timedelta(days=1)  # settled: its delay passed a day ago
    captures = _captures(
        ("a", made, 1),
        ("b", made, 0),
        ("c", NOW - timedelta(hours=5), 1),
        ("old", NOW - DELAY - WINDOW - timedelta(seconds=1), 1),
    )
    # "a" was labelled 2.5 days after the prediction (later than the delay), before now.
    feedback = _feedback(("a", 1, made + timedelta(days=2, hours=12)), ("c", 0, NOW - timedelta(hours=1)))

    joined = _join(captures, feedback)

    assert joined.settled == 2  # a, b; c is too recent to judge, old is before the window
    assert joined.labelled == 1 and joined.coverage == pytest.approx(0.5)
    assert joined.rows["prediction_id"].tolist() == ["a"] and joined.rows[LABEL].tolist() == [1]
    assert joined.unmatched_feedback == 1  # c's label: its prediction is not settled yet


def test_the_window_bounds_are_start_inclusive_end_exclusive():
    window = EvaluationWindow.settled_before(NOW, window=WINDOW, label_delay=DELAY)
    captures = _captures(("start", window.start, 1), ("end", window.end, 1))
    feedback = _feedback(("start", 1, NOW - timedelta(hours=1)), ("end", 1, NOW - timedelta(hours=1)))

    joined = _join(captures, feedback)

    assert joined.rows["prediction_id"].tolist() == ["start"] and joined.settled == 1


def test_the_latest_label_for_an_id_wins_and_labels_from_the_future_are_not_known():
    feedback = _feedback(
        ("a", 0, NOW - timedelta(days=3)),
        ("a", 1, NOW - timedelta(days=1)),
        ("b", 1, NOW - timedelta(days=1)),
        ("b", 0, NOW + timedelta(hours=1)),
    )

    latest = latest_labels(feedback, NOW).set_index("prediction_id")[LABEL].to_dict()

    assert latest == {"a": 1, "b": 1}


def test_a_prediction_captured_twice_counts_once():
    made = NOW - DELAY - timedelta(days=1)
    joined = _join(
        _captures(("a", made, 1), ("a", made, 1), ("b", made, 0)), _feedback(("a", 1, NOW - timedelta(hours=2)))
    )
    assert (joined.settled, joined.labelled) == (2, 1)


def test_unknown_ids_are_counted_not_joined():
    made = NOW - DELAY - timedelta(days=1)
    joined = _join(_captures(("a", made, 1)), _feedback(("nobody", 1, NOW - timedelta(hours=2))))
    assert joined.labelled == 0 and joined.unmatched_feedback == 1 and joined.coverage == 0.0


def test_labels_are_typed_as_training_types_targets():
    made = NOW - DELAY - timedelta(days=1)
    captures = _captures(("a", made, 1), ("b", made, 0), ("c", made, 2.5))
    as_strings = _join(captures, _feedback(("a", "1", NOW), ("b", 0, NOW)))
    assert as_strings.rows[LABEL].tolist() == [1, 0] and as_strings.rows[LABEL].dtype == "int64"

    regression = _join(captures, _feedback(("a", "1.5", NOW), ("c", "n/a", NOW)), task="regression")
    assert regression.rows[LABEL].tolist() == [1.5] and regression.invalid_labels == 1


def test_nothing_captured_means_nothing_settled():
    joined = _join(pd.DataFrame(), _feedback(("a", 1, NOW)))
    assert (joined.settled, joined.labelled, joined.coverage, joined.unmatched_feedback) == (0, 0, None, 1)


def test_only_labels_sent_with_the_feedback_credential_count():
    made = NOW - DELAY - timedelta(days=1)
    captures = _captures(("a", made, 1), ("b", made, 0), ("c", made, 1))
    trusted = _feedback(("a", 1, made + timedelta(hours=1)), ("b", 0, made + timedelta(hours=1)))
    # Later labels that no credential (or a made-up one) sent: "a" must keep its label, and
    # "c" gets none.
    untrusted = pd.concat(
        [
            _feedback(("a", 0, made + timedelta(hours=2)), ("c", 0, made + timedelta(hours=2)), labelled_by=None),
            _feedback(("b", 1, made + timedelta(hours=2)), labelled_by="scoring-key"),
            _feedback(("c", 1, made + timedelta(hours=2)), labelled_by="api_key:"),
        ],
        ignore_index=True,
    )

    joined = _join(captures, pd.concat([trusted, untrusted], ignore_index=True))

    assert joined.rows.set_index("prediction_id")[LABEL].to_dict() == {"a": 1, "b": 0}
    assert (joined.settled, joined.labelled, joined.untrusted_labels) == (3, 2, 3)


def test_labels_stored_without_a_credential_count_for_nothing():
    made = NOW - DELAY - timedelta(days=1)
    joined = _join(_captures(("a", made, 1)), _feedback(("a", 1, made + timedelta(hours=1)), labelled_by=None))
    assert (joined.labelled, joined.untrusted_labels, joined.coverage) == (0, 1, 0.0)
