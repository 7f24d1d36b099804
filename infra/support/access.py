"""Least-privilege grants: the exact S3 and DynamoDB actions the functions' calls need, by key
prefix, each S3 grant with its cdk-nag acknowledgement.

The statements are written out rather than taken from CDK's bucket and table grants: those
add action groups no handler calls (``s3:GetObject*``, ``s3:List*`` on the whole bucket,
``s3:PutObjectRetention``, ``dynamodb:Scan``, ``dynamodb:BatchWriteItem``...).

A key that is missing answers 404 (``NoSuchKey``) only to a caller that may list the bucket:
otherwise S3 says 403 ``AccessDenied``, and code that treats absence as a normal case
(``mlrails.adapters.s3.get_optional``, inference's manifest HEAD) fails instead. S3 makes that
check with the key as ``s3:prefix``, so ``s3:ListBucket`` limited to the prefix is enough.
"""

from __future__ import annotations

import hashlib
from enum import Flag, auto

import aws_cdk as cdk
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3
from constructs import Construct

from infra.support.nag import acknowledge_resource_wildcard
from mlrails.wiring import Prefix


class Access(Flag):
    """What a grantee does under a key prefix."""

    GET = auto()  # GetObject, HeadObject, and the source of CopyObject
    GET_VERSION = auto()  # the same, naming a VersionId
    LIST = auto()  # ListObjectsV2 under the prefix; a missing key is a 404, not a 403
    PUT = auto()  # PutObject (and the parts of a multipart upload), the target of CopyObject
    DELETE = auto()  # DeleteObject: a delete marker (the buckets are versioned)
    DELETE_VERSION = auto()  # DeleteObject naming a VersionId: that version is gone for good
    ABORT = auto()  # AbortMultipartUpload: boto3's managed upload aborts a failed multipart upload
    RETAIN = auto()  # PutObjectRetention: a PUT that locks the object (S3 Object Lock)
    READ = GET | LIST
    READ_WRITE = GET | LIST | PUT | DELETE | ABORT


# Actions on the objects under a prefix (resource ``<bucket ARN>/<prefix>*``).
OBJECT_ACTIONS = {
    Access.GET: "s3:GetObject",
    Access.GET_VERSION: "s3:GetObjectVersion",
    Access.PUT: "s3:PutObject",
    Access.DELETE: "s3:DeleteObject",
    Access.DELETE_VERSION: "s3:DeleteObjectVersion",
    Access.ABORT: "s3:AbortMultipartUpload",
    Access.RETAIN: "s3:PutObjectRetention",
}

# Powertools Idempotency's DynamoDBPersistenceLayer: put (conditional), get (on a conflict),
# update (the result), delete (when the work fails, so that a retry runs it).
IDEMPOTENCY = ("dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem")
# mlrails.adapters.state.StateTable: get, and atomic ADD / SET updates.
STATE = ("dynamodb:GetItem", "dynamodb:UpdateItem")


def grant_prefix(bucket: s3.IBucket, grantee: iam.IGrantable, access: Access, *prefixes: str) -> None:
    """Grant ``access`` to the objects under each prefix of ``bucket`` (a :class:`Prefix`, or
    another bucket's layout's)."""
    principal = grantee.grant_principal
    if not isinstance(principal, Construct):
        raise TypeError(f"grantee {grantee} must have a role in this app to be acknowledged")
    actions = [action for flag, action in OBJECT_ACTIONS.items() if flag in access]
    for prefix in prefixes:
        pattern = f"{prefix}*"
        if actions:
            objects = bucket.arn_for_objects(pattern)
            iam.Grant.add_to_principal(grantee=grantee, actions=actions, resource_arns=[objects])
            acknowledge_resource_wildcard(
                principal,
                objects,
                f"Scoped to the objects under {prefix} in one bucket: the prefix is the unit of access "
                "(keys below it are generated per file, model version or date partition).",
            )
        if Access.LIST in access:
            iam.Grant.add_to_principal(
                grantee=grantee,
                actions=["s3:ListBucket"],
                resource_arns=[bucket.bucket_arn],
                conditions={"StringLike": {"s3:prefix": [pattern]}},
            )


