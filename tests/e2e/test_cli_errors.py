"""The CLI's error cases, each command's: a one-line message (and a hint), an exit code, never a
traceback unless --debug; the config found from anywhere inside the project; global options
before or after the command."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from mlrails.cli import main
from support.samples import REPO

pytestmark = pytest.mark.e2e


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, restore_environ) -> Path:
    """A copy of the example project with no local state, the current folder one below it."""
    shutil.copy(REPO / "mlrails.yaml", tmp_path / "mlrails.yaml")
    (tmp_path / "notebooks").mkdir()
    monkeypatch.chdir(tmp_path / "notebooks")
    return tmp_path


# (arguments, exit code, what the message says)
ERROR_CASES = [
    (["models"], 2, "no local state yet: run `mlrails up` (your project) or `mlrails demo` first"),
    (["promote", "--version", "3"], 2, "no local state yet"),
    (["rollback"], 2, "no local state yet"),
    (["predict", '{"dataframe_records": []}'], 2, "no local state yet"),
    (["serve", "--port", "0"], 2, "no local state yet"),
    (["models", "--env", "qa"], 2, "--env qa: not one of the config's environments ['dev', 'prod', 'staging']"),
    (["check", "--data", "nowhere.csv"], 2, "nowhere.csv"),
    (["check", "--data", "x.csv", "--folds", "1"], 2, "folds"),
    (["demo", "--config", "missing.yaml"], 2, "config file not found: missing.yaml"),
    (["--config", "missing.yaml", "demo"], 2, "config file not found: missing.yaml"),
    (["generate", "no/such/folder/rows.csv"], 1, "OSError"),
    (["advance", "3x"], 2, "'3x' is not a duration"),
    (["upload", "missing.csv"], 2, "no file at missing.csv"),
    (["down"], 2, "no local environment in"),
    (["predict"], 2, "give a request body, or --file"),
    (["status"], 2, "no local state yet"),
    (["up", "--at", "next tuesday"], 2, "--at next tuesday: not an ISO 8601 time"),
]


@pytest.mark.parametrize(("argv", "code", "message"), ERROR_CASES, ids=[" ".join(c[0]) for c in ERROR_CASES])
def test_an_error_is_a_line_and_an_exit_code_not_a_traceback(project, capsys, argv, code, message):
    assert main(argv) == code
    err = capsys.readouterr().err
    assert message in err
    assert "Traceback" not in err and len(err.strip().splitlines()) <= 2, err


def test_an_unexpected_error_names_the_way_to_its_traceback(project, capsys):
    assert main(["generate", "no/such/folder/rows.csv"]) == 1
    assert "run again with --debug for the traceback" in capsys.readouterr().err
    assert main(["generate", "no/such/folder/rows.csv", "--debug"]) == 1
    assert "Traceback (most recent call last)" in capsys.readouterr().err


def test_the_config_is_found_above_and_missing_is_said(project, tmp_path_factory, monkeypatch, capsys):
    assert main(["models"]) == 2  # from notebooks/: the project's config, its (missing) state
    assert "no local state yet" in capsys.readouterr().err

    elsewhere = tmp_path_factory.mktemp("not-a-project")
    monkeypatch.chdir(elsewhere)
    assert main(["models"]) == 2
    err = capsys.readouterr().err
    assert f"no mlrails.yaml in {elsewhere} or any folder above it" in err and "--config" in err


def test_the_local_environment_is_not_replaced_by_accident(project, capsys):
    assert main(["up", "--at", "2026-03-01T00:00:00+00:00"]) == 0
    assert main(["up"]) == 2
    assert "holds a local environment already" in capsys.readouterr().err
    # The example's rows are from January: the clock cannot go back to replay them.
    assert main(["upload", "--replay", str(REPO / "examples" / "churn.csv")]) == 2
    assert "start over with `mlrails up --fresh --at 2026-01-05`" in capsys.readouterr().err


def test_two_files_of_one_name_in_one_upload_are_refused(project, capsys):
    assert main(["up", "--at", "2026-03-01T00:00:00+00:00"]) == 0
    for folder in ("x", "y"):
        (project / folder).mkdir()
        (project / folder / "a.csv").write_text("event_time\n")
    assert main(["upload", str(project / "x" / "a.csv"), str(project / "y" / "a.csv")]) == 2
    assert "two files share a name (['a.csv'])" in capsys.readouterr().err
