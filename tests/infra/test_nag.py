"""The full validation, as `cdk synth` runs it: CDK's built-in CloudFormation checks and
cdk-nag's AWS Solutions pack, with zero unacknowledged findings; every acknowledgement
narrow and explained."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from aws_cdk import App, Stack, Stage, Validations
from constructs import IConstruct

from infra.app_builder import VALIDATION_REPORT, build_app, validation_failures


@pytest.fixture(scope="module")
def validated(fast_context: dict[str, Any], tmp_path_factory: pytest.TempPathFactory) -> tuple[App, Path]:
    outdir = tmp_path_factory.mktemp("cdk.out.validated")
    app = build_app(fast_context, outdir=str(outdir))  # built-in CloudFormation checks on
    try:
        app.synth()
    except RuntimeError as exc:  # the report below lists what failed
        assert "ValidationFailed" in str(exc), exc
    return app, outdir


def test_no_unacknowledged_findings(validated: tuple[App, Path]) -> None:
    _, outdir = validated
    report = json.loads((outdir / VALIDATION_REPORT).read_text())
    assert report["title"] == "Validation Report"
    assert validation_failures(outdir) == []


def _acknowledgements(app: App) -> list[tuple[IConstruct, str, str]]:
    found = []
    for construct in app.node.find_all():
        for entry in construct.node.metadata:
            if entry.type == Validations.ACKNOWLEDGED_RULES_METADATA_KEY and entry.data:
                found += [(construct, rule, reason) for rule, reason in entry.data.items()]
    return found


def test_acknowledgements_are_narrow_and_explained(validated: tuple[App, Path]) -> None:
    app, _ = validated
    # Ours are the cdk-nag ones (aws-cdk-lib acknowledges some of its own template checks).
    acknowledgements = [(construct, re.sub(r"^annotation::", "", rule, flags=re.IGNORECASE), reason)
                        for construct, rule, reason in _acknowledgements(app)]
    acknowledgements = [entry for entry in acknowledgements if entry[1].startswith("AwsSolutions-")]
    assert any(rule.startswith("AwsSolutions-IAM5[") for _, rule, _ in acknowledgements)
    assert acknowledgements
    for construct, rule_id, reason in acknowledgements:
        assert not isinstance(construct, (App, Stage, Stack)), f"{rule_id} acknowledged on a whole {construct}"
        if rule_id.startswith(("AwsSolutions-IAM4", "AwsSolutions-IAM5")):
            assert rule_id.endswith("]") and "[" in rule_id, f"{rule_id} must name its finding"
        assert len(reason) >= 40, f"{rule_id} on {construct.node.path}: reason too thin"
