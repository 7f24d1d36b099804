"""The one way the app makes a bucket: encrypted, versioned, private, TLS only, server access
logged, kept when its stack goes."""

from __future__ import annotations

from aws_cdk import Aws, RemovalPolicy
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from constructs import Construct


def secure_bucket(
    scope: Construct,
    construct_id: str,
    *,
    access_logs: s3.IBucket | None,
    log_prefix: str,
    lifecycle_rules: list[s3.LifecycleRule],
    event_bridge: bool = False,
    object_lock: bool = False,
    object_lock_retention: s3.ObjectLockRetention | None = None,
    encryption_key: kms.IKey | None = None,
    bucket_name: str | None = None,
) -> s3.Bucket:
    """A bucket (SSE-S3, or SSE-KMS with ``encryption_key`` and an S3 Bucket Key). Object Lock
    without ``object_lock_retention`` locks only what a PUT asks to lock."""
    bucket = s3.Bucket(
        scope,
        construct_id,
        bucket_name=bucket_name,
        encryption=s3.BucketEncryption.KMS if encryption_key else s3.BucketEncryption.S3_MANAGED,
        encryption_key=encryption_key,
        # One data key per bucket for a while instead of a KMS call per object.
        bucket_key_enabled=True if encryption_key else None,
        block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
        object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
        enforce_ssl=True,
        minimum_tls_version=1.2,
        versioned=True,
        server_access_logs_bucket=access_logs,
        server_access_logs_prefix=log_prefix if access_logs else None,
        lifecycle_rules=lifecycle_rules,
        removal_policy=RemovalPolicy.RETAIN,
        object_lock_enabled=object_lock or object_lock_retention is not None or None,
        object_lock_default_retention=object_lock_retention,
    )
    if event_bridge:
        # What `event_bridge_enabled=True` asks for, as the native CloudFormation property: the
        # L2 sets it through a custom-resource Lambda that a bucket created here does not need.
        cfn_bucket = bucket.node.default_child
        assert isinstance(cfn_bucket, s3.CfnBucket)
        cfn_bucket.notification_configuration = s3.CfnBucket.NotificationConfigurationProperty(
            event_bridge_configuration=s3.CfnBucket.EventBridgeConfigurationProperty(event_bridge_enabled=True),
        )
    return bucket


def log_access(bucket: s3.IBucket, *, into: s3.IBucket, prefix: str) -> None:
    """Server access logs for a bucket that a library construct made (CDK Pipelines' artifact
    bucket), into ``into`` under ``prefix``: what ``server_access_logs_bucket`` sets up for ours."""
    cfn_bucket = bucket.node.default_child
    assert isinstance(cfn_bucket, s3.CfnBucket)
    cfn_bucket.logging_configuration = s3.CfnBucket.LoggingConfigurationProperty(
        destination_bucket_name=into.bucket_name, log_file_prefix=prefix
    )
    into.add_to_resource_policy(
        iam.PolicyStatement(
            principals=[iam.ServicePrincipal("logging.s3.amazonaws.com")],
            actions=["s3:PutObject"],
            resources=[into.arn_for_objects(f"{prefix}*")],
            conditions={
                "ArnLike": {"aws:SourceArn": bucket.bucket_arn},
                "StringEquals": {"aws:SourceAccount": Aws.ACCOUNT_ID},
            },
        )
    )
