from mlrails.cli import main
from mlrails.data.dataset import prepare_features, read_parquet


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
