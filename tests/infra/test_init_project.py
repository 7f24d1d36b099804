"""A project `mlrails init` wrote deploys with the kit's app: its cdk.json's context names its
own config, the app synthesizes it (cdk-nag clean) as `cdk synth` in its folder would, and its
train image carries the project's model module."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from aws_cdk.assertions import Template

from infra.app_builder import build_app, validation_failures
from mlrails.local.synthetic import churn_frame
from mlrails.scaffold.init import init_project


@pytest.fixture(scope="module")
def project_app(tmp_path_factory, fast_context):
    """An initialized project's folder, and its app synthesized from its cdk.json's context
    (the layers as the session's app finds them, assets unstaged)."""
    folder = tmp_path_factory.mktemp("project")
    data = folder / "visits.csv"
    churn_frame(500, pd.Timestamp("2026-03-01", tz="UTC"), seed=6).to_csv(data, index=False)
    project = folder / "visits"
    init_project(str(data), project, target="churned")
    context = json.loads((project / "cdk.json").read_text())["context"]
    app = build_app(
        {**context, **fast_context, "mlrails:config": context["mlrails:config"]}, outdir=str(folder / "cdk.out")
    )
    return project, app, app.synth()


def test_an_initialized_project_synthesizes_with_its_own_config(project_app):
    _, app, assembly = project_app
    assert validation_failures(assembly.directory) == []
    service = Template.from_stack(app.node.find_child("dev").service)
    service.has_resource_properties("AWS::ApiGateway::RestApi", {"Name": "mlrails-visits-dev"})
    assert [s.node.id for s in app.node.children if hasattr(s, "service")] == ["dev"]


def test_the_train_image_of_a_project_elsewhere_carries_its_model_module(project_app):
    project, _, assembly = project_app
    [assets] = list(Path(assembly.directory).glob("assembly-dev/*Service*.assets.json"))
    images = json.loads(assets.read_text())["dockerImages"].values()
    [train] = [i["source"] for i in images if i["source"].get("dockerBuildArgs", {}).get("FUNCTION") == "train"]
    assert train["dockerBuildArgs"] == {"FUNCTION": "train", "PROJECT_MODULES": "project"}
    staged = Path(train["directory"])
    assert (staged / "project" / "models.py").read_text() == (project / "models.py").read_text()
    assert (staged / "functions" / "train" / "handler.py").is_file() and (staged / "src" / "mlrails").is_dir()
    assert "!project/" in (staged / ".dockerignore").read_text().splitlines()
    assert "COPY ${PROJECT_MODULES} ${LAMBDA_TASK_ROOT}/" in (staged / "functions" / "Dockerfile").read_text()


def test_an_entrypoint_whose_module_is_not_beside_the_config_fails_the_synth(tmp_path):
    from infra.support.images import KIT_IMAGE, project_image
    from mlrails.errors import ConfigError

    assert project_image(tmp_path, "mlrails.models:gradient_boosting") is KIT_IMAGE  # in the image already
    with pytest.raises(ConfigError, match=r"'my_models:forest': no my_models.py or my_models/ in"):
        project_image(tmp_path, "my_models:forest")
