"""The synthesized templates, read from a cloud assembly (``cdk.out``), and the few
CloudFormation intrinsics the cost model follows (``Ref`` and ``Fn::GetAtt`` between
resources of one template)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlrails.errors import ConfigError

_STACK = "aws:cloudformation:stack"
_NESTED_ASSEMBLY = "cdk:cloud-assembly"


@dataclass(frozen=True)
class Stack:
    """One stack's template: its display name (``dev/Service``) and its resources."""

    name: str
    resources: dict[str, dict[str, Any]]

    def properties(self, logical_id: str) -> dict[str, Any]:
        """The properties of resource ``logical_id`` (empty when it has none or is absent)."""
        return self.resources.get(logical_id, {}).get("Properties", {})

    def of_type(self, resource_type: str) -> Iterator[tuple[str, dict[str, Any]]]:
        """(logical id, properties) of every resource of ``resource_type``."""
        for logical_id, resource in self.resources.items():
            if resource.get("Type") == resource_type:
                yield logical_id, resource.get("Properties", {})


def _manifest(folder: Path) -> dict[str, Any]:
    path = folder / "manifest.json"
    if not path.is_file():
        raise ConfigError(f"no synthesized app in {folder}: run `make synth` first (or pass --cdk-out)")
    return json.loads(path.read_text())


def _stacks(folder: Path, manifest: dict[str, Any]) -> list[Stack]:
    stacks = []
    for artifact_id, artifact in manifest.get("artifacts", {}).items():
        if artifact.get("type") == _STACK:
            template = json.loads((folder / artifact["properties"]["templateFile"]).read_text())
            stacks.append(Stack(artifact.get("displayName", artifact_id), template.get("Resources", {})))
    return stacks


def stage_stacks(cdk_out: Path, environment: str) -> list[Stack]:
    """The stacks of ``environment``'s stage (a nested assembly of ``cdk_out``)."""
    manifest = _manifest(cdk_out)
    stages = {
        artifact["properties"]["directoryName"].removeprefix("assembly-"): artifact
        for artifact in manifest.get("artifacts", {}).values()
        if artifact.get("type") == _NESTED_ASSEMBLY
    }
    if environment not in stages:
        raise ConfigError(
            f"--env {environment}: no such stage in {cdk_out} (it has {sorted(stages)}): run `make synth` first"
        )
    folder = cdk_out / stages[environment]["properties"]["directoryName"]
    return _stacks(folder, _manifest(folder))


def shared_stacks(cdk_out: Path) -> list[Stack]:
    """The stacks outside every stage (the release pipeline's): paid once, not per environment."""
    return _stacks(cdk_out, _manifest(cdk_out))


def references(value: Any) -> set[str]:
    """The logical ids ``value`` points at through ``Ref`` or ``Fn::GetAtt``, however deep."""
    if isinstance(value, dict):
        if set(value) == {"Ref"} and isinstance(value["Ref"], str) and not value["Ref"].startswith("AWS::"):
            return {value["Ref"]}
        if set(value) == {"Fn::GetAtt"}:
            target = value["Fn::GetAtt"]
            return {target[0] if isinstance(target, list) else target.split(".", 1)[0]}
        return {found for item in value.values() for found in references(item)}
    if isinstance(value, list):
        return {found for item in value for found in references(item)}
    return set()


def target(value: Any) -> str:
    """The one logical id ``value`` points at ("" when none)."""
    return min(references(value), default="")


_PLACEHOLDER = re.compile(r"\$\{ref:([A-Za-z0-9]+)\}")


def state_machine_definition(properties: dict[str, Any]) -> dict[str, Any]:
    """A state machine's definition, with each resource it names written ``${ref:LogicalId}``
    (anything else the template resolves at deploy time becomes ``${}``)."""
    if "Definition" in properties:
        return properties["Definition"]
    text = properties.get("DefinitionString", "{}")
    if isinstance(text, dict) and "Fn::Join" in text:
        text = "".join(_placeholder(part) for part in text["Fn::Join"][1])
    return json.loads(text)


def _placeholder(part: Any) -> str:
    if isinstance(part, str):
        return part
    found = sorted(references(part))
    return f"${{ref:{found[0]}}}" if len(found) == 1 else "${}"


def referenced(text: Any) -> str | None:
    """The logical id in a ``${ref:LogicalId}`` placeholder of ``text``, if it holds one."""
    match = _PLACEHOLDER.search(text) if isinstance(text, str) else None
    return match.group(1) if match else None