# What changes a stored object: writes (copies and multipart uploads included), deletes, and
# what a writer could use to pin or hide one.
_OBJECT_WRITES = (
    "s3:PutObject",
    "s3:DeleteObject",
    "s3:DeleteObjectVersion",
    "s3:PutObjectAcl",
    "s3:PutObjectVersionAcl",
    "s3:PutObjectRetention",
    "s3:PutObjectLegalHold",
    "s3:RestoreObject",
)
_ROLE_NAME_CHARS = 64  # IAM's limit


def model_writer_role_name(project: str, environment: str, region: str = cdk.Aws.REGION) -> str:
    """The train function's role name: the only writer of models/ and manifests/.

    A bucket policy in the data stack must name this role, which lives in the service stack
    (deployed after it, since it uses the buckets): a generated name would make each stack
    depend on the other. So this one role is named, per project, environment and region
    (IAM names are global to the account). The release store's policies name it too, from the
    pipeline's stack: ``region`` is then the environment's, not that stack's."""
    return f"{bounded_role_name(f'mlrails-{project}-{environment}', len('-ap-southeast-4'))}-{region}"


def bounded_role_name(base: str, suffix_chars: int) -> str:
    """``base``, shortened (with a hash of it, so names stay distinct) to leave ``suffix_chars``
    characters of an IAM role name's 64 for a suffix."""
    limit = _ROLE_NAME_CHARS - suffix_chars - 1
    if len(base) > limit:
        base = f"{base[: limit - 7]}-{hashlib.sha256(base.encode()).hexdigest()[:6]}"
    return base


def only_writers(bucket: s3.IBucket, writers: list[str], *prefixes: Prefix) -> None:
    """Deny every change to the objects under ``prefixes`` to any principal but ``writers``
    (role ARNs), whatever its own policies allow: a role that may write elsewhere in the
    bucket, or a person with s3:* in the account, cannot replace a model or a manifest."""
    bucket.add_to_resource_policy(
        iam.PolicyStatement(
            effect=iam.Effect.DENY,
            principals=[iam.AnyPrincipal()],
            actions=list(_OBJECT_WRITES),
            resources=[bucket.arn_for_objects(f"{prefix.value}*") for prefix in prefixes],
            conditions={"ArnNotEquals": {"aws:PrincipalArn": writers}},
        )
    )


def never_deleted(bucket: s3.IBucket, *prefixes: str) -> None:
    """Deny deleting any object or version under ``prefixes`` (``""``: the whole bucket) to
    every principal, and bypassing an Object Lock governance retention."""
    bucket.add_to_resource_policy(
        iam.PolicyStatement(
            effect=iam.Effect.DENY,
            principals=[iam.AnyPrincipal()],
            actions=["s3:DeleteObject", "s3:DeleteObjectVersion", "s3:BypassGovernanceRetention"],
            resources=[bucket.arn_for_objects(f"{prefix}*") for prefix in prefixes],
        )
    )


def role_arn(scope: Construct, role_name: str, account: str | None = None) -> str:
    """The ARN of a role named ``role_name`` of ``account`` (default: this stack's account)."""
    return cdk.Stack.of(scope).format_arn(
        service="iam", region="", account=account, resource="role", resource_name=role_name
    )


def grant_items(table: dynamodb.ITableV2, grantee: iam.IGrantable, *action_sets: tuple[str, ...]) -> None:
    """Grant the union of ``action_sets`` (e.g. ``IDEMPOTENCY``, ``STATE``) on ``table``'s items."""
    table.grant(grantee, *sorted({action for actions in action_sets for action in actions}))
