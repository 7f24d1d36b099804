"""The full validation, as `cdk synth` runs it: CDK's built-in CloudFormation checks and
cdk-nag's AWS Solutions pack, with zero unacknowledged findings; every acknowledgement
narrow and explained. Both read the session's one synthesis (tests/support/synth.py)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import TYPE_CHECKING

from aws_cdk import Stack, Validations
from constructs import IConstruct

from infra.app_builder import VALIDATION_REPORT, validation_failures

if TYPE_CHECKING:  # the session fixture's type (tests/support/synth.py)
    from support.synth import Synthesized


def test_no_unacknowledged_findings(synthesized: Synthesized) -> None:
    report = json.loads((synthesized.outdir / VALIDATION_REPORT).read_text())
    assert report["title"] == "Validation Report"
    assert validation_failures(synthesized.outdir) == [], synthesized.validation_error


def _outside_stacks(construct: IConstruct) -> Iterator[IConstruct]:
    """The app, its stages and anything else that no stack contains."""
    if isinstance(construct, Stack):
        return
    yield construct
    for child in construct.node.children:
        yield from _outside_stacks(child)


def _acknowledgements(synthesized: Synthesized) -> list[tuple[str, str, str]]:
    """(construct path, rule, reason) for every acknowledgement in the app. Those of constructs
    in stacks come from the cloud assembly's metadata files (one read, where walking every
    construct through jsii takes seconds); the few constructs outside stacks are asked."""
    key = Validations.ACKNOWLEDGED_RULES_METADATA_KEY
    found = []
    for metadata_file in synthesized.outdir.rglob("*.metadata.json"):
        for path, entries in json.loads(metadata_file.read_text()).items():
            found += [
                (path, rule, reason)
                for entry in entries
                if entry["type"] == key
                for rule, reason in entry["data"].items()
            ]
    for construct in _outside_stacks(synthesized.app):
        found += [
            (f"/{construct.node.path}", rule, reason)
            for entry in construct.node.metadata
            if entry.type == key and entry.data
            for rule, reason in entry.data.items()
        ]
    return found


def test_acknowledgements_are_narrow_and_explained(synthesized: Synthesized) -> None:
    outside = {f"/{construct.node.path}" for construct in _outside_stacks(synthesized.app)}
    stacks = {
        f"/{child.node.path}"
        for construct in _outside_stacks(synthesized.app)
        for child in construct.node.children
        if isinstance(child, Stack)
    }
    # Ours are the cdk-nag ones (aws-cdk-lib acknowledges some of its own template checks).
    acknowledgements = [
        (path, re.sub(r"^annotation::", "", rule, flags=re.IGNORECASE), reason)
        for path, rule, reason in _acknowledgements(synthesized)
    ]
    acknowledgements = [entry for entry in acknowledgements if entry[1].startswith("AwsSolutions-")]
    assert any(rule.startswith("AwsSolutions-IAM5[") for _, rule, _ in acknowledgements)
    for path, rule_id, reason in acknowledgements:
        assert path not in outside | stacks, f"{rule_id} acknowledged on a whole app, stage or stack ({path})"
        if rule_id.startswith(("AwsSolutions-IAM4", "AwsSolutions-IAM5")):
            assert rule_id.endswith("]") and "[" in rule_id, f"{rule_id} must name its finding"
        assert len(reason) >= 40, f"{rule_id} on {path}: reason too thin"
