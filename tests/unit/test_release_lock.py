"""The model lock: canonical text, strict reading, tamper detection, schema checks."""

from __future__ import annotations

import json

import pytest

from mlrails.config import Feature
from mlrails.errors import TamperedArtifact
from mlrails.promotion.lock import (
    LockInvalid,
    ModelLock,
    from_manifest,
    lock_path,
    release_key,
    schema_problems,
    verify,
)
from mlrails.serving.manifest import Manifest

MODEL = b"model bytes"
PROFILE = b'{"features": {}}'


def _manifest(cfg) -> Manifest:
    prefix = "s3://artifacts/models/churn-classifier/v3/"
    return Manifest(
        model_name="churn-classifier",
        version="3",
        run_id="run-3",
        artifact_uri=f"{prefix}model.skops",
        profile_uri=f"{prefix}profile.json",
        task="classification",
        features=[f.model_dump() for f in cfg.dataset.features],
        metrics={"roc_auc": 0.71},
        promoted_at="2026-03-02T00:00:00+00:00",
        trained_at="2026-03-01T00:00:00+00:00",
        reason="gate",
        classes=[0, 1],
        files={
            f"{prefix}model.skops": {"sha256": _sha(MODEL), "version_id": "v-1"},
            f"{prefix}profile.json": {"sha256": _sha(PROFILE), "version_id": "v-2"},
        },
    )


def _sha(body: bytes) -> str:
    import hashlib

    return hashlib.sha256(body).hexdigest()


@pytest.fixture
def lock(cfg) -> ModelLock:
    manifest = _manifest(cfg)
    return from_manifest(
        manifest,
        manifest.to_json().encode(),
        source_environment="dev",
        run_tags={"data.uri": "s3://data/features/", "data.sha256": "ab" * 32, "config.sha": "cfg1", "trigger.id": "t"},
        gate={"metric": "roc_auc", "metrics": {"roc_auc": 0.71}, "baseline_metrics": {"roc_auc": 0.68}},
        kit_version="0.1.0",
        example={"records": [{"tenure_months": 3}], "predictions": [1]},
    )


def test_a_lock_pins_every_file_and_its_lineage(lock):
    assert lock.files == {"model.skops": _sha(MODEL), "profile.json": _sha(PROFILE)}
    assert lock.training_data == {"sha256": "ab" * 32, "uri": "s3://data/features/"}
    assert (lock.config_sha256, lock.code_commit, lock.source_environment) == ("cfg1", None, "dev")
    assert [c["name"] for c in lock.signature][:2] == ["tenure_months", "monthly_charges"]


def test_the_text_is_canonical_and_reads_back_the_same(lock, tmp_path):
    text = lock.to_json()
    assert text.endswith("}\n") and json.loads(text) == json.loads(ModelLock.from_json(text).to_json())
    assert ModelLock.from_json(text) == lock and ModelLock.from_json(text).digest == lock.digest
    assert lock_path(tmp_path, lock.model_name) == tmp_path / "release" / "churn-classifier.lock.json"
    assert release_key(lock.files["model.skops"]) == f"release/sha256/{_sha(MODEL)}"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d | {"lock_version": 2}, "this kit reads version 1"),
        (lambda d: d | {"approved_by": "me"}, "unknown \\['approved_by'\\]"),
        (lambda d: {k: v for k, v in d.items() if k != "files"}, "missing \\['files'\\]"),
        (lambda d: d | {"files": {"model.skops": "not a digest"}}, "sha256"),
    ],
)
def test_a_lock_that_is_not_ours_is_refused(lock, change, message):
    with pytest.raises(LockInvalid, match=message):
        ModelLock.from_json(json.dumps(change(json.loads(lock.to_json()))))


def test_a_file_is_served_only_as_the_lock_pins_it(lock):
    assert verify(lock, "model.skops", MODEL) == MODEL
    with pytest.raises(TamperedArtifact, match="is not the file the lock"):
        verify(lock, "model.skops", MODEL + b" and a gadget")
    with pytest.raises(TamperedArtifact, match=r"pins no file model\.pkl"):
        verify(lock, "model.pkl", MODEL)


def test_a_config_whose_schema_the_model_does_not_accept_is_named_column_by_column(lock, cfg):
    assert schema_problems(lock, cfg.dataset) == []
    features = [f for f in cfg.dataset.features if f.name != "region"]
    features[0] = Feature(name=features[0].name, type="categorical")
    features.append(Feature(name="contract", type="categorical", nullable=True))
    changed = cfg.dataset.model_copy(update={"features": tuple(features)})
    assert schema_problems(lock, changed) == [
        "tenure_months: the model reads it as numeric, the config as categorical",
        "region: the model needs it, the config has no such feature",
        "contract: in the config, unknown to the model",
    ]
