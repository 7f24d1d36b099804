"""A project `mlrails init` wrote deploys with the kit's app: its cdk.json's context names its
own config, and the app synthesizes it (cdk-nag clean) as `cdk synth` in its folder would."""

from __future__ import annotations

import json

import pandas as pd
from aws_cdk.assertions import Template

from infra.app_builder import build_app, validation_failures
from mlrails.local.synthetic import churn_frame
from mlrails.scaffold.init import init_project


def test_an_initialized_project_synthesizes_with_its_own_config(tmp_path, fast_context):
    data = tmp_path / "visits.csv"
    churn_frame(500, pd.Timestamp("2026-03-01", tz="UTC"), seed=6).to_csv(data, index=False)
    project = tmp_path / "visits"
    init_project(str(data), project, target="churned")
    context = json.loads((project / "cdk.json").read_text())["context"]

    # The layers as the session's app finds them (built, or placeholders), assets unstaged.
    app = build_app(
        {**context, **fast_context, "mlrails:config": context["mlrails:config"]}, outdir=str(tmp_path / "cdk.out")
    )
    assembly = app.synth()

    assert validation_failures(assembly.directory) == []
    stage = app.node.find_child("dev")
    service = Template.from_stack(stage.service)
    service.has_resource_properties("AWS::ApiGateway::RestApi", {"Name": "mlrails-visits-dev"})
    assert [s.node.id for s in app.node.children if hasattr(s, "service")] == ["dev"]
