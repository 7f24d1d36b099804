"""Ground truth joined to predictions: which captured predictions have a label, counted only
once their labels have had time to arrive.

Labels come late (a customer churns weeks after the prediction). A prediction made at ``t``
is *settled* once ``now >= t + label_delay``: only settled predictions are evaluated, so a
prediction still waiting for its label is neither a hit, a miss nor "unlabelled". The
evaluation window is therefore ``[now - window - label_delay, now - label_delay)``, and a
label that arrives late, but before ``now``, still counts.

Only labels that came through the feedback API's own credential count (:func:`trusted`): a
label stored without one (written with the scoring key before feedback had its own) is
ignored, and counted as ``untrusted_labels``.

Pure: frames in, frames out (the performance check and the promotion gate read S3).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import pandas as pd

from mlrails.data.dataset import class_labels
from mlrails.feedback.intake import CREDENTIAL_KINDS, LABELLED_BY

# Column names in a labelled window, chosen so that no feature of a project can collide.
LABEL = "__label__"
RECEIVED_AT = "__label_received_at__"
PREDICTION_ID = "prediction_id"
TIMESTAMP = "timestamp"


@dataclass(frozen=True)
class EvaluationWindow:
    """The predictions evaluated: made in ``[start, end)``; ``end`` is ``now - label_delay``."""

    start: datetime
    end: datetime
    now: datetime

    @classmethod
    def settled_before(cls, now: datetime, *, window: timedelta, label_delay: timedelta) -> EvaluationWindow:
        """The last ``window`` of predictions whose labels have had ``label_delay`` to arrive."""
        end = now - label_delay
        return cls(start=end - window, end=end, now=now)


@dataclass(frozen=True)
class LabelledWindow:
    """Settled predictions joined with their labels."""

    window: EvaluationWindow
    rows: pd.DataFrame  # one row per labelled, settled prediction: the capture's columns + LABEL, RECEIVED_AT
    settled: int  # distinct settled predictions in the window, labelled or not
    unmatched_feedback: int  # labels for no settled prediction here (unknown id, made outside the window, not yet due)
    invalid_labels: int  # labels that cannot be a target of the task (a word for a regression)
    # Settled predictions here whose label no feedback credential sent (ignored; the latest
    # such label per prediction).
    untrusted_labels: int = 0

    @property
    def labelled(self) -> int:
        """How many settled predictions have a (valid) label."""
        return len(self.rows)

    @property
    def coverage(self) -> float | None:
        """Labelled / settled (None when nothing settled)."""
        return self.labelled / self.settled if self.settled else None


def trusted(feedback: pd.DataFrame) -> pd.Series:
    """Which stored labels came through the feedback credential: those that record one
    (:data:`mlrails.feedback.intake.LABELLED_BY`). Labels written before feedback had its own
    credential (with the scoring key, say) record none."""
    if LABELLED_BY not in feedback:
        return pd.Series(False, index=feedback.index, dtype=bool)
    return (
        feedback[LABELLED_BY]
        .map(lambda by: isinstance(by, str) and by.startswith(CREDENTIAL_KINDS) and by not in CREDENTIAL_KINDS)
        .astype(bool)
    )


def latest_labels(feedback: pd.DataFrame, now: datetime) -> pd.DataFrame:
    """One label per prediction id: the latest received up to ``now`` wins (a correction
    replaces an earlier label; labels received after ``now`` are not known yet). Ties keep
    the later line, as a later write is the later word."""
    if feedback.empty:
        return pd.DataFrame(columns=[PREDICTION_ID, LABEL, RECEIVED_AT])
    received = pd.to_datetime(feedback["received_at"], utc=True, format="ISO8601")
    known = feedback.assign(**{RECEIVED_AT: received})[received <= now]
    latest = known.sort_values(RECEIVED_AT, kind="stable").drop_duplicates(PREDICTION_ID, keep="last")
    return latest.rename(columns={"label": LABEL})[[PREDICTION_ID, LABEL, RECEIVED_AT]]


def targets(values: pd.Series, task: str) -> pd.Series:
    """Labels (or predictions) as the task's targets: numbers for a regression (NaN where a
    value is not one), class labels as training types them (0/1 stays 0/1, "1" becomes 1)."""
    if task == "regression":
        return pd.to_numeric(values, errors="coerce").astype("float64")
    return class_labels(values.astype(object))


def join_feedback(
    captures: pd.DataFrame,
    feedback: pd.DataFrame,
    *,
    now: datetime,
    window: timedelta,
    label_delay: timedelta,
    task: str,
) -> LabelledWindow:
    """Join captured predictions (``prediction_id``, ``timestamp``, ``prediction``, the
    features...) with fed-back labels (``prediction_id``, ``label``, ``received_at``) over
    the settled window. A prediction captured twice (a retried delivery) counts once. Labels
    no feedback credential sent are left out (:func:`trusted`)."""
    frame = EvaluationWindow.settled_before(now, window=window, label_delay=label_delay)
    untrusted = feedback
    if not feedback.empty:
        sent = trusted(feedback)
        untrusted, feedback = feedback[~sent], feedback[sent]
    if captures.empty:
        return LabelledWindow(
            frame,
            pd.DataFrame(columns=[PREDICTION_ID, TIMESTAMP, LABEL, RECEIVED_AT]),
            0,
            len(latest_labels(feedback, now)),
            0,
        )
    stamps = pd.to_datetime(captures[TIMESTAMP], utc=True, format="ISO8601")
    settled = captures.assign(**{TIMESTAMP: stamps})[(stamps >= frame.start) & (stamps < frame.end)].drop_duplicates(
        PREDICTION_ID, keep="first"
    )
    labels = latest_labels(feedback, now)
    matched = settled.merge(labels, on=PREDICTION_ID, how="inner", validate="one_to_one")
    typed = targets(matched[LABEL], task)
    valid = typed.notna()
    rows = matched.assign(**{LABEL: typed})[valid].reset_index(drop=True)
    ignored = latest_labels(untrusted, now)[PREDICTION_ID].isin(set(settled[PREDICTION_ID]))
    return LabelledWindow(
        frame,
        rows,
        settled=len(settled),
        unmatched_feedback=len(labels) - len(matched),
        invalid_labels=int((~valid).sum()),
        untrusted_labels=int(ignored.sum()),
    )
