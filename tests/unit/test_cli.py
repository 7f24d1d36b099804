from mlrails.cli import main
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

    from mlrails.cli import _project
    from mlrails.models import load_entrypoint

    (tmp_path / "mlrails.yaml").write_text((REPO / "mlrails.yaml").read_text())
    (tmp_path / "project_models_for_cli_test.py").write_text(
        "from sklearn.dummy import DummyClassifier\n\n\ndef build(dataset, seed):\n    return DummyClassifier()\n"
    )
    (tmp_path / "notebooks").mkdir()
    monkeypatch.chdir(tmp_path / "notebooks")
    monkeypatch.setattr(sys, "path", list(sys.path))

    loaded, project_dir = _project(argparse.Namespace(config=None))

    assert project_dir == tmp_path and loaded.project == cfg.project
    estimator = load_entrypoint("project_models_for_cli_test:build", loaded.dataset, 0)
    assert type(estimator).__name__ == "DummyClassifier"
