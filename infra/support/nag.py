"""cdk-nag acknowledgements, kept narrow: one construct, one rule (or one finding), one reason.

cdk-nag 3 reads acknowledgements from construct metadata (``Validations.of(x).acknowledge``);
IAM4/IAM5 findings are acknowledged one by one with their bracketed finding id, e.g.
``AwsSolutions-IAM5[Resource::<DataBucketArn>/raw/*]``.
"""

from __future__ import annotations

import json
from typing import Any

import jsii
from aws_cdk import Acknowledgment, Stack, Validations
from constructs import IConstruct, IValidation


def acknowledge(scope: IConstruct, rule_id: str, reason: str) -> None:
    """Acknowledge one rule (or one bracketed finding) on ``scope`` and its children."""
    Validations.of(scope).acknowledge(Acknowledgment(id=rule_id, reason=reason))


def acknowledge_resource_wildcard(scope: IConstruct, resource: str, reason: str) -> None:
    """Acknowledge the IAM5 finding for exactly one wildcard resource (a token) in ``scope``'s
    policies, e.g. the object ARN pattern ``<bucket ARN>/raw/*``.

    The finding id is the resource as cdk-nag renders it from the *synthesized* template; a
    resource of another stack only takes its final form (``Fn::ImportValue`` of a generated
    export name) once references are resolved. So the id is computed then, in a construct
    validation, which CDK runs after resolving references and before the policy-validation
    plugins (cdk-nag) run.
    """
    scope.node.add_validation(_AcknowledgeWhenResolved(scope, resource, reason))


@jsii.implements(IValidation)
class _AcknowledgeWhenResolved:
    def __init__(self, scope: IConstruct, resource: str, reason: str) -> None:
        self._scope = scope
        self._resource = resource
        self._reason = reason

    def validate(self) -> list[str]:
        flat = flatten_cfn_reference(Stack.of(self._scope).resolve(self._resource))
        acknowledge(self._scope, f"AwsSolutions-IAM5[Resource::{flat}]", self._reason)
        return []


def flatten_cfn_reference(node: Any) -> str:
    """Render a resolved CloudFormation value the way cdk-nag names IAM findings
    (cdk-nag ``utils/flatten-cfn-reference``)."""
    if node is None:
        return ""
    if isinstance(node, str):
        return node.replace("${", "<").replace("}", ">")
    if isinstance(node, dict):
        if "Fn::Join" in node:
            delimiter, items = node["Fn::Join"]
            return delimiter.join(flatten_cfn_reference(item) for item in items)
        if "Fn::Sub" in node:
            return flatten_cfn_reference(node["Fn::Sub"])
        if "Fn::GetAtt" in node:
            resource, attribute = node["Fn::GetAtt"]
            return f"<{flatten_cfn_reference(resource)}.{flatten_cfn_reference(attribute)}>"
        if "Fn::ImportValue" in node:
            return flatten_cfn_reference(node["Fn::ImportValue"])
        if "Ref" in node:
            return f"<{flatten_cfn_reference(node['Ref'])}>"
    return json.dumps(node, separators=(",", ":"))
