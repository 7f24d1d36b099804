"""The release store, in the pipeline's stack: write-once (a PUT without If-None-Match is
refused, nothing may be deleted, Object Lock retains every file), encrypted with a rotating key of
its own, private and logged; every environment's train role reads it and may add to it, each
granted from both sides (the bucket and key policies, and the role's own policy),
through S3 and for this bucket alone."""

from __future__ import annotations

from typing import Any

import pytest
from aws_cdk import App
from aws_cdk.assertions import Template

from infra.constructs.release_store import RETENTION
from infra.support.nag import flatten_cfn_reference
from mlrails import wiring
from mlrails.config import ProjectConfig
from support.synth import stage_service

ACCOUNT = "<AWS::AccountId>"  # no account in mlrails.yaml: the CLI's default, for every stack


def _store(pipeline_template: Template, cfg: ProjectConfig) -> tuple[str, dict[str, Any]]:
    [(bucket_id, bucket)] = [
        item
        for item in pipeline_template.find_resources("AWS::S3::Bucket").items()
        if item[1]["Properties"].get("BucketName") == cfg.release_store
    ]
    return bucket_id, bucket["Properties"]


def _store_policy(pipeline_template: Template, bucket_id: str) -> list[dict[str, Any]]:
    [policy] = [
        p
        for p in pipeline_template.find_resources("AWS::S3::BucketPolicy").values()
        if p["Properties"]["Bucket"] == {"Ref": bucket_id}
    ]
    return policy["Properties"]["PolicyDocument"]["Statement"]


def _train_role(cfg: ProjectConfig, environment: str) -> str:
    return f"arn:<AWS::Partition>:iam::{ACCOUNT}:role/mlrails-{cfg.project}-{environment}-<AWS::Region>"


