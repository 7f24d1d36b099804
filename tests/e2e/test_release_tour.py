"""Release rails end to end, through the commands the release pipeline runs (with ``--local``,
on local copies of the config's environments, each with its own state, MLflow store and moto
account): dev trains and the gate promotes; a lock is proposed and committed; staging and prod
apply it and pass the smoke test; a tampered store file and a lock prod's config does not
accept are refused; reverting the lock brings the previous model back; an emergency rollback
shows as differing from the lock until the lock is applied again."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import pytest

from mlrails.cli import main
from support.samples import REPO

pytestmark = pytest.mark.e2e

MODEL = "churn-classifier"


def _git(project, *args: str) -> str:
    return subprocess.run(
        ["git", "-c", "user.email=dev@example.com", "-c", "user.name=dev", *args],
        cwd=project,
        check=True,
        capture_output=True,
        text=True,
    ).stdout


@pytest.fixture
def project(tmp_path, monkeypatch, restore_environ):
    """The example project in a git repository of its own, as a user's checkout."""
    shutil.copy(REPO / "mlrails.yaml", tmp_path / "mlrails.yaml")
    shutil.copy(REPO / "examples" / "churn.csv", tmp_path / "churn.csv")
    _git(tmp_path, "init", "-q")
    _git(tmp_path, "add", "-A")
    _git(tmp_path, "commit", "-qm", "the project")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "path", list(sys.path))
    return tmp_path


def _lock(project) -> dict:
    return json.loads((project / "release" / f"{MODEL}.lock.json").read_text())


def _version(project, env: str) -> dict:
    """What the local copy of ``env`` answers on GET /version."""
    from datetime import UTC, datetime

    from mlrails.config import load_config
    from mlrails.local.runtime import LocalRuntime

    cfg = load_config(project / "mlrails.yaml")
    with LocalRuntime.resumed(cfg, project, start=datetime.now(UTC), environment=env) as runtime:
        return runtime.request("GET", "/version")[1]


