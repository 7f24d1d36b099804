"""Questions 2 and 3: the verdicts yes / no / unknown from the config and the scores."""

import pytest
from sklearn.dummy import DummyClassifier

from mlrails.config import parse_config
from mlrails.errors import ConfigError
from mlrails.feasibility.action import SERVING_OVERHEAD_MS, action_answer
from mlrails.feasibility.value import Estimate, value_answer


def configured(cfg, section, **fields):
    document = cfg.model_dump(mode="json")
    document[section] = {**document[section], **fields} if fields else {}
    return parse_config(document)


def estimate(score=0.75, baseline=0.5, curve=((500, 0.70), (1000, 0.75))):
    return Estimate(
        "roc_auc",
        "mlrails.models:gradient_boosting",
        baseline,
        score,
        0.01,
        3,
        1500,
        [{"fraction": n / 1000, "rows": n, "score": s, "std": 0.01} for n, s in curve],
        DummyClassifier(),
    )


# --- path to action -------------------------------------------------------------------


def test_an_empty_use_case_is_unknown_and_names_the_fields_to_fill_in(cfg):
    answer = action_answer(configured(cfg, "use_case"), model_ms=5.0)
    assert answer.verdict == "unknown"
    assert answer.summary == ("fill in use_case.consumer, use_case.decision, use_case.action, use_case.latency")


def test_blank_fields_count_as_missing(cfg):
    answer = action_answer(configured(cfg, "use_case", action="  ", latency_ms=None), model_ms=5.0)
    assert answer.verdict == "unknown" and "use_case.action" in answer.summary
    assert "use_case.latency_ms" in answer.summary  # online needs a number


def test_a_latency_need_below_what_serving_delivers_is_no_with_both_numbers(cfg):
    answer = action_answer(configured(cfg, "use_case", latency_ms=20), model_ms=7.5)
    assert answer.verdict == "no"
    assert "needs 20 ms" in answer.summary and f"~{SERVING_OVERHEAD_MS + 7.5:.0f} ms" in answer.summary
    assert answer.evidence["serving"] | {"overhead_source": None} == {
        "model_ms": 7.5,
        "overhead_ms": SERVING_OVERHEAD_MS,
        "total_ms": SERVING_OVERHEAD_MS + 7.5,
        "overhead_source": None,
    }


def test_a_measured_overhead_replaces_the_assumption(cfg):
    answer = action_answer(configured(cfg, "use_case", latency_ms=20), model_ms=2.0, overhead_ms=10)
    assert answer.verdict == "yes" and "10 ms gateway and Lambda given" in answer.summary


def test_online_within_reach_and_batch_are_yes(cfg):
    assert action_answer(cfg, model_ms=5.0).verdict == "yes"
    batch = action_answer(configured(cfg, "use_case", latency="batch", latency_ms=None), model_ms=None)
    assert batch.verdict == "yes" and "batch scoring" in batch.summary


def test_an_unmeasured_model_is_unknown_unless_the_overhead_alone_is_too_slow(cfg):
    assert action_answer(cfg, model_ms=None).verdict == "unknown"
    assert action_answer(configured(cfg, "use_case", latency_ms=10), model_ms=None).verdict == "no"


# --- value at lower accuracy ----------------------------------------------------------


def test_without_a_minimum_the_value_is_unknown(cfg):
    answer = value_answer(configured(cfg, "value", minimum=None, value_per_point=None), estimate(), None)
    assert answer.verdict == "unknown" and "set value.minimum" in answer.summary


def test_clearing_the_minimum_with_margin_is_yes_with_business_values(cfg):
    answer = value_answer(cfg, estimate(score=0.75), None)
    assert answer.verdict == "yes" and "clears the minimum 0.65 by 0.100" in answer.summary
    # value_per_point 1500 per 0.01 of roc_auc beyond the minimum 0.65
    assert answer.evidence["business_value"] == {"baseline": -22500.0, "quick_model": 15000.0, "minimum": 0.0}