def test_the_release_store_is_locked_versioned_encrypted_private_and_logged(
    pipeline_template: Template, cfg: ProjectConfig
) -> None:
    _, bucket = _store(pipeline_template, cfg)
    assert bucket["VersioningConfiguration"] == {"Status": "Enabled"}
    assert bucket["ObjectLockEnabled"] is True
    retention = bucket["ObjectLockConfiguration"]["Rule"]["DefaultRetention"]
    assert retention == {"Mode": "GOVERNANCE", "Days": 365} and RETENTION.mode.value == "GOVERNANCE"
    [encryption] = bucket["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    assert encryption["ServerSideEncryptionByDefault"]["SSEAlgorithm"] == "aws:kms"
    key_id = encryption["ServerSideEncryptionByDefault"]["KMSMasterKeyID"]["Fn::GetAtt"][0]
    assert pipeline_template.find_resources("AWS::KMS::Key")[key_id]["Properties"]["EnableKeyRotation"] is True
    assert set(bucket["PublicAccessBlockConfiguration"].values()) == {True}
    assert bucket["LoggingConfiguration"]["LogFilePrefix"] == "release-store/"


def test_the_release_store_is_write_once_and_never_deleted(pipeline_template: Template, cfg: ProjectConfig) -> None:
    bucket_id, _ = _store(pipeline_template, cfg)
    statements = _store_policy(pipeline_template, bucket_id)
    denies = [s for s in statements if s["Effect"] == "Deny"]
    [write_once] = [s for s in denies if s.get("Sid") == "WriteOnce"]
    # A PUT (or a multipart upload's completion) without If-None-Match: refused, for everyone.
    assert write_once["Action"] == "s3:PutObject" and write_once["Principal"] == {"AWS": "*"}
    assert write_once["Condition"] == {
        "Null": {"s3:if-none-match": "true"},
        "Bool": {"s3:ObjectCreationOperation": "true"},
    }
    assert flatten_cfn_reference(write_once["Resource"]).endswith("/*")
    [deletes] = [s for s in denies if "s3:DeleteObject" in s["Action"]]
    assert set(deletes["Action"]) == {"s3:DeleteObject", "s3:DeleteObjectVersion", "s3:BypassGovernanceRetention"}
    assert deletes["Principal"] == {"AWS": "*"} and "Condition" not in deletes
    assert not [a for s in statements if s["Effect"] == "Allow" for a in _list(s["Action"]) if "Delete" in a]


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def test_every_environment_reads_the_store_and_may_add_to_it(pipeline_template: Template, cfg: ProjectConfig) -> None:
    bucket_id, _ = _store(pipeline_template, cfg)
    allowed = {s["Sid"]: s for s in _store_policy(pipeline_template, bucket_id) if s["Effect"] == "Allow"}
    readers = [_train_role(cfg, name) for name in ("dev", "staging", "prod")]
    for sid, action, roles in (
        ("TrainRolesRead", "s3:GetObject", readers),
        ("TrainRolesList", "s3:ListBucket", readers),
        # A release environment proposes its own challengers: adding files changes none.
        ("TrainRolesWrite", "s3:PutObject", readers),
    ):
        statement = allowed.pop(sid)
        assert statement["Action"] == action
        # The accounts as principals (a role that does not exist yet would not deploy), each role by name.
        assert flatten_cfn_reference(statement["Principal"]["AWS"]) == f"arn:<AWS::Partition>:iam::{ACCOUNT}:root"
        assert [flatten_cfn_reference(r) for r in statement["Condition"]["ArnEquals"]["aws:PrincipalArn"]] == roles
        resource = flatten_cfn_reference(statement["Resource"])
        if action == "s3:ListBucket":
            assert resource == f"arn:<AWS::Partition>:s3:::{cfg.release_store}"
            assert statement["Condition"]["StringLike"] == {"s3:prefix": ["release/sha256/*"]}
        else:
            assert resource == f"arn:<AWS::Partition>:s3:::{cfg.release_store}/release/sha256/*"
    assert not [s for s in allowed.values() if s["Principal"] != {"Service": "logging.s3.amazonaws.com"}]


def test_the_stores_key_serves_those_roles_through_s3_for_this_bucket_only(
    pipeline_template: Template, cfg: ProjectConfig
) -> None:
    _, bucket = _store(pipeline_template, cfg)
    key_id = bucket["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]["ServerSideEncryptionByDefault"][
        "KMSMasterKeyID"
    ]["Fn::GetAtt"][0]
    statements = pipeline_template.find_resources("AWS::KMS::Key")[key_id]["Properties"]["KeyPolicy"]["Statement"]
    granted = {s["Sid"]: s for s in statements if s.get("Sid") in ("TrainRolesRead", "TrainRolesWrite")}
    assert granted["TrainRolesRead"]["Action"] == "kms:Decrypt"
    assert granted["TrainRolesWrite"]["Action"] == "kms:GenerateDataKey"
    for statement in granted.values():
        condition = statement["Condition"]
        assert flatten_cfn_reference(condition["StringEquals"]["kms:ViaService"]) == "s3.<AWS::Region>.amazonaws.com"
        assert (
            flatten_cfn_reference(condition["StringEquals"]["kms:EncryptionContext:aws:s3:arn"])
            == f"arn:<AWS::Partition>:s3:::{cfg.release_store}"
        )
    assert [
        flatten_cfn_reference(r) for r in granted["TrainRolesWrite"]["Condition"]["ArnEquals"]["aws:PrincipalArn"]
    ] == [_train_role(cfg, name) for name in ("dev", "staging", "prod")]


@pytest.mark.parametrize("environment", ["dev", "staging", "prod"])
def test_each_train_function_knows_the_store_and_may_read_and_add_to_it(
    app: App, cfg: ProjectConfig, environment: str
) -> None:
    template = stage_service(app, environment)
    description = wiring.function("train").description
    [train] = [
        fn
        for fn in template.find_resources("AWS::Lambda::Function").values()
        if fn["Properties"].get("Description") == description
    ]
    assert train["Properties"]["Environment"]["Variables"]["MLRAILS_RELEASE_STORE"] == cfg.release_store
    role_id = train["Properties"]["Role"]["Fn::GetAtt"][0]
    store = f"arn:<AWS::Partition>:s3:::{cfg.release_store}"
    granted: dict[str, set[str]] = {}
    for policy in template.find_resources("AWS::IAM::Policy").values():
        if {"Ref": role_id} not in policy["Properties"]["Roles"]:
            continue
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
            # Statements of the same actions are merged: the store's and the key's resources only.
            resources = {
                flatten_cfn_reference(r)
                for r in _list(statement["Resource"])
                if flatten_cfn_reference(r).startswith((store, "arn:<AWS::Partition>:kms:"))
            }
            for action in _list(statement["Action"]) if resources else []:
                granted.setdefault(action, set()).update(resources)
            if any(r.startswith("arn:<AWS::Partition>:kms:") for r in resources):
                # Only S3 may use the key for it, and for the store's bucket alone.
                assert {k: flatten_cfn_reference(v) for k, v in statement["Condition"]["StringEquals"].items()} == {
                    "kms:ViaService": "s3.<AWS::Region>.amazonaws.com",
                    "kms:EncryptionContext:aws:s3:arn": store,
                }
    objects = {f"{store}/release/sha256/*"}
    key = {f"arn:<AWS::Partition>:kms:<AWS::Region>:{ACCOUNT}:key/*"}
    # Each reads (a stage fetches a lock's files) and adds (a proposal, from any environment).
    assert granted == {
        "s3:GetObject": objects,
        "s3:PutObject": objects,
        "s3:ListBucket": {store},
        "kms:Decrypt": key,
        "kms:GenerateDataKey": key,
    }
