"""Least-privilege S3 grants by key prefix, each with its cdk-nag acknowledgement.

CDK's prefix grants (``bucket.grant_read(fn, "raw/*")``) produce the wildcards a prefix
needs: the object ARN pattern ``<bucket>/raw/*`` and CDK's action groups (``s3:GetObject*``,
``s3:List*``...). Both are the intended scope, so each grant acknowledges exactly the
findings it creates, on the grantee's role, and nothing else.
"""

from __future__ import annotations

from enum import Enum

from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3
from constructs import Construct

from infra.nag import acknowledge, acknowledge_resource_wildcard
from mlrails.wiring import Prefix


class Access(Enum):
    """What a grantee may do under a prefix (and the action groups CDK grants for it)."""

    READ = ("s3:GetObject*", "s3:GetBucket*", "s3:List*")
    PUT = ("s3:Abort*",)
    DELETE = ("s3:DeleteObject*",)
    READ_WRITE = ("s3:GetObject*", "s3:GetBucket*", "s3:List*", "s3:DeleteObject*", "s3:Abort*")


def grant_prefix(bucket: s3.IBucket, grantee: iam.IGrantable, access: Access, *prefixes: Prefix) -> None:
    """Grant ``access`` to the objects under each prefix of ``bucket``."""
    principal = grantee.grant_principal
    if not isinstance(principal, Construct):
        raise TypeError(f"grantee {grantee} must have a role in this app to be acknowledged")
    for prefix in prefixes:
        pattern = f"{prefix.value}*"
        {
            Access.READ: bucket.grant_read,
            Access.PUT: bucket.grant_put,
            Access.DELETE: bucket.grant_delete,
            Access.READ_WRITE: bucket.grant_read_write,
        }[access](grantee, pattern)
        acknowledge_resource_wildcard(
            principal, bucket.arn_for_objects(pattern),
            f"Scoped to the objects under {prefix.value} in one bucket: the prefix is the unit of access "
            "(keys below it are generated per file, model version or date partition).",
        )
    for action in access.value:
        acknowledge(
            principal, f"AwsSolutions-IAM5[Action::{action}]",
            f"CDK's S3 action group for {access.name.lower()} access; resources are limited to key prefixes.",
        )
