"""Synthesis fixtures (a pytest plugin, loaded by tests/conftest.py): the real app, built from
cdk.json's context, synthesized once per session with the full validation `cdk synth` runs
(CDK's built-in CloudFormation checks and cdk-nag): tests/infra/test_nag.py reads that
synthesis' report, the infra and packaging tests its templates. The CDK is imported only when
a test asks for a template: the unit tier never starts its runtime.

Asset staging is off: the layer directories are large and the templates do not depend on the
copies.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from mlrails.config import ProjectConfig, parse_config
from support.samples import REPO

if TYPE_CHECKING:
    from aws_cdk import App, Stack
    from aws_cdk.assertions import Template

    from infra.stacks.pipeline import PipelineStack
    from infra.stage import MlrailsStage
    from mlrails.promotion.lock import ModelLock

LAYER_NAMES = ("shared", "data", "ml", "onnx")


def cdk_json_context(**overrides: Any) -> dict[str, Any]:
    """cdk.json's context, as the CLI would pass it, plus ``overrides``."""
    context = json.loads((REPO / "cdk.json").read_text())["context"]
    return {**context, **overrides}


@pytest.fixture(scope="session")
def fast_context(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """cdk.json's context without asset staging (the layers are large and the templates do
    not depend on the copies). When `make layers` has not run, placeholder layer folders
    stand in: the templates only need the folders to exist."""
    from infra.app_builder import LAYERS_DIR_CONTEXT_KEY

    context: dict[str, Any] = {"aws:cdk:disable-asset-staging": True}
    built = REPO / "layers" / "build"
    if not all((built / name / "python").is_dir() for name in LAYER_NAMES):
        placeholders = tmp_path_factory.mktemp("layers")
        for name in LAYER_NAMES:
            (placeholders / name / "python").mkdir(parents=True)
            (placeholders / name / "python" / "PLACEHOLDER").write_text("tests only\n")
        context[LAYERS_DIR_CONTEXT_KEY] = str(placeholders)
    return cdk_json_context(**context)


@dataclass(frozen=True)
class Synthesized:
    """The synthesized app, where its cloud assembly is, and the validation error if any
    (its findings are in ``outdir``'s validation report; test_nag.py names them)."""

    app: App
    outdir: Path
    validation_error: str | None


@pytest.fixture(scope="session")
def synthesized(fast_context: dict[str, Any], tmp_path_factory: pytest.TempPathFactory) -> Synthesized:
    """The app of mlrails.yaml (dev, staging, prod), synthesized once for the whole session."""
    from infra.app_builder import build_app

    outdir = tmp_path_factory.mktemp("cdk.out")
    app = build_app(fast_context, outdir=str(outdir))  # built-in CloudFormation checks on
    try:
        app.synth()
    except RuntimeError as exc:  # unacknowledged findings: the report lists them
        if "ValidationFailed" not in str(exc):
            raise
        return Synthesized(app, outdir, str(exc))
    return Synthesized(app, outdir, None)


@pytest.fixture(scope="session")
def app(synthesized: Synthesized) -> App:
    return synthesized.app


@pytest.fixture(scope="session")
def dev(app: App) -> MlrailsStage:
    from infra.stage import MlrailsStage

    stage = app.node.find_child("dev")
    assert isinstance(stage, MlrailsStage)
    return stage


def template(stack: Stack) -> Template:
    from aws_cdk.assertions import Template

    return Template.from_stack(stack)


def stage_service(app: App, environment: str) -> Template:
    """The Service stack's template of ``environment``'s stage in ``app``."""
    from infra.stage import MlrailsStage

    stage = app.node.find_child(environment)
    assert isinstance(stage, MlrailsStage)
    return template(stage.service)


@pytest.fixture(scope="session")
def dev_service_template(
    cfg: ProjectConfig, fast_context: dict[str, Any], tmp_path_factory: pytest.TempPathFactory
) -> Callable[[dict[str, Any]], Template]:
    """Builds the Service stack of mlrails.yaml with only a ``dev`` environment, mlrails.yaml's
    with the argument's fields in place of its own (so its acknowledgements hold unless the
    argument replaces them), and any other section's fields replaced as the keywords say (CDK's
    built-in checks off: the session's synthesis runs them)."""
    from infra.app_builder import build_app
    from infra.stage import MlrailsStage

    def build(dev: dict[str, Any], **sections: dict[str, Any]) -> Template:
        document = cfg.model_dump(mode="json")
        document["environments"] = {"dev": {**document["environments"]["dev"], **dev}}
        for section, fields in sections.items():
            document[section] = {**document[section], **fields}
        app = build_app(
            fast_context,
            outdir=str(tmp_path_factory.mktemp("cdk.out.dev")),
            config=parse_config(document),
            builtin_validation=False,
        )
        stage = app.node.find_child("dev")
        assert isinstance(stage, MlrailsStage)
        return template(stage.service)

    return build


@pytest.fixture(scope="session")
def data_template(dev: MlrailsStage) -> Template:
    return template(dev.data)


@pytest.fixture(scope="session")
def tracking_template(dev: MlrailsStage) -> Template:
    return template(dev.tracking)


@pytest.fixture(scope="session")
def service_template(dev: MlrailsStage) -> Template:
    return template(dev.service)


@pytest.fixture(scope="session")
def pipeline(app: App) -> PipelineStack:
    """The release pipeline's stack (mlrails.yaml has a release: section; no lock in the repo)."""
    from infra.app_builder import PIPELINE_STACK
    from infra.stacks.pipeline import PipelineStack

    stack = app.node.find_child(PIPELINE_STACK)
    assert isinstance(stack, PipelineStack)
    return stack


@pytest.fixture(scope="session")
def pipeline_template(pipeline: PipelineStack) -> Template:
    return template(pipeline)


@dataclass(frozen=True)
class Locked:
    """mlrails.yaml's app, built for a project whose repository holds a model lock."""

    app: App
    outdir: Path
    lock: ModelLock


@pytest.fixture(scope="session")
def locked(cfg: ProjectConfig, fast_context: dict[str, Any], tmp_path_factory: pytest.TempPathFactory) -> Locked:
    """The app of mlrails.yaml for a project directory with release/<model>.lock.json, synthesized
    (cdk-nag on, CDK's built-in checks left to the session's synthesis)."""
    from infra.app_builder import build_app

    project = tmp_path_factory.mktemp("locked-project")
    lock = write_lock(project, cfg)
    outdir = tmp_path_factory.mktemp("cdk.out.locked")
    app = build_app(fast_context, outdir=str(outdir), config=cfg, project_dir=project, builtin_validation=False)
    app.synth()
    return Locked(app, outdir, lock)


def write_lock(project_dir: Path, cfg: ProjectConfig) -> ModelLock:
    """A lock of ``cfg``'s model, as `mlrails release propose` writes it, in ``project_dir``.
    Its values only need to read back: the app reads the lock for its digest."""
    from dataclasses import fields

    from mlrails.promotion.lock import ModelLock, lock_path

    digest = "ab" * 32
    values: dict[str, Any] = {
        "model_name": cfg.model.name,
        "source_environment": "dev",
        "version": "3",
        "run_id": "run-3",
        "task": cfg.dataset.task,
        "classes": [0, 1],
        "signature": [{"name": f.name, "type": f.type, "nullable": False} for f in cfg.dataset.features],
        "manifest_sha256": digest,
        "files": {"model.skops": digest, "profile.json": digest},
        "metrics": {"roc_auc": 0.71},
        "gate": None,
        "training_data": {"uri": "s3://data/features/", "sha256": digest},
        "config_sha256": cfg.digest,
        "code_commit": None,
        "kit_version": "0.1.0",
        "example": {"records": [], "predictions": []},
    }
    names = {field.name for field in fields(ModelLock)}
    # Only the fields this kit's lock has (its version decides them).
    lock = ModelLock(**{name: value for name, value in values.items() if name in names})
    path = lock_path(project_dir, lock.model_name)
    path.parent.mkdir(parents=True)
    path.write_text(lock.to_json())
    return lock
