"""`mlrails simulate`, compressed: drift from day 3, a concept shift on day 9, 18 days. The kit
must catch the drift after it starts (never before), retrain, let the gate decide, and bring
the business metric back after the shift, with a report that shows it."""

import io
import os
import shutil
from pathlib import Path

import pytest

from mlrails.adapters import deployed
from mlrails.config import load_config
from mlrails.local.simulation import Scenario, outcome, run_simulation, simulation_config

REPO = Path(__file__).resolve().parents[2]
SCENARIO = Scenario(days=18, drift_start=3, drift_full=4, shift_day=9, history_rows=1500)

pytestmark = [pytest.mark.e2e, pytest.mark.scenario]


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    project = tmp_path_factory.mktemp("simulation")
    example = load_config(REPO / "mlrails.yaml")
    # Days instead of weeks: labels a day late, a performance window of two days, and a
    # training window short enough to forget the world before the shift within the run.
    cfg = example.model_copy(
        update={
            "training": example.training.model_copy(update={"window_days": 3}),
            "monitoring": example.monitoring.model_copy(
                update={
                    "label_delay_hours": 24,
                    "performance": example.monitoring.performance.model_copy(update={"window_hours": 48}),
                }
            ),
        }
    )
    cfg, note = simulation_config(cfg, None)
    out, saved = io.StringIO(), dict(os.environ)
    try:
        days, failures = run_simulation(cfg, project, out, SCENARIO, report_path=project / "simulation.html")
    finally:
        os.environ.clear()
        os.environ.update(saved)
        deployed.reset()
    yield days, failures, out.getvalue(), project / "simulation.html", note
    shutil.rmtree(project / ".mlrails-simulation", ignore_errors=True)


def test_every_handler_run_succeeds_and_each_day_is_printed(run):
    days, failures, printed, _, note = run
    assert not failures
    assert len(days) == SCENARIO.days and printed.count("] day ") == SCENARIO.days
    assert "gradient_boosting" in note  # the example config names the placeholder


def test_drift_is_caught_after_it_starts_and_a_retrain_follows(run):
    days, *_ = run
    result = outcome(days, SCENARIO)
    assert result.first_drift_day is not None and result.first_drift_day >= SCENARIO.drift_start
    assert result.first_retrain_after_drift is not None
    assert result.decisions, "the gate decided nothing after the drift"


def test_the_business_metric_drops_after_the_shift_and_recovers(run):
    days, *_ = run
    result = outcome(days, SCENARIO)
    assert result.worst_accuracy_after_shift < result.accuracy_before_shift - 0.1
    assert result.recovered, result
    # The performance check saw the drop once labels arrived: never before the world changed.
    degraded = [d.day for d in days if "PerformanceDegraded" in d.events]
    assert degraded and min(degraded) > SCENARIO.drift_start


def test_the_report_is_one_self_contained_page_with_the_plots(run):
    *_, report, _ = run
    html = report.read_text()
    assert html.startswith("<!doctype html>") and "http://" not in html.replace(
        'xmlns="http://www.w3.org/2000/svg"', ""
    )
    assert "https://" not in html and "<script" not in html
    for section in ("Input drift", "Business metric", "Model versions", "What the kit did"):
        assert section in html
    assert html.count("<svg") == 4 and html.count("<polyline") >= 5


def test_with_feedback_rows_the_kit_learns_from_the_labels_fed_back_to_it(tmp_path, restore_environ):
    # No nightly export: after the history, the only new training rows are the outcomes posted
    # to /feedback, written a settled day at a time, and counted toward the new_data trigger.
    example = load_config(REPO / "mlrails.yaml")
    cfg = example.model_copy(
        update={
            "monitoring": example.monitoring.model_copy(update={"label_delay_hours": 24}),
            "retraining": example.retraining.model_copy(update={"min_new_rows": 500, "triggers": ("new_data",)}),
        }
    )
    cfg, note = simulation_config(cfg, None, feedback_rows=True)
    quiet = Scenario(days=6, drift_start=100, shift_day=100, history_rows=1500)

    days, failures = run_simulation(cfg, tmp_path, io.StringIO(), quiet, report_path=tmp_path / "simulation.html")

    assert not failures and "training.feedback_rows on" in note
    events = [(d.day, e) for d in days for e in d.events]
    # Each day's 300 outcomes once posted (a nightly batch, after they are due): the first
    # request of day 0 is due on day 1, the rest of day 0 and the first of day 1 on day 2...
    assert [(day, e) for day, e in events if "from feedback" in e] == [
        (1, "50 training rows from feedback"),
        *[(day, "300 training rows from feedback") for day in range(2, 6)],
    ]
    # 650 fed-back rows reach min_new_rows=500 on day 3: a run on the history and them, its
    # holdout a fifth of the 1,500 + 650 rows.
    assert [day for day, e in events if e == "retrain (new_data)"] == [3]
    (decision,) = [e for day, e in events if e.startswith("v2 ")]
    assert "scored on 430 holdout" in decision
