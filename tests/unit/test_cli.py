from mlrails.cli import main
from mlrails.commands.operate import models_lines
from mlrails.data.dataset import prepare_features, read_parquet
from support.samples import REPO


def test_generate_writes_data_the_example_config_accepts(tmp_path, cfg, capsys):
    out = tmp_path / "drifted.parquet"
    assert main(["generate", str(out), "--rows", "300", "--drift", "0.7", "--seed", "3"]) == 0
    features = prepare_features(read_parquet(out.read_bytes()), cfg.dataset)
    assert len(features) == 300
    assert "wrote 300 rows" in capsys.readouterr().out


def test_an_invalid_config_is_a_message_not_a_traceback(tmp_path, capsys):
    config = tmp_path / "mlrails.yaml"
    config.write_text("project: churn\nmodel: {name: m}\n")
    assert main(["--config", str(config), "demo"]) == 2
    error = capsys.readouterr().err
    assert "dataset: Field required" in error and "environments: Field required" in error
    assert "Traceback" not in error


def test_the_project_folder_is_importable_for_its_entrypoint(tmp_path, cfg, monkeypatch):
    import argparse
    import sys

    from mlrails.commands.project import load_project
    from mlrails.models import load_entrypoint

    (tmp_path / "mlrails.yaml").write_text((REPO / "mlrails.yaml").read_text())
    (tmp_path / "project_models_for_cli_test.py").write_text(
        "from sklearn.dummy import DummyClassifier\n\n\ndef build(dataset, seed):\n    return DummyClassifier()\n"
    )
    (tmp_path / "notebooks").mkdir()
    monkeypatch.chdir(tmp_path / "notebooks")
    monkeypatch.setattr(sys, "path", list(sys.path))

    loaded, project_dir = load_project(argparse.Namespace(config=None))

    assert project_dir == tmp_path and loaded.project == cfg.project
    estimator = load_entrypoint("project_models_for_cli_test:build", loaded.dataset, 0)
    assert type(estimator).__name__ == "DummyClassifier"


def _gate(promote: bool, challenger: float, baseline: str | None, score: float | None, champion: str | None) -> dict:
    """A version's gate comparison as the listing carries it (mlrails.promotion.gate.Comparison)."""
    return {
        "promote": promote,
        "reason": "...",
        "metric": "roc_auc",
        "metrics": {"roc_auc": challenger, "accuracy": 0.8},
        "baseline": baseline,
        "baseline_metrics": None if score is None else {"roc_auc": score, "accuracy": 0.8},
        "champion_version": champion,
        "holdout_rows": 120,
        "feedback_rows": 300,
        "ignored_labels": 0,
    }


def _version(version, aliases, own, gate, decision, serving=None, forced_by=None) -> dict:
    return {
        "version": version,
        "aliases": aliases,
        "run_id": f"run{version}",
        "created": 0,
        "metrics": {"roc_auc": own, "accuracy": 0.8},
        "entrypoint": "mlrails.models:gradient",
        "gate": gate,
        "serving": serving,
        "decision": decision,
        "forced_by": forced_by,
    }


def test_models_shows_each_version_beside_what_the_gate_compared_it_with_on_the_same_rows():
    # v3 scores best on its own holdout, yet lost to v2 on the same rows; v2 was forced over a
    # rejection; v1 beat the placeholder; v0 was evaluated before the gate recorded its scores.
    onnx = {"path": "onnx", "reason": "verified on 120 holdout rows"}
    skops = {"path": "skops", "reason": "ONNX conversion failed: no converter\nfor DummyClassifier"}
    listing = {
        "versions": [
            _version("3", ["challenger"], 0.9012, _gate(False, 0.7001, "champion", 0.7325, "2"), "rejected"),
            _version("2", ["champion"], 0.7433, _gate(False, 0.7301, "champion", 0.7310, "1"), "rejected", onnx, "bob"),
            _version("1", ["previous"], 0.6287, _gate(True, 0.6287, "placeholder", 0.5, None), "promoted", skops),
            _version("0", [], 0.5, None, None),
        ],
        "audit": [
            {"at": "2026-03-02T10:05:00+00:00", "action": "reject", "version": "3", "by": "gate", "reason": "lost"},
            {"at": "2026-03-02T11:00:00+00:00", "action": "promote", "version": "2", "by": "bob", "reason": "checked"},
        ],
    }

    lines = models_lines(listing, "churn-classifier", "roc_auc")

    assert lines[0] == "churn-classifier: 4 version(s); gate metric roc_auc"
    table = lines[lines.index("") + 1 : lines.index("", lines.index("") + 1)]
    assert table == [
        "  version  aliases              own holdout  gate: same rows                 decision          serving",
        "  v3       challenger                0.9012  0.7001 vs champion v2 0.7325    rejected          -",
        "  v2       champion                  0.7433  0.7301 vs champion v1 0.7310    rejected, forced  onnx",
        "  v1       previous                  0.6287  0.6287 vs placeholder 0.5000    promoted          skops",
        "  v0       -                         0.5000  -                               -                 -",
    ]
    assert lines[lines.index("serving paths, and why:") + 1 :][:2] == [
        "  v2       onnx: verified on 120 holdout rows",
        "  v1       skops: ONNX conversion failed: no converter for DummyClassifier",
    ]
    assert lines[-3:] == [
        "audit log (who, what, why):",
        "  2026-03-02T10:05:00  reject   v3    by gate       lost",
        "  2026-03-02T11:00:00  promote  v2    by bob        checked",
    ]


def test_models_names_the_gate_metric_of_the_time_and_a_first_model_with_nothing_to_beat():
    first = _version("1", ["champion"], 0.75, _gate(True, 0.75, None, None, None), "promoted")
    lines = models_lines({"versions": [first], "audit": []}, "churn-classifier", "accuracy")
    row = "  v1       champion                  0.8000  0.7500, nothing to beat (roc_auc)  promoted          -"
    assert row in lines
