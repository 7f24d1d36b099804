"""`mlrails check` end to end on local files: verdicts, exit codes, JSON, HTML, CSV and
Parquet, the shipped examples, and clear errors instead of tracebacks."""

import io
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from mlrails.cli import main
from mlrails.config import parse_config
from mlrails.feasibility import CheckOptions, run_check
from mlrails.local.synthetic import churn_frame, example_frames

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "examples"
FAST = CheckOptions(sample_rows=800, folds=2, curve_fractions=(0.5,))


@pytest.fixture(scope="module")
def fast_cfg(cfg):
    """The example config with a linear quick model (gradient boosting is ~0.3 s a fit)."""
    document = cfg.model_dump(mode="json")
    document["model"]["entrypoint"] = "feasibility_models:linear"
    return parse_config(document)


@pytest.fixture(scope="module")
def week(tmp_path_factory):
    frame = churn_frame(1000, datetime(2026, 1, 5, tzinfo=UTC), seed=5, span=timedelta(days=7))
    folder = tmp_path_factory.mktemp("data")
    frame.to_csv(folder / "week.csv", index=False)
    frame.to_parquet(folder / "week.parquet", index=False)
    return folder


def check(cfg, data, **kwargs):
    out, err = io.StringIO(), io.StringIO()
    code = run_check(cfg, str(data), out, options=FAST, progress=err, **kwargs)
    return code, out.getvalue(), err.getvalue()


@pytest.fixture(scope="module")
def runs(fast_cfg, week):
    """One --json run per format: the CSV's report where --out says, the Parquet's by default."""
    csv = check(fast_cfg, week / "week.csv", as_json=True, report=str(week / "r.html"))
    parquet = check(fast_cfg, week / "week.parquet", as_json=True)
    return {name: (code, json.loads(out), err) for name, (code, out, err) in (("csv", csv), ("parquet", parquet))}


def test_the_example_dataset_passes_with_three_yes(tmp_path, capsys):
    code = main(
        [
            "--config",
            str(REPO / "mlrails.yaml"),
            "check",
            "--data",
            str(EXAMPLES / "churn.csv"),
            "--sample-rows",
            "1000",
            "--folds",
            "2",
            "--out",
            str(tmp_path / "report.html"),
        ]
    )
    out = capsys.readouterr().out
    assert code == 0
    assert out.count(" YES ") == 3 and "exit 0" in out


def test_the_leaky_example_names_the_leaking_column_and_fails(tmp_path, capsys):
    code = main(
        [
            "--config",
            str(REPO / "mlrails.yaml"),
            "check",
            "--data",
            str(EXAMPLES / "churn-leaky.csv"),
            "--sample-rows",
            "1000",
            "--folds",
            "2",
            "--out",
            str(tmp_path / "report.html"),
        ]
    )
    out = capsys.readouterr().out
    assert code == 1
    assert "1. Is the right data available?" in out and " NO " in out
    assert "support_calls alone predicts churned" in out
    assert "monthly_charges: 12.9% missing" in out
    html = (tmp_path / "report.html").read_text()
    assert "Leakage suspect <code>support_calls</code>" in html


def test_the_shipped_examples_are_what_the_generator_writes():
    for name, frame in example_frames().items():
        assert (EXAMPLES / name).read_text() == frame.to_csv(index=False), (
            "regenerate: python -m mlrails.local.synthetic"
        )


def test_json_is_one_document_with_the_verdicts_and_the_evidence(runs, week):
    code, document, _ = runs["csv"]
    assert code == document["exit_code"] == 0 and document["passed"] is True
    assert document["schema_version"] == "1"
    assert document["verdicts"] == {"data": "yes", "action": "yes", "value": "yes"}
    assert document["data"] == {
        "uri": str(week / "week.csv"),
        "rows": 1000,
        "columns": ["event_time", "tenure_months", "monthly_charges", "support_calls", "plan", "region", "churned"],
    }
    assert [q["id"] for q in document["questions"]] == ["data", "action", "value"]
    for question in document["questions"]:
        assert set(question) == {"id", "question", "verdict", "summary", "findings", "evidence"}
        for finding in question["findings"]:
            assert set(finding) == {"code", "severity", "message", "column", "value", "threshold"}
    value = document["questions"][2]["evidence"]
    assert value["quick_model"]["entrypoint"] == "feasibility_models:linear"
    assert [p["fraction"] for p in value["learning_curve"]] == [0.5, 1.0]
    assert document["report_html"] == str(week / "r.html")


