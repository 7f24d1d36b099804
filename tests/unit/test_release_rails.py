"""Release rails, the pure parts: where each environment's champion comes from, the apply
command's shape, the smoke test's judgement, and how `mlrails models` compares the champion
with the lock."""

from __future__ import annotations

import pytest

from mlrails.commands.operate import lock_line
from mlrails.config import parse_config
from mlrails.errors import BadRequest
from mlrails.promotion.lock import ModelLock
from mlrails.promotion.operations import Operation
from mlrails.release import smoke

DIGEST = "ab" * 32


def test_staging_and_prod_take_the_lock_and_dev_trains_unless_the_config_says(cfg):
    assert [cfg.models_source(name) for name in ("dev", "staging", "prod")] == ["train", "release", "release"]
    assert cfg.models_source("local") == "train"  # the local runtime's own environment
    document = cfg.model_dump(mode="json")
    document["environments"]["dev"]["models"] = "release"
    document["environments"]["prod"]["models"] = "train"
    changed = parse_config(document)
    assert [changed.models_source(name) for name in ("dev", "staging", "prod")] == ["release", "release", "train"]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"action": "apply"}, "apply needs operation.lock"),
        ({"action": "apply", "lock": {"not": "text"}}, "apply needs operation.lock"),
        ({"action": "apply", "lock": "{}", "commit": 7}, "operation.commit must be a string"),
    ],
)
def test_an_apply_command_carries_the_lock_text(body, message):
    with pytest.raises(BadRequest, match=message):
        Operation.from_body(body)
    assert Operation.from_body({"action": "apply", "lock": "{}", "commit": "abc"}).lock == "{}"


def _lock(**example) -> ModelLock:
    return ModelLock(
        model_name="churn-classifier",
        source_environment="dev",
        version="4",
        run_id="r",
        task="classification",
        classes=[0, 1],
        signature=[{"name": "x", "type": "numeric", "nullable": False}],
        manifest_sha256=DIGEST,
        files={"model.skops": DIGEST},
        metrics={},
        gate=None,
        training_data={},
        config_sha256="c",
        code_commit=None,
        kit_version="0.1.0",
        example={"records": [{"x": 1.0}, {"x": 2.0}], "predictions": [0.25, 1]} | example,
    )


def test_the_smoke_test_passes_an_environment_that_serves_the_lock():
    lock = _lock()
    version = (200, {"model_name": "churn-classifier", "model_version": "2", "lock_sha256": lock.digest})
    answered = (200, {"predictions": [0.25 + 1e-9, 1]})  # another CPU's last bits
    assert smoke.problems(lock, (200, {"status": "ok"}), version, answered) == []
    assert smoke.example_request(lock) == b'{"dataframe_records": [{"x": 1.0}, {"x": 2.0}]}'


def test_the_smoke_test_names_each_failure():
    lock = _lock()
    found = smoke.problems(
        lock,
        (503, {"error_code": "MODEL_NOT_READY"}),
        (200, {"model_name": "churn-classifier", "model_version": "3", "lock_sha256": None}),
        (200, {"predictions": [0.5, 1]}),
    )
    assert found[0].startswith("GET /ping answered 503")
    assert "v3 of no lock (trained here, or an emergency promotion): differs from the lock" in found[1]
    assert "answered [0.5, 1], the lock recorded [0.25, 1]" in found[2]
    other = smoke.problems(lock, (200, {}), (200, {"lock_sha256": "cd" * 32}), (400, {"error_code": "BAD_REQUEST"}))
    assert "of lock cdcdcdcdcdcd" in other[0] and other[1].startswith("POST /invocations of the lock's example")


def test_models_says_whether_the_champion_is_the_locks():
    assert lock_line(DIGEST, DIGEST).startswith("lock: the champion is the lock's (abababababab")
    assert "differs from the lock abababababab" in lock_line("cd" * 32, DIGEST)
    assert "emergency promotion or rollback) differs" in lock_line(None, DIGEST)
