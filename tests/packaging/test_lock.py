"""One lock for every install: uv.lock agrees with pyproject.toml, the dev environment is
exactly uv.lock, and the images install exports of it, hash-checked. None of these tests needs
the network: a registry publishing something new cannot change their answer."""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path
from types import ModuleType

import aws_cdk as cdk
import pytest
from aws_cdk import aws_ecr_assets as ecr_assets

from infra.support.paths import (
    IMAGE_CONTEXT_DIR,
    IMAGE_DOCKERFILE,
    MLFLOW_IMAGE_DIR,
    REPO_ROOT,
    RUNTIME_REQUIREMENTS,
    image_build_args,
)


def _load_script(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"mlrails_{name}", REPO_ROOT / "scripts" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


lock_script = _load_script("lock")
LOCK = tomllib.loads((REPO_ROOT / "uv.lock").read_text())
LOCKED = {(package["name"], package.get("version")) for package in LOCK["package"]}


def _uv(*args: str, cwd: Path = REPO_ROOT) -> subprocess.CompletedProcess:
    # The environment uv checks is the one running this test (the Makefile's .venv).
    env = {**os.environ, "UV_PROJECT_ENVIRONMENT": sys.prefix, "UV_PYTHON_DOWNLOADS": "never"}
    return subprocess.run([lock_script.UV, *args], cwd=cwd, env=env, capture_output=True, text=True)


def _pins(requirements: str) -> dict[str, str]:
    return dict(re.findall(r"^([A-Za-z0-9_.-]+)==(\S+)", requirements, re.MULTILINE))


def test_uv_lock_agrees_with_pyproject() -> None:
    checked = _uv("lock", "--check", "--offline")
    assert checked.returncode == 0, f"uv.lock does not match pyproject.toml: run `make lock`\n{checked.stderr}"


def test_a_pin_the_lock_does_not_hold_fails_the_check(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("pyproject.toml", "uv.lock", "README.md", "src/mlrails/__init__.py"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(REPO_ROOT / name, tmp_path / name)
    pyproject = tmp_path / "pyproject.toml"
    pyproject.write_text(pyproject.read_text().replace('"numpy==2.4.6"', '"numpy==2.4.5"'))
    assert '"numpy==2.4.5"' in pyproject.read_text()
    monkeypatch.setattr(lock_script, "ROOT", tmp_path)
    assert lock_script.main(["--check"]) == 1


def test_the_dev_environment_is_exactly_the_lock() -> None:
    """What `make install` put in .venv is uv.lock's dev selection: no package more, none less,
    none at another version."""
    checked = _uv("sync", "--frozen", "--check", "--offline")
    assert checked.returncode == 0, f"the environment differs from uv.lock: run `make install`\n{checked.stderr}"
    import numpy
    import sklearn

    assert {("numpy", numpy.__version__), ("scikit-learn", sklearn.__version__)} <= LOCKED


def test_every_locked_file_has_a_hash() -> None:
    unhashed = [
        (package["name"], file.get("url", file.get("path")))
        for package in LOCK["package"]
        for file in [*package.get("wheels", []), *([package["sdist"]] if "sdist" in package else [])]
        if not file.get("hash", "").startswith("sha256:")
    ]
    assert unhashed == []


def test_the_lock_must_resolve_lambdas_platform_to_wheels() -> None:
    assert LOCK["required-markers"] == ["platform_machine == 'x86_64' and sys_platform == 'linux'"]


def test_the_uv_bootstrap_is_the_locked_uv_with_its_hashes() -> None:
    line = subprocess.run(
        [sys.executable, REPO_ROOT / "scripts" / "uv-requirement"], capture_output=True, text=True, check=True
    ).stdout
    (uv,) = [package for package in LOCK["package"] if package["name"] == "uv"]
    assert line.startswith(f"uv=={uv['version']} ")
    assert len(re.findall(r"--hash=sha256:[0-9a-f]{64}", line)) == len(uv["wheels"]) + 1  # + the sdist


def test_exports_are_what_uv_lock_gives() -> None:
    stale = lock_script.stale_exports()
    assert stale == [], "\n".join(stale)


def test_the_exports_pin_the_same_mlflow_and_boto3() -> None:
    """The tracking server and the train function must not drift apart: one resolution."""
    runtime = _pins(RUNTIME_REQUIREMENTS.read_text())
    server = _pins((MLFLOW_IMAGE_DIR / "requirements.txt").read_text())
    for name in ("mlflow", "boto3", "sqlalchemy"):
        assert server[name] == runtime[name] and (name, runtime[name]) in LOCKED, name
    assert "psycopg2-binary" in server and "psycopg2-binary" not in runtime


def test_check_mode_reports_a_stale_export(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    export = tmp_path / "runtime.txt"
    export.write_text(lock_script.HEADER + "numpy==0.0.1\n")
    monkeypatch.setattr(lock_script, "EXPORTS", {str(export): lock_script.EXPORTS["requirements/runtime.txt"]})
    (diff,) = lock_script.stale_exports()
    assert "-numpy==0.0.1" in diff and "+numpy==2.4.6 \\" in diff
    assert lock_script.main(["--check"]) == 1


@pytest.mark.parametrize(
    "dockerfile, requirements",
    [
        (IMAGE_CONTEXT_DIR / IMAGE_DOCKERFILE, RUNTIME_REQUIREMENTS.relative_to(IMAGE_CONTEXT_DIR).as_posix()),
        (MLFLOW_IMAGE_DIR / "Dockerfile", "requirements.txt"),
    ],
    ids=["functions", "mlflow-server"],
)
def test_images_install_exactly_an_export_hash_checked(dockerfile: Path, requirements: str) -> None:
    text = dockerfile.read_text()
    assert re.search(rf"^COPY {re.escape(requirements)} ", text, re.MULTILINE)
    installs = re.findall(r"pip install [^&\n]*(?:\\\n[^&\n]*)*", text)
    assert installs and all("--no-deps" in command for command in installs), installs
    assert any("--require-hashes --requirement" in command for command in installs), installs
    assert "pip check" in text


def test_image_context_is_the_dockerignore_allowlist(tmp_path: Path) -> None:
    """CDK stages (and hashes) the context through .dockerignore, as `docker build` reads it."""
    app = cdk.App(outdir=str(tmp_path), builtin_cloud_formation_validation=False)
    asset = ecr_assets.DockerImageAsset(
        cdk.Stack(app, "Images"),
        "Train",
        directory=str(IMAGE_CONTEXT_DIR),
        file=IMAGE_DOCKERFILE,
        build_args=image_build_args("train"),
    )
    # CDK names the staged copy asset.<hash> plus the context directory's extension, if any
    # (a clone in /tmp/tmp.XXXX has one).
    (staged,) = Path(app.synth().directory).glob(f"asset.{asset.asset_hash}*")
    files = {p.relative_to(staged).as_posix() for p in staged.rglob("*") if p.is_file()}
    outside_src = {f for f in files if not f.startswith("src/mlrails/")}
    assert outside_src == {
        ".dockerignore",
        "pyproject.toml",
        "README.md",
        "requirements/runtime.txt",
        "functions/Dockerfile",
        "functions/train/handler.py",
        "functions/train/task.py",  # the same image as an ECS task (training.compute: fargate)
        "functions/inference/handler.py",  # the inference image's (serving.package: image)
        "functions/batch/handler.py",  # the batch function's image (pyarrow beside the serving code)
    }
    assert "src/mlrails/training/lifecycle.py" in files
    assert not any("__pycache__" in f or f.endswith(".pyc") for f in files)


def test_the_benchmark_environment_is_locked_with_hashes() -> None:
    """bench/drift.py's Evidently side cannot share the project's resolution (pandas < 3):
    it has a lock of its own, compiled by `make lock`, every distribution hash-pinned."""
    compiled = (REPO_ROOT / "bench" / "evidently.txt").read_text()
    # name==version [; marker] \ then its --hash lines (a pin may appear once per Python fork).
    entries = re.findall(
        r"^([A-Za-z0-9_.-]+)==([^\s;]+)[^\\\n]*((?:\\\n\s+--hash=sha256:[0-9a-f]{64})*)", compiled, re.MULTILINE
    )
    assert len(entries) == len(re.findall(r"^\S+==", compiled, re.MULTILINE)) > 0
    assert all(hashes for _, _, hashes in entries), "every pin carries its hashes"
    pins = {name: version for name, version, _ in entries}
    assert pins["evidently"] == "0.7.23" and int(pins["pandas"].split(".")[0]) < 3
