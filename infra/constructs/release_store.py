"""The release store: where `mlrails release propose` puts a locked model's files, each under its
sha256 (``release/sha256/<digest>``, :func:`mlrails.promotion.lock.release_key`), and where
every stage's train function fetches them when the pipeline applies the lock.

Content-addressed, so write-once: a key can only ever hold the bytes its name hashes. The
bucket says so itself rather than trusting its writers: a PUT must carry ``If-None-Match``
(S3 refuses it, 412, when the key exists), so nothing is overwritten, not even with the same
bytes; nobody may delete an object or a version; and Object Lock retains each object. It is
versioned (Object Lock needs it), encrypted with a customer key of its own that rotates, private,
TLS only, and logs its access.

Every environment's train role may read and add (infra.support.release.store_users): adding
changes no file, and what serves is what a reviewed lock names. The roles are in other
accounts, and deployed after this stack: the bucket policy and the key policy name their
accounts, narrowed to those roles by a condition (a policy naming a role that does not exist yet
would not deploy).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from aws_cdk import Aws, Duration
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from constructs import Construct

from infra.support.access import never_deleted
from infra.support.buckets import secure_bucket
from infra.support.release import STORE_PREFIX

# GOVERNANCE, not COMPLIANCE: the bucket policy already refuses every delete and every
# governance bypass, so the lock guards against a policy that was changed first. COMPLIANCE
# would also keep a file uploaded by mistake (a wrong or sensitive one) for the whole period,
# with no way for anyone, the account's root included, to remove it.
RETENTION = s3.ObjectLockRetention.governance(Duration.days(365))
ACCESS_LOG_DAYS = 365


@dataclass(frozen=True)
class StoreUser:
    """A train role that uses the store (reads and adds): its ARN and its account."""

    role_arn: str
    account: str


class ReleaseStore(Construct):
    """``bucket`` (named: the environments' functions are told its name), its ``key`` and its
    ``access_logs_bucket``."""

    def __init__(self, scope: Construct, construct_id: str, *, bucket_name: str, users: Sequence[StoreUser]) -> None:
        super().__init__(scope, construct_id)
        self.key = kms.Key(self, "Key", enable_key_rotation=True, description=f"mlrails release store {bucket_name}")
        self.access_logs_bucket = secure_bucket(
            self,
            "AccessLogsBucket",
            access_logs=None,
            log_prefix="",
            lifecycle_rules=[s3.LifecycleRule(expiration=Duration.days(ACCESS_LOG_DAYS))],
        )
        # cdk-nag accepts it unlogged (S1) as the target of the store's access logs.
        self.bucket = secure_bucket(
            self,
            "Bucket",
            bucket_name=bucket_name,
            encryption_key=self.key,
            access_logs=self.access_logs_bucket,
            log_prefix="release-store/",
            object_lock_retention=RETENTION,
            lifecycle_rules=[s3.LifecycleRule(abort_incomplete_multipart_upload_after=Duration.days(7))],
        )
        # Built from the name: the key's policy refers to the bucket, which refers to the key.
        bucket_arn = f"arn:{Aws.PARTITION}:s3:::{bucket_name}"
        objects = f"{bucket_arn}/{STORE_PREFIX}*"

        # Write-once (S3's "enforce conditional writes"): a PutObject or CompleteMultipartUpload
        # without If-None-Match is refused. CreateMultipartUpload and UploadPart, which take no
        # such header, are exempt (s3:ObjectCreationOperation is false for them). A CopyObject
        # into the store is refused too: writers upload the bytes.
        self.bucket.add_to_resource_policy(
            iam.PolicyStatement(
                sid="WriteOnce",
                effect=iam.Effect.DENY,
                principals=[iam.AnyPrincipal()],
                actions=["s3:PutObject"],
                resources=[self.bucket.arn_for_objects("*")],
                conditions={"Null": {"s3:if-none-match": "true"}, "Bool": {"s3:ObjectCreationOperation": "true"}},
            )
        )
        never_deleted(self.bucket, "")

        self.bucket.add_to_resource_policy(
            _for(users, actions=["s3:GetObject"], resources=[objects], sid="TrainRolesRead")
        )
        # A missing file is then a 404, not a 403 (infra/support/access.py).
        self.bucket.add_to_resource_policy(
            _for(
                users,
                actions=["s3:ListBucket"],
                resources=[bucket_arn],
                sid="TrainRolesList",
                conditions={"StringLike": {"s3:prefix": [f"{STORE_PREFIX}*"]}},
            )
        )
        self.bucket.add_to_resource_policy(
            _for(users, actions=["s3:PutObject"], resources=[objects], sid="TrainRolesWrite")
        )

        # The key serves S3 for this bucket only (S3 Bucket Key: the encryption context is the
        # bucket's ARN), never a direct call. Writers also decrypt: a multipart upload reads the
        # data key back.
        through_s3 = {
            "StringEquals": {
                "kms:ViaService": f"s3.{Aws.REGION}.amazonaws.com",
                "kms:EncryptionContext:aws:s3:arn": bucket_arn,
            }
        }
        self.key.add_to_resource_policy(
            _for(users, actions=["kms:Decrypt"], resources=["*"], sid="TrainRolesRead", conditions=through_s3)
        )
        self.key.add_to_resource_policy(
            _for(users, actions=["kms:GenerateDataKey"], resources=["*"], sid="TrainRolesWrite", conditions=through_s3)
        )


def _for(
    users: Sequence[StoreUser],
    *,
    actions: list[str],
    resources: list[str],
    sid: str,
    conditions: dict[str, dict[str, object]] | None = None,
) -> iam.PolicyStatement:
    """Allow ``actions`` to exactly ``users``' roles: their accounts as principals, their ARNs
    as a condition."""
    accounts = list(dict.fromkeys(user.account for user in users))
    return iam.PolicyStatement(
        sid=sid,
        principals=[iam.AccountPrincipal(account) for account in accounts],
        actions=actions,
        resources=resources,
        conditions={**(conditions or {}), "ArnEquals": {"aws:PrincipalArn": [user.role_arn for user in users]}},
    )