def test_below_the_minimum_is_no(cfg):
    answer = value_answer(cfg, estimate(score=0.6), None)
    assert answer.verdict == "no" and [f.code for f in answer.findings if f.severity == "blocker"] == ["below_minimum"]


def test_within_the_margin_is_unknown(cfg):
    answer = value_answer(cfg, estimate(score=0.66), None)
    assert answer.verdict == "unknown" and "too close" in answer.summary


def test_no_score_is_unknown_with_the_reason(cfg):
    answer = value_answer(cfg, None, None, "the data has no usable labels")
    assert answer.verdict == "unknown" and answer.summary == "cannot score a model: the data has no usable labels"


def test_error_metrics_are_judged_downwards(cfg):
    document = cfg.model_dump(mode="json")
    document["dataset"]["task"] = "regression"
    document["promotion"].update(metric=None, guards={})
    document["monitoring"]["performance"].update(metric=None, minimum=None)
    document["value"].update(metric="rmse", minimum=10.0, value_per_point=100)
    project = parse_config(document)
    good = value_answer(project, estimate(score=7.0, baseline=12.0), None)
    assert good.verdict == "yes" and good.evidence["business_value"]["quick_model"] == pytest.approx(30000)
    assert value_answer(project, estimate(score=11.0, baseline=12.0), None).verdict == "no"


def test_a_business_value_function_is_called_with_the_score(cfg):
    project = configured(cfg, "value", value_per_point=None, function="math:log10")
    answer = value_answer(project, estimate(score=0.75), None)
    assert answer.evidence["business_value"]["quick_model"] == pytest.approx(-0.12)
    assert answer.verdict == "no"  # a negative value at the quick model's score is not worth it


def test_a_business_value_function_that_does_not_import_is_a_clear_error(cfg):
    with pytest.raises(ConfigError, match=r"value\.function 'nowhere:value' cannot be imported"):
        value_answer(configured(cfg, "value", value_per_point=None, function="nowhere:value"), estimate(), None)


def test_the_learning_curve_says_whether_more_data_would_help(cfg):
    rising = value_answer(cfg, estimate(curve=((500, 0.70), (1000, 0.75))), None)
    flat = value_answer(cfg, estimate(curve=((500, 0.749), (1000, 0.75))), None)
    assert "still rising" in next(f.message for f in rising.findings if f.code == "learning_curve")
    assert "flat" in next(f.message for f in flat.findings if f.code == "learning_curve")


# --- the config sections --------------------------------------------------------------


@pytest.mark.parametrize(
    ("section", "fields", "named"),
    [
        ("use_case", {"latency": "sometimes"}, "use_case.latency"),
        ("use_case", {"latency_ms": -5}, "use_case.latency_ms"),
        ("use_case", {"latency": "batch", "latency_ms": 100}, "latency_ms applies to latency: online only"),
        ("use_case", {"who": "me"}, "use_case.who"),
        ("value", {"metric": "rmse"}, "value.metric 'rmse' does not fit task"),
        ("value", {"minimum": 1.5}, "value.minimum 1.5 is outside [0, 1]"),
        ("value", {"margin": -0.1}, "value.margin"),
        ("value", {"function": "not a function"}, "value.function"),
        ("value", {"function": "math:log10", "value_per_point": 3}, "value_per_point or function, not both"),
        ("dataset", {"min_rows": 0}, "dataset.min_rows"),
        ("dataset", {"min_coverage_days": 0}, "dataset.min_coverage_days"),
    ],
)
def test_config_errors_name_the_field(cfg, section, fields, named):
    with pytest.raises(ConfigError) as error:
        configured(cfg, section, **fields)
    assert named in str(error.value)


def test_configs_without_the_new_sections_stay_valid(cfg):
    document = cfg.model_dump(mode="json")
    for section in ("use_case", "value"):
        del document[section]
    for field in ("not_available_at_prediction", "min_rows", "min_coverage_days"):
        del document["dataset"][field]
    project = parse_config(document)
    assert project.use_case.consumer == "" and project.value.minimum is None
    assert project.value_metric == "roc_auc"  # the gate's, without a value section
