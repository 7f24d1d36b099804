"""The train image installs a lock of mlrails' runtime dependencies that agrees with the dev
environment (the tested versions), and its build context is the .dockerignore allowlist."""

from __future__ import annotations

import importlib.metadata
import importlib.util
import re
import tomllib
from pathlib import Path
from types import ModuleType

import aws_cdk as cdk
import pytest
from aws_cdk import aws_ecr_assets as ecr_assets
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from infra.paths import IMAGE_CONTEXT_DIR, IMAGE_DOCKERFILE, REPO_ROOT, RUNTIME_LOCK, image_build_args


def _load_lock_script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("mlrails_lock_runtime", REPO_ROOT / "scripts" / "lock_runtime.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


lock_script = _load_lock_script()
STALE = "requirements/runtime.lock is stale: run `make lock`"


def locked() -> dict[str, str]:
    """Canonical name -> version, as requirements/runtime.lock pins them."""
    pins = {}
    for line in RUNTIME_LOCK.read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            req = Requirement(line)
            (spec,) = req.specifier
            assert spec.operator == "==", line
            pins[canonicalize_name(req.name)] = spec.version
    return pins


def test_lock_is_the_dev_environments_runtime_closure() -> None:
    """Every runtime dependency of mlrails, transitively, at its installed version: no more,
    no fewer. Fails when pyproject.toml or the dev venv changed and the lock did not."""
    expected = lock_script.runtime_pins()
    actual = locked()
    assert sorted(expected.keys() - actual.keys()) == [], f"{STALE}: missing"
    assert sorted(actual.keys() - expected.keys()) == [], f"{STALE}: no longer needed"
    drifted = {name: (actual[name], importlib.metadata.version(name)) for name in actual
               if actual[name] != importlib.metadata.version(name)}
    assert drifted == {}, f"{STALE}: (locked, installed)"
    assert RUNTIME_LOCK.read_text() == lock_script.render(expected), f"{STALE} (format)"


def test_lock_pins_what_pyproject_pins() -> None:
    project = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]
    pins = locked()
    for line in project["dependencies"]:
        req = Requirement(line)
        (spec,) = req.specifier
        assert pins.get(canonicalize_name(req.name)) == spec.version, line


def test_dockerfile_installs_exactly_the_lock() -> None:
    dockerfile = (IMAGE_CONTEXT_DIR / IMAGE_DOCKERFILE).read_text()
    lock = RUNTIME_LOCK.relative_to(IMAGE_CONTEXT_DIR).as_posix()
    assert re.search(rf"^COPY {re.escape(lock)} ", dockerfile, re.MULTILINE)
    installs = re.findall(r"pip install [^&\n]*", dockerfile)
    assert installs and all("--no-deps" in command for command in installs), installs
    assert any("--requirement" in command for command in installs)
    assert "pip check" in dockerfile


def test_image_context_is_the_dockerignore_allowlist(tmp_path: Path) -> None:
    """CDK stages (and hashes) the context through .dockerignore, as `docker build` reads it."""
    app = cdk.App(outdir=str(tmp_path), builtin_cloud_formation_validation=False)
    asset = ecr_assets.DockerImageAsset(cdk.Stack(app, "Images"), "Train", directory=str(IMAGE_CONTEXT_DIR),
                                        file=IMAGE_DOCKERFILE, build_args=image_build_args("train"))
    # CDK names the staged copy asset.<hash> plus the context directory's extension, if any
    # (a clone in /tmp/tmp.XXXX has one).
    (staged,) = Path(app.synth().directory).glob(f"asset.{asset.asset_hash}*")
    files = {p.relative_to(staged).as_posix() for p in staged.rglob("*") if p.is_file()}
    outside_src = {f for f in files if not f.startswith("src/mlrails/")}
    assert outside_src == {
        ".dockerignore", "pyproject.toml", "README.md", "requirements/runtime.lock",
        "functions/Dockerfile", "functions/train/handler.py",
        "functions/inference/handler.py",  # the inference image's (serving.package: image)
    }
    assert "src/mlrails/lifecycle.py" in files
    assert not any("__pycache__" in f or f.endswith(".pyc") for f in files)


@pytest.mark.parametrize("stale", ["numpy==0.0.1\n", ""])
def test_check_mode_reports_a_stale_lock(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, stale: str) -> None:
    monkeypatch.setattr(lock_script, "LOCK", tmp_path / "runtime.lock")
    monkeypatch.setattr(lock_script, "runtime_pins", lambda: {"numpy": "2.4.6", "pandas": "3.1.1"})
    (tmp_path / "runtime.lock").write_text(lock_script.HEADER + stale)
    assert lock_script.main(["--check"]) == 1
    assert lock_script.main([]) == 0
    assert lock_script.main(["--check"]) == 0