def test_a_model_moves_from_dev_to_prod_by_its_lock(project, capsys):
    # dev trains: the placeholder first, promoted by the gate.
    assert main(["up", "--env", "dev", "--at", "2026-03-01T00:00:00+00:00"]) == 0
    assert main(["upload", "--env", "dev", "churn.csv"]) == 0
    assert "v1 promoted ⇒ ModelPromoted" in capsys.readouterr().out

    # The lock of dev's champion, committed: what staging and prod will serve.
    assert main(["release", "propose", "--from", "dev", "--local"]) == 0
    assert "churn-classifier v1 from dev (new)" in capsys.readouterr().out
    first = _lock(project)
    assert first["source_environment"] == "dev" and first["version"] == "1"
    assert {"model.skops", "profile.json", "holdout.parquet", "inputs.json"} <= set(first["files"])
    assert [i["version_id"] for i in first["training_data"]["inputs"]] and first["example"]["predictions"]
    stored = project / ".mlrails" / "release-store" / "release" / "sha256"
    assert set(first["files"].values()) | {first["manifest_sha256"]} <= {p.name for p in stored.iterdir()}
    _git(project, "add", "mlrails.yaml", "release")
    _git(project, "commit", "-qm", "release dev v1")

    # Staging takes its model from the lock only: applied, smoke-tested, and applying it again
    # changes nothing.
    assert main(["up", "--env", "staging", "--at", "2026-03-01T00:00:00+00:00"]) == 0
    assert "models: release" in capsys.readouterr().out
    assert main(["release", "apply", "--env", "staging", "--local"]) == 0
    assert "applied as v1, the champion (previous: none)" in capsys.readouterr().out
    assert main(["release", "verify", "--env", "staging", "--local"]) == 0
    assert "its 3 example rows answered as recorded" in capsys.readouterr().out
    assert main(["release", "apply", "--env", "staging", "--local"]) == 0
    assert "serves already as v1: nothing to do" in capsys.readouterr().out

    # dev swaps the real model in and retrains; the gate promotes it; a new lock is committed.
    config = (project / "mlrails.yaml").read_text()
    (project / "mlrails.yaml").write_text(
        config.replace("entrypoint: mlrails.models:placeholder", "entrypoint: mlrails.models:gradient_boosting")
    )
    assert main(["advance", "--env", "dev", "1d"]) == 0
    assert main(["upload", "--env", "dev", "churn.csv"]) == 0
    assert "v2 promoted ⇒ ModelPromoted" in capsys.readouterr().out
    assert main(["release", "propose", "--from", "dev", "--local"]) == 0
    assert "churn-classifier v2 from dev (was v1)" in capsys.readouterr().out
    second = _lock(project)
    _git(project, "commit", "-qam", "release dev v2")

    assert main(["release", "apply", "--env", "staging", "--local"]) == 0
    assert "applied as v2, the champion (previous: v1)" in capsys.readouterr().out
    served = _version(project, "staging")
    assert served["model_version"] == "2" and served["lock_sha256"] is not None

    # A store file that is not the one the lock pins is refused (and the refusal is counted,
    # for the alarm), before anything is registered.
    assert main(["up", "--env", "prod", "--at", "2026-03-01T00:00:00+00:00"]) == 0
    model_file = stored / second["files"]["model.skops"]
    original = model_file.read_bytes()
    model_file.write_bytes(original + b"a gadget")
    assert main(["release", "apply", "--env", "prod", "--local"]) == 2
    assert "model.skops is not the file the lock of churn-classifier v2 pins" in capsys.readouterr().err
    log = (project / ".mlrails" / "environments" / "prod" / "functions.log").read_text()
    assert '"ReleaseRefused"' in log
    model_file.write_bytes(original)

    # A lock prod's config does not accept (a feature the model never saw) is refused, by column.
    changed = (project / "mlrails.yaml").read_text()
    (project / "mlrails.yaml").write_text(
        changed.replace(
            "    - {name: region, type: categorical}\n",
            "    - {name: region, type: categorical}\n    - {name: contract, type: categorical}\n",
        )
    )
    assert main(["release", "apply", "--env", "prod", "--local"]) == 2
    assert "contract: in the config, unknown to the model" in capsys.readouterr().err
    (project / "mlrails.yaml").write_text(changed)

    assert main(["release", "apply", "--env", "prod", "--local"]) == 0
    assert "applied as v1, the champion" in capsys.readouterr().out  # prod's own first version
    assert main(["release", "verify", "--env", "prod", "--local"]) == 0

    # Reverting the lock's commit is the rollback: staging serves dev's v1 again, from the copy
    # it already holds (nothing registered twice).
    _git(project, "revert", "--no-edit", "HEAD")
    assert _lock(project) == first
    assert main(["release", "apply", "--env", "staging", "--local"]) == 0
    assert "applied as v1, the champion (previous: v2)" in capsys.readouterr().out
    assert main(["release", "verify", "--env", "staging", "--local"]) == 0
    assert main(["models", "--env", "staging", "--local"]) == 0
    listing = capsys.readouterr().out
    assert "2 version(s)" in listing and "the champion is the lock's" in listing

    # An emergency rollback in a release environment still works, is audited, and shows as
    # differing from the lock until the lock is applied again.
    assert main(["rollback", "--env", "staging", "--local"]) == 0
    capsys.readouterr()
    assert main(["release", "verify", "--env", "staging", "--local"]) == 1
    assert "differs from the lock" in capsys.readouterr().out
    assert main(["models", "--env", "staging", "--local"]) == 0
    listing = capsys.readouterr().out
    assert "a person's emergency promotion or rollback) differs from the lock" in listing
    assert "rollback v2    by " in listing  # audited, by whom
    assert main(["release", "apply", "--env", "staging", "--local"]) == 0
    assert main(["release", "verify", "--env", "staging", "--local"]) == 0


@pytest.mark.scenario
def test_the_release_tour_runs_every_step_as_expected(project, capsys):
    assert main(["demo", "--release"]) == 0
    out = capsys.readouterr().out
    assert "0 unexpected exit status(es)" in out
    # The refusals are the commands' own one-line errors; the tour expected them (exit 2).
    assert out.count("$ mlrails release apply --env prod --local") == 4
    assert "applied as v1, the champion (previous: v2)" in out  # the revert, in staging
    # The project itself is untouched: the tour works in a scratch repository.
    assert not (project / "release").exists() and (project / ".mlrails" / "release-tour" / "release").is_dir()