def test_csv_and_parquet_give_the_same_answer(runs):
    answers = [runs["csv"][1], runs["parquet"][1]]
    assert answers[0]["verdicts"] == answers[1]["verdicts"]
    assert answers[0]["questions"][0]["evidence"] == answers[1]["questions"][0]["evidence"]


def test_the_html_report_lands_beside_the_data_and_is_self_contained(runs, week):
    code, document, progress = runs["parquet"]
    page = (week / "week.check.html").read_text()
    assert code == 0 and document["report_html"] == str(week / "week.check.html")
    assert page.count("<svg") >= 4  # missing rates, label, single-feature scores, drift, learning curve
    assert "Learning curve" in page and "Missing values per column" in page
    assert "http://" not in page.replace('xmlns="http://www.w3.org/2000/svg"', "") and "https://" not in page
    assert "<script" not in page
    assert "mlrails check: learning curve" in progress  # progress goes to its own stream


def test_unknown_verdicts_when_the_config_says_nothing_about_action_and_value(fast_cfg, week):
    document = fast_cfg.model_dump(mode="json")
    document["use_case"], document["value"] = {}, {}
    code, out, _ = check(parse_config(document), week / "week.csv", report=str(week / "u.html"))
    assert code == 1
    assert "UNKNOWN  fill in use_case.consumer" in out
    assert "set value.minimum to judge it" in out and "modeling is premature (exit 1)" in out


def test_data_without_labels_cannot_be_scored_but_is_still_checked(fast_cfg, week, tmp_path):
    churn_frame(300, datetime(2026, 1, 5, tzinfo=UTC), seed=1, with_target=False).to_csv(tmp_path / "x.csv")
    code, out, _ = check(fast_cfg, tmp_path / "x.csv", as_json=True)
    document = json.loads(out)
    assert code == 1 and document["verdicts"] == {"data": "no", "action": "unknown", "value": "unknown"}
    assert document["questions"][2]["summary"] == "cannot score a model: the data has no usable labels"


@pytest.mark.parametrize(
    ("name", "body", "message"),
    [
        ("absent.csv", None, "mlrails: no data file at"),
        ("garbage.parquet", b"not parquet at all", "garbage.parquet cannot be parsed"),
        ("broken.csv", b'a,b\n"unterminated,1\n', "broken.csv cannot be parsed"),
        ("empty.csv", b"", "empty.csv is empty (0 bytes)"),
        ("notes.txt", b"hello", "neither .csv, .csv.gz nor .parquet"),
        ("other.csv", b"id,score\n1,2\n", "the data does not match the config: column(s) event_time, tenure_months"),
    ],
)
def test_bad_inputs_are_a_message_and_exit_2_not_a_traceback(tmp_path, capsys, name, body, message):
    if body is not None:
        (tmp_path / name).write_bytes(body)
    code = main(["--config", str(REPO / "mlrails.yaml"), "check", "--data", str(tmp_path / name)])
    captured = capsys.readouterr()
    assert code == 2 and message in captured.err
    assert "Traceback" not in captured.err + captured.out and captured.out == ""


def test_a_config_that_does_not_load_is_exit_2(tmp_path, capsys):
    config = tmp_path / "mlrails.yaml"
    config.write_text((REPO / "mlrails.yaml").read_text().replace("latency_ms: 300", "latency_ms: -1"))
    assert main(["--config", str(config), "check", "--data", str(EXAMPLES / "churn.csv")]) == 2
    assert "use_case.latency_ms: Input should be greater than 0" in capsys.readouterr().err


def test_bad_options_are_exit_2(capsys):
    assert main(["check", "--data", str(EXAMPLES / "churn.csv"), "--folds", "1"]) == 2
    assert "folds must be at least 2" in capsys.readouterr().err


@pytest.mark.parametrize(("coverage", "severity"), [(None, "info"), (5, "blocker")])
def test_data_without_a_timestamp_is_checked_in_row_order(fast_cfg, tmp_path, coverage, severity):
    document = fast_cfg.model_dump(mode="json")
    document["dataset"].update(timestamp=None, min_coverage_days=coverage)
    untimed = tmp_path / "untimed.csv"
    churn_frame(1200, datetime(2026, 1, 5, tzinfo=UTC), seed=5).drop(columns="event_time").to_csv(untimed, index=False)

    code, out, _ = check(parse_config(document), untimed, as_json=True)

    data = next(q for q in json.loads(out)["questions"] if q["id"] == "data")
    [finding] = [f for f in data["findings"] if f["code"] == "no_timestamp"]
    assert finding["severity"] == severity and "arrival time" in finding["message"]
    assert data["evidence"]["drift"]["order"] == "row order"
    assert (data["verdict"] == "no") == (severity == "blocker") and code in (0, 1)
