"""Promotion rails: the gate against the champion or the placeholder baseline, manual
promotion, rollback, aliases and manifest kept consistent, and the audit log."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest

from mlrails.adapters import manifests, s3
from mlrails.adapters.registry import Registry
from mlrails.promotion import rails
from mlrails.serving.manifest import history_key
from mlrails.training import lifecycle
from support.aws import DAY

REAL = "mlrails.models:gradient_boosting"


def _config(cfg, entrypoint: str, **promotion_rules):
    rules = cfg.promotion.model_copy(update={"metric": "roc_auc", **promotion_rules})
    return cfg.model_copy(update={"model": cfg.model.model_copy(update={"entrypoint": entrypoint}), "promotion": rules})


def _train(cfg, promotion_env, n: int):
    settings, registry = promotion_env
    return lifecycle.train_and_promote(
        cfg, settings, registry, reason="test", trigger_id=f"t{n}", at=DAY + timedelta(hours=n)
    )


def _aliases(registry: Registry) -> dict[str, str]:
    return {alias: version for row in registry.versions() for alias in row["aliases"] for version in [row["version"]]}


def test_first_real_model_must_beat_the_placeholder(cfg, promotion_env):
    settings, _ = promotion_env
    strict = _config(cfg, REAL, min_improvement=0.9)  # no model gains 0.9 AUC over 0.5

    outcome = _train(strict, promotion_env, 1)

    assert not outcome.promoted
    assert "vs placeholder baseline" in outcome.reason and outcome.reason.endswith("not enough")
    assert outcome.champion_metrics["roc_auc"] == pytest.approx(0.5)
    assert manifests.read_current(settings.artifacts_bucket, cfg.model.name) is None


def test_placeholder_then_real_model_then_rollback_keeps_manifest_and_aliases_consistent(cfg, promotion_env):
    settings, registry = promotion_env
    first = _train(_config(cfg, "mlrails.models:placeholder"), promotion_env, 1)
    second = _train(_config(cfg, REAL, min_improvement=0.05), promotion_env, 2)
    assert first.promoted and second.promoted
    assert "roc_auc 0.5000 -> " in second.reason and "vs champion v1" in second.reason
    current = manifests.read_current(settings.artifacts_bucket, cfg.model.name)
    assert (current.version, current.previous_version) == ("2", "1")
    assert _aliases(registry) == {"champion": "2", "previous": "1", "challenger": "2"}

    rolled = rails.rollback(settings, registry, cfg.model.name, at=DAY + timedelta(hours=3), by="alice")

    current = manifests.read_current(settings.artifacts_bucket, cfg.model.name)
    # v1 was the first champion: nothing before it, so no "previous" to roll back to.
    assert rolled == current and (current.version, current.previous_version) == ("1", None)
    assert current.artifact_uri.endswith("/v1/model.skops") and current.reason == "rollback from v2"
    assert _aliases(registry)["champion"] == "1" and "previous" not in _aliases(registry)

    # Back at the first champion: nothing earlier to go to (no toggling back to v2).
    with pytest.raises(rails.PromotionError, match="no earlier champion"):
        rails.rollback(settings, registry, cfg.model.name, at=DAY + timedelta(hours=4), by="alice")

    log = rails.audit_log(settings, cfg.model.name)
    assert [(r["action"], r["version"], r["by"]) for r in log] == [
        ("promote", "1", "gate"),
        ("promote", "2", "gate"),
        ("rollback", "1", "alice"),
    ]
    assert log[2]["reason"] == "rollback from v2" and log[2]["previous_version"] is None


def test_a_rejected_challenger_is_recorded_and_can_still_be_promoted_by_hand_with_force(cfg, promotion_env):
    settings, registry = promotion_env
    _train(_config(cfg, REAL), promotion_env, 1)
    rejected = _train(_config(cfg, "mlrails.models:placeholder"), promotion_env, 2)
    assert not rejected.promoted and "not enough" in rejected.reason

    log = rails.audit_log(settings, cfg.model.name)
    assert log[-1]["action"] == "reject" and log[-1]["version"] == "2"
    assert log[-1]["gate"]["baseline_metrics"]["roc_auc"] > log[-1]["gate"]["metrics"]["roc_auc"]

    at = DAY + timedelta(hours=5)
    with pytest.raises(rails.PromotionError, match="rejected by the gate"):
        rails.promote(settings, registry, cfg.model.name, "2", reason="operator override", at=at, by="bob")
    manifest = rails.promote(
        settings, registry, cfg.model.name, "2", reason="operator override", at=at, by="bob", force=True
    )
    assert manifest.version == "2" and manifest.previous_version == "1"
    assert rails.audit_log(settings, cfg.model.name)[-1]["forced_over"] == rejected.reason
    assert manifests.read_current(settings.artifacts_bucket, cfg.model.name).version == "2"


def test_impossible_requests_are_clear_errors(cfg, promotion_env):
    settings, registry = promotion_env
    with pytest.raises(rails.PromotionError, match="no earlier champion"):
        rails.rollback(settings, registry, cfg.model.name, at=DAY, by="alice")
    _train(_config(cfg, "mlrails.models:placeholder"), promotion_env, 1)
    with pytest.raises(rails.PromotionError, match="v7 has no candidate manifest"):
        rails.promote(settings, registry, cfg.model.name, "7", reason="?", at=DAY, by="alice")
    with pytest.raises(rails.PromotionError, match="already the champion"):
        rails.promote(settings, registry, cfg.model.name, "1", reason="?", at=DAY, by="alice")


def _challenger_evaluated(cfg, promotion_env, at):
    """Champion v1 (the placeholder), then a real challenger v2 trained and evaluated, not finished."""
    settings, registry = promotion_env
    _train(_config(cfg, "mlrails.models:placeholder"), promotion_env, 1)
    real = _config(cfg, REAL, min_improvement=0.05)
    trained = lifecycle.train_step(real, settings, registry, reason="r", trigger_id="t2", at=at)
    evaluation = lifecycle.evaluate_step(
        real, settings, registry, version=trained["version"], trained_through=trained["trained_through"], at=at
    )
    return real, evaluation


def _finish_through(cfg, promotion_env, evaluation, **ports):
    """The finish step of v2, with the deployed rails ports but ``ports`` replaced."""
    settings, registry = promotion_env
    failing = replace(rails.RailsPorts.deployed(settings), **ports)
    return lifecycle.finish_step(
        cfg, settings, registry, version="2", evaluation=evaluation, at=DAY + timedelta(hours=2), rails_ports=failing
    )


def test_a_promotion_interrupted_after_its_commit_point_is_finished_by_the_retry(cfg, promotion_env):
    settings, registry = promotion_env
    real, evaluation = _challenger_evaluated(cfg, promotion_env, DAY + timedelta(hours=2))

    def throttled(event, at):
        raise RuntimeError("throttled")

    # The manifest is written, then the event fails (a throttled PutEvents, say).
    with pytest.raises(RuntimeError):
        _finish_through(real, promotion_env, evaluation, publish=throttled)
    assert manifests.read_current(settings.artifacts_bucket, cfg.model.name).version == "2"

    retried = lifecycle.finish_step(
        real, settings, registry, version="2", evaluation=evaluation, at=DAY + timedelta(hours=2)
    )

    assert retried["promoted"] is True
    assert _aliases(registry)["champion"] == "2" and _aliases(registry)["previous"] == "1"
    assert [r["version"] for r in rails.audit_log(settings, cfg.model.name)] == ["1", "2"]


def test_a_champion_that_changed_during_the_run_is_not_overwritten(cfg, promotion_env):
    settings, _ = promotion_env
    real, evaluation = _challenger_evaluated(cfg, promotion_env, DAY)
    _train(real, promotion_env, 3)  # another run promotes v3 meanwhile

    outcome = lifecycle.finish_step(real, settings, promotion_env[1], version="2", evaluation=evaluation, at=DAY)

    assert outcome["promoted"] is False and "the champion changed during this run" in outcome["reason"]
    assert manifests.read_current(settings.artifacts_bucket, cfg.model.name).version == "3"


def test_a_crash_before_the_commit_point_leaves_the_old_champion_whole(cfg, promotion_env):
    settings, registry = promotion_env
    real, evaluation = _challenger_evaluated(cfg, promotion_env, DAY + timedelta(hours=2))

    def crash_on_the_pointer(manifest):
        # As manifests.write goes: the version's history is recorded, then the process dies
        # before the pointer inference reads.
        s3.put_bytes(
            s3.uri(settings.artifacts_bucket, history_key(manifest.model_name, manifest.version)),
            manifest.to_json().encode(),
            "application/json",
        )
        raise ConnectionError("the process died here")

    with pytest.raises(ConnectionError):
        _finish_through(real, promotion_env, evaluation, write_current=crash_on_the_pointer)

    current = manifests.read_current(settings.artifacts_bucket, cfg.model.name)
    assert current.version == "1" and current.artifact_uri.endswith("/v1/model.skops")  # whole, and the old one
    assert _aliases(registry)["champion"] == "1"  # the registry agrees with what serves
    retried = lifecycle.finish_step(
        real, settings, registry, version="2", evaluation=evaluation, at=DAY + timedelta(hours=3)
    )
    assert retried["promoted"] is True
    assert manifests.read_current(settings.artifacts_bucket, cfg.model.name).version == "2"


def test_rollback_walks_back_through_the_history_and_a_rejected_version_needs_force(cfg, promotion_env):
    settings, registry = promotion_env
    for n in (1, 2, 3):  # the placeholder three times: each fresher model wins the tie
        assert _train(_config(cfg, "mlrails.models:placeholder", min_improvement=0.0), promotion_env, n).promoted
    at = DAY + timedelta(hours=5)

    assert rails.rollback(settings, registry, cfg.model.name, at=at, by="alice").version == "2"
    back = rails.rollback(settings, registry, cfg.model.name, at=at, by="alice")
    assert (back.version, back.previous_version) == ("1", None)  # v1, not back to v3
    with pytest.raises(rails.PromotionError, match="no earlier champion"):
        rails.rollback(settings, registry, cfg.model.name, at=at, by="alice")

    # A challenger the gate rejects, then a person who wants it anyway.
    rejected = _train(_config(cfg, "mlrails.models:placeholder", min_improvement=0.5), promotion_env, 4)
    assert not rejected.promoted
    with pytest.raises(rails.PromotionError, match=r"v4 was rejected by the gate .* --force"):
        rails.promote(settings, registry, cfg.model.name, "4", reason="I know better", at=at, by="alice")
    forced = rails.promote(
        settings, registry, cfg.model.name, "4", reason="I know better", at=at, by="alice", force=True
    )
    assert forced.version == "4"
    record = rails.audit_log(settings, cfg.model.name)[-1]
    assert record["action"] == "promote" and record["forced_over"] == rejected.reason


def test_in_manual_mode_the_gate_recommends_and_a_person_promotes_without_force(cfg, promotion_env):
    settings, registry = promotion_env
    _train(_config(cfg, "mlrails.models:placeholder"), promotion_env, 1)
    manual = _config(cfg, REAL, mode="manual")
    outcome = _train(manual, promotion_env, 2)

    assert not outcome.promoted and "promotion.mode is manual: run `mlrails promote --version 2`" in outcome.reason
    assert rails.audit_log(settings, cfg.model.name)[-1]["action"] == "recommend"
    promoted = rails.promote(settings, registry, cfg.model.name, "2", reason="reviewed", at=DAY, by="alice")
    assert promoted.version == "2" and "forced_over" not in rails.audit_log(settings, cfg.model.name)[-1]
