"""The release rails' infrastructure: the self-mutating pipeline (stages in order, a person's
approval before prod, the lock applied and smoke-tested around each deploy of a stage the lock
pins, as that stage's release role), the write-once release store, each environment's release
access, and the canary that rolls a new inference version back on the API's alarms.

The session's app (mlrails.yaml: a release: section, no lock in the repository) and one more,
built for a project whose repository holds a lock (the ``locked`` fixture).
"""

from __future__ import annotations

import json
import re
import typing
from typing import TYPE_CHECKING, Any

import pytest
from aws_cdk import App
from aws_cdk.assertions import Match, Template

from infra.app_builder import PIPELINE_STACK, build_app, validation_failures
from infra.constructs.canary import deployment_config_of
from infra.constructs.release_access import IAM_AUTH
from infra.constructs.release_pipeline import release_commands
from infra.constructs.release_store import RETENTION
from infra.stacks.pipeline import PipelineStack
from infra.stage import MlrailsStage
from infra.support.nag import flatten_cfn_reference
from infra.support.release import release_step_role_name
from mlrails import wiring
from mlrails.config import ProjectConfig, parse_config
from mlrails.config.release import Canary
from mlrails.wiring import api_parameters, release_role_name
from support.samples import REPO

if TYPE_CHECKING:  # the session fixtures' types (tests/support/synth.py)
    from support.synth import Locked, Synthesized

ACCOUNT = "<AWS::AccountId>"  # no account in mlrails.yaml: the CLI's default, for every stack


def stages(template: Template) -> dict[str, list[dict[str, Any]]]:
    """The pipeline's stages, in order: name -> its actions, in run order."""
    [pipeline] = template.find_resources("AWS::CodePipeline::Pipeline").values()
    return {
        stage["Name"]: sorted(stage["Actions"], key=lambda action: action["RunOrder"])
        for stage in pipeline["Properties"]["Stages"]
    }


def build_spec(template: Template, action: dict[str, Any]) -> dict[str, Any]:
    """The build spec of a CodeBuild action's project, each token in it as ``<Ref>``."""
    project = template.find_resources("AWS::CodeBuild::Project")[action["Configuration"]["ProjectName"]["Ref"]]
    return json.loads(_text(project["Properties"]["Source"]["BuildSpec"]))


def _text(value: Any) -> str:
    """A string value of the template: literal parts as they are (braces included: JSON)."""
    if isinstance(value, str):
        return value
    if "Fn::Join" in value:
        delimiter, parts = value["Fn::Join"]
        return delimiter.join(_text(part) for part in parts)
    return flatten_cfn_reference(value)


def service(app: App, environment: str) -> Template:
    stage = app.node.find_child(environment)
    assert isinstance(stage, MlrailsStage)
    return Template.from_stack(stage.service)


def inference_environment(template: Template) -> dict[str, Any]:
    description = wiring.function("inference").description
    [function] = [
        fn
        for fn in template.find_resources("AWS::Lambda::Function").values()
        if fn["Properties"].get("Description") == description
    ]
    return function["Properties"]["Environment"]["Variables"]


# ---------------------------------------------------------------- the pipeline


def test_the_pipeline_deploys_every_stage_in_order_after_updating_itself(
    pipeline_template: Template, cfg: ProjectConfig
) -> None:
    assert cfg.release_stages == ["dev", "staging", "prod"]
    assert list(stages(pipeline_template)) == ["Source", "Build", "UpdatePipeline", "Assets", *cfg.release_stages]
    for name in cfg.release_stages:
        deploys = [
            a["Name"] for a in stages(pipeline_template)[name] if a["ActionTypeId"]["Provider"] == "CloudFormation"
        ]
        # Each stage's own stacks, in their dependency order.
        assert deploys == [
            f"{stack}.{step}" for stack in ("Data", "Tracking", "Service") for step in ("Prepare", "Deploy")
        ]
    [pipeline] = pipeline_template.find_resources("AWS::CodePipeline::Pipeline").values()
    assert pipeline["Properties"]["PipelineType"] == "V2"


def test_the_pipeline_stack_is_named_for_its_project(pipeline: PipelineStack, cfg: ProjectConfig) -> None:
    # `npx cdk deploy Pipeline` (README): the construct id; CloudFormation knows it by its project.
    assert (pipeline.node.id, pipeline.stack_name) == (PIPELINE_STACK, f"mlrails-{cfg.project}-pipeline")


def test_a_person_approves_before_prod_and_nowhere_else(pipeline_template: Template, cfg: ProjectConfig) -> None:
    assert cfg.release_approvals == ["prod"]
    approvals = {
        name: [a for a in actions if a["ActionTypeId"]["Category"] == "Approval"]
        for name, actions in stages(pipeline_template).items()
    }
    assert [name for name, found in approvals.items() if found] == ["prod"]
    # First in its stage: before any of prod's stacks deploys.
    assert stages(pipeline_template)["prod"][0]["ActionTypeId"]["Category"] == "Approval"


def test_the_source_is_the_configured_branch_cloned_through_the_connection(
    pipeline_template: Template, cfg: ProjectConfig
) -> None:
    assert cfg.release is not None
    [source] = stages(pipeline_template)["Source"]
    assert source["ActionTypeId"]["Provider"] == "CodeStarSourceConnection"
    assert source["Configuration"] == {
        "ConnectionArn": cfg.release.connection_arn,
        "FullRepositoryId": cfg.release.repository,
        "BranchName": cfg.release.branch,
        # A git clone for CodeBuild: the train function records the commit it was built from.
        "OutputArtifactFormat": "CODEBUILD_CLONE_REF",
    }


def test_the_synth_runs_the_repositorys_own_tests_and_synth_with_docker(pipeline_template: Template) -> None:
    [synth] = stages(pipeline_template)["Build"]
    spec = build_spec(pipeline_template, synth)
    assert spec["phases"]["build"]["commands"] == ["make test", "make synth"]
    assert spec["phases"]["install"]["runtime-versions"] == {"python": "3.12", "nodejs": "20"}
    assert spec["artifacts"]["base-directory"] == "cdk.out"
    project = pipeline_template.find_resources("AWS::CodeBuild::Project")[synth["Configuration"]["ProjectName"]["Ref"]]
    assert project["Properties"]["Environment"]["PrivilegedMode"] is True


def test_the_pipeline_updates_itself_with_docker_and_the_pinned_cdk_cli(pipeline_template: Template) -> None:
    [mutate] = stages(pipeline_template)["UpdatePipeline"]
    spec = build_spec(pipeline_template, mutate)
    cli = json.loads((REPO / "package.json").read_text())["devDependencies"]["aws-cdk"]
    assert f"npm install -g aws-cdk@{cli}" in spec["phases"]["install"]["commands"]
    assert any(f"deploy {PIPELINE_STACK}" in command for command in spec["phases"]["build"]["commands"])
    project = pipeline_template.find_resources("AWS::CodeBuild::Project")[mutate["Configuration"]["ProjectName"]["Ref"]]
    assert project["Properties"]["Environment"]["PrivilegedMode"] is True


def test_artifacts_are_encrypted_with_a_rotating_key_other_accounts_can_be_granted(
    pipeline_template: Template,
) -> None:
    """cross_account_keys: a customer key of the pipeline's (not S3's own), so each stage's
    account can be let decrypt the artifacts it deploys from."""
    [pipeline] = pipeline_template.find_resources("AWS::CodePipeline::Pipeline").values()
    store = pipeline["Properties"]["ArtifactStore"]
    assert store["EncryptionKey"]["Type"] == "KMS"
    key_id = store["EncryptionKey"]["Id"]["Fn::GetAtt"][0]
    assert pipeline_template.find_resources("AWS::KMS::Key")[key_id]["Properties"]["EnableKeyRotation"] is True
    # Its server access is logged, as every bucket of the app's is.
    bucket = pipeline_template.find_resources("AWS::S3::Bucket")[store["Location"]["Ref"]]
    assert bucket["Properties"]["LoggingConfiguration"]["LogFilePrefix"] == "pipeline-artifacts/"


def test_without_a_lock_in_the_repository_the_stages_deploy_code_only(
    pipeline_template: Template, pipeline: PipelineStack
) -> None:
    for name in ("dev", "staging", "prod"):
        assert not [a for a in stages(pipeline_template)[name] if a["ActionTypeId"]["Provider"] == "CodeBuild"]
    assert pipeline.release.step_roles == {}


# ---------------------------------------------------------------- the lock's steps (a repository with a lock)


def test_the_lock_is_applied_around_each_release_stages_deploy_then_verified(locked: Locked) -> None:
    found = stages(Template.from_stack(locked.app.node.find_child(PIPELINE_STACK)))
    steps = {name: [a["Name"] for a in found[name] if a["ActionTypeId"]["Category"] != "Deploy"] for name in found}
    # dev trains: it serves its own champion, and the pipeline only deploys its code.
    assert steps["dev"] == []
    assert steps["staging"] == ["ApplyBeforeDeploy", "ApplyAfterDeploy", "Verify"]
    assert steps["prod"] == ["Approve", "ApplyBeforeDeploy", "ApplyAfterDeploy", "Verify"]
    for name in ("staging", "prod"):
        actions = [a["Name"] for a in found[name]]
        assert actions.index("ApplyBeforeDeploy") < actions.index("Service.Deploy") < actions.index("ApplyAfterDeploy")


@pytest.mark.parametrize("environment", ["staging", "prod"])
def test_each_step_runs_the_cli_a_person_runs_as_the_stages_release_role(
    locked: Locked, cfg: ProjectConfig, environment: str
) -> None:
    template = Template.from_stack(locked.app.node.find_child(PIPELINE_STACK))
    role = f"arn:<AWS::Partition>:iam::{ACCOUNT}:role/{release_role_name(cfg.project, environment)}"
    expected = {
        "ApplyBeforeDeploy": f".venv/bin/mlrails release apply --env {environment} --role-arn {role} --if-deployed",
        "ApplyAfterDeploy": f".venv/bin/mlrails release apply --env {environment} --role-arn {role}",
        "Verify": f".venv/bin/mlrails release verify --env {environment} --role-arn {role}",
    }
    assert list(expected.values()) == list(release_commands(environment, role))
    for action in stages(template)[environment]:
        if action["Name"] in expected:
            spec = build_spec(template, action)
            assert spec["phases"]["build"]["commands"] == [expected[action["Name"]]]
            # The CLI from the same commit, exactly uv.lock's versions.
            assert spec["phases"]["install"]["commands"] == ["make install"]
            assert spec["phases"]["install"]["runtime-versions"]["python"] == "3.12"


@pytest.mark.parametrize("environment", ["staging", "prod"])
def test_the_steps_role_may_assume_the_stages_release_role_and_no_other(
    locked: Locked, cfg: ProjectConfig, environment: str
) -> None:
    template = Template.from_stack(locked.app.node.find_child(PIPELINE_STACK))
    [(role_id, role)] = [
        item
        for item in template.find_resources("AWS::IAM::Role").items()
        if item[1]["Properties"].get("RoleName") == release_step_role_name(cfg.project, environment)
    ]
    assert role["Properties"]["AssumeRolePolicyDocument"]["Statement"][0]["Principal"] == {
        "Service": "codebuild.amazonaws.com"
    }
    assumed = [
        flatten_cfn_reference(statement["Resource"])
        for policy in template.find_resources("AWS::IAM::Policy").values()
        if {"Ref": role_id} in policy["Properties"]["Roles"]
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
        if statement["Action"] == "sts:AssumeRole"
    ]
    assert assumed == [f"arn:<AWS::Partition>:iam::{ACCOUNT}:role/{release_role_name(cfg.project, environment)}"]


def test_a_release_stages_inference_version_is_pinned_to_the_lock(locked: Locked) -> None:
    """A new lock is a new function version: the canary shifts the traffic to it."""
    assert inference_environment(service(locked.app, "staging"))["MLRAILS_RELEASE_LOCK"] == locked.lock.digest
    assert inference_environment(service(locked.app, "prod"))["MLRAILS_RELEASE_LOCK"] == locked.lock.digest
    assert "MLRAILS_RELEASE_LOCK" not in inference_environment(service(locked.app, "dev"))


def test_the_locked_app_has_no_unacknowledged_findings(locked: Locked) -> None:
    assert validation_failures(locked.outdir) == []


def test_without_a_lock_nothing_is_pinned(app: App) -> None:
    for environment in ("dev", "staging", "prod"):
        assert "MLRAILS_RELEASE_LOCK" not in inference_environment(service(app, environment))


# ---------------------------------------------------------------- the release store


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


def test_every_stage_reads_the_store_and_only_the_training_environment_writes(
    pipeline_template: Template, cfg: ProjectConfig
) -> None:
    bucket_id, _ = _store(pipeline_template, cfg)
    allowed = {s["Sid"]: s for s in _store_policy(pipeline_template, bucket_id) if s["Effect"] == "Allow"}
    readers = [_train_role(cfg, name) for name in ("dev", "staging", "prod")]
    for sid, action, roles in (
        ("TrainRolesRead", "s3:GetObject", readers),
        ("TrainRolesList", "s3:ListBucket", readers),
        ("TrainingRolesWrite", "s3:PutObject", [_train_role(cfg, "dev")]),
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
    granted = {s["Sid"]: s for s in statements if s.get("Sid") in ("TrainRolesRead", "TrainingRolesWrite")}
    assert granted["TrainRolesRead"]["Action"] == "kms:Decrypt"
    assert granted["TrainingRolesWrite"]["Action"] == "kms:GenerateDataKey"
    for statement in granted.values():
        condition = statement["Condition"]
        assert flatten_cfn_reference(condition["StringEquals"]["kms:ViaService"]) == "s3.<AWS::Region>.amazonaws.com"
        assert (
            flatten_cfn_reference(condition["StringEquals"]["kms:EncryptionContext:aws:s3:arn"])
            == f"arn:<AWS::Partition>:s3:::{cfg.release_store}"
        )
    assert [
        flatten_cfn_reference(r) for r in granted["TrainingRolesWrite"]["Condition"]["ArnEquals"]["aws:PrincipalArn"]
    ] == [_train_role(cfg, "dev")]


@pytest.mark.parametrize(("environment", "writes"), [("dev", True), ("staging", False), ("prod", False)])
def test_each_train_function_knows_the_store_and_may_use_it_as_its_environment_does(
    app: App, cfg: ProjectConfig, environment: str, writes: bool
) -> None:
    template = service(app, environment)
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
    expected = {"s3:GetObject": objects, "s3:ListBucket": {store}, "kms:Decrypt": key}
    if writes:
        expected |= {"s3:PutObject": objects, "kms:GenerateDataKey": key}
    assert granted == expected


# ---------------------------------------------------------------- release access and the canary


@pytest.mark.parametrize("environment", ["dev", "staging", "prod"])
def test_every_environment_says_where_its_api_and_key_are(app: App, cfg: ProjectConfig, environment: str) -> None:
    template = service(app, environment)
    parameters = {
        p["Properties"]["Name"]: p["Properties"]["Value"]
        for p in template.find_resources("AWS::SSM::Parameter").values()
    }
    url_name, key_name = api_parameters(cfg.project, environment)
    assert re.fullmatch(
        r"https://<InferenceApi\w+>\.execute-api\.<AWS::Region>\.<AWS::URLSuffix>/<\w+>/",
        flatten_cfn_reference(parameters[url_name]),
    )
    [key_id] = template.find_resources(
        "AWS::ApiGateway::ApiKey", {"Properties": {"Description": "Default inference client key"}}
    )
    assert parameters[key_name] == {"Ref": key_id}


@pytest.mark.parametrize("environment", ["staging", "prod"])
def test_a_release_stage_has_a_role_only_the_pipelines_steps_assume(
    app: App, cfg: ProjectConfig, environment: str
) -> None:
    template = service(app, environment)
    [(role_id, role)] = [
        item
        for item in template.find_resources("AWS::IAM::Role").items()
        if item[1]["Properties"].get("RoleName") == release_role_name(cfg.project, environment)
    ]
    [trust] = role["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    assert flatten_cfn_reference(trust["Principal"]["AWS"]) == f"arn:<AWS::Partition>:iam::{ACCOUNT}:root"
    assert flatten_cfn_reference(trust["Condition"]["ArnEquals"]["aws:PrincipalArn"]) == (
        f"arn:<AWS::Partition>:iam::{ACCOUNT}:role/{release_step_role_name(cfg.project, environment)}"
    )
    stage = app.node.find_child(environment)
    assert isinstance(stage, MlrailsStage)
    operators = stage.service.get_logical_id(stage.service.operator_access.policy.node.default_child)
    assert role["Properties"]["ManagedPolicyArns"] == [{"Ref": operators}]
    statements = [
        statement
        for policy in template.find_resources("AWS::IAM::Policy").values()
        if {"Ref": role_id} in policy["Properties"]["Roles"]
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
    ]
    granted = {s["Action"]: sorted(flatten_cfn_reference(r) for r in _list(s["Resource"])) for s in statements}
    [key_id] = template.find_resources(
        "AWS::ApiGateway::ApiKey", {"Properties": {"Description": "Default inference client key"}}
    )
    parameters = sorted(
        f"arn:<AWS::Partition>:ssm:<AWS::Region>:{ACCOUNT}:parameter<{logical}>"
        for logical, p in template.find_resources("AWS::SSM::Parameter").items()
        if p["Properties"]["Name"] in api_parameters(cfg.project, environment)
    )
    assert granted == {
        "ssm:GetParameter": parameters,
        # The default key's value (GetApiKey, includeValue): the smoke test calls the API with it.
        "apigateway:GET": [f"arn:<AWS::Partition>:apigateway:<AWS::Region>::/apikeys/<{key_id}>"],
    }


def test_a_training_environment_has_no_release_role(app: App, cfg: ProjectConfig) -> None:
    names = [r["Properties"].get("RoleName") for r in service(app, "dev").find_resources("AWS::IAM::Role").values()]
    assert release_role_name(cfg.project, "dev") not in names


@pytest.mark.parametrize("environment", ["staging", "prod"])
def test_a_release_stage_rolls_a_new_inference_version_out_as_a_canary(
    app: App, cfg: ProjectConfig, environment: str
) -> None:
    template = service(app, environment)
    stage = app.node.find_child(environment)
    assert isinstance(stage, MlrailsStage)
    alarms = stage.service.alarms
    [group] = template.find_resources("AWS::CodeDeploy::DeploymentGroup").values()
    properties = group["Properties"]
    assert properties["DeploymentConfigName"] == "CodeDeployDefault.LambdaCanary10Percent5Minutes"
    assert cfg.release_canary == "CANARY_10PERCENT_5MINUTES"
    assert properties["AlarmConfiguration"] == {
        "Alarms": [
            {"Name": {"Ref": stage.service.get_logical_id(alarm.node.default_child)}}
            for alarm in (alarms.api_5xx_rate, alarms.api_p99_latency)
        ],
        "Enabled": True,
    }
    assert set(properties["AutoRollbackConfiguration"]["Events"]) == {
        "DEPLOYMENT_FAILURE",
        "DEPLOYMENT_STOP_ON_REQUEST",
        "DEPLOYMENT_STOP_ON_ALARM",
    }
    # The live alias moves through CodeDeploy, not straight to the new version.
    [alias] = template.find_resources("AWS::Lambda::Alias").values()
    assert "CodeDeployLambdaAliasUpdate" in alias["UpdatePolicy"]


def test_a_training_environment_switches_versions_at_once(app: App) -> None:
    template = service(app, "dev")
    template.resource_count_is("AWS::CodeDeploy::DeploymentGroup", 0)
    [alias] = template.find_resources("AWS::Lambda::Alias").values()
    assert "UpdatePolicy" not in alias


def test_every_canary_the_config_accepts_is_one_codedeploy_knows() -> None:
    for name in typing.get_args(Canary):
        assert deployment_config_of(name) is not None, name


# ---------------------------------------------------------------- variants (one environment each)


@pytest.fixture(scope="module")
def without_release(cfg: ProjectConfig, fast_context: dict[str, Any], tmp_path_factory: pytest.TempPathFactory) -> App:
    """mlrails.yaml's staging alone, and no release: section."""
    document = cfg.model_dump(mode="json")
    document["environments"] = {"staging": document["environments"]["staging"]}
    document["release"] = None
    return build_app(
        fast_context,
        outdir=str(tmp_path_factory.mktemp("cdk.out.no-release")),
        config=parse_config(document),
        builtin_validation=False,
    )


def test_without_a_release_section_there_is_no_pipeline_store_or_release_role(
    without_release: App, cfg: ProjectConfig
) -> None:
    assert without_release.node.try_find_child(PIPELINE_STACK) is None
    stage = without_release.node.find_child("staging")
    assert isinstance(stage, MlrailsStage)
    template = Template.from_stack(stage.service)
    names = [r["Properties"].get("RoleName") for r in template.find_resources("AWS::IAM::Role").values()]
    assert release_role_name(cfg.project, "staging") not in names
    description = wiring.function("train").description
    [train] = [
        fn
        for fn in template.find_resources("AWS::Lambda::Function").values()
        if fn["Properties"].get("Description") == description
    ]
    assert "MLRAILS_RELEASE_STORE" not in train["Properties"]["Environment"]["Variables"]
    assert "release/sha256" not in json.dumps(Template.from_stack(stage.tracking).to_json())
    # Still: where the smoke test finds the API (a person may run it), and the canary (its
    # configuration's default), since staging serves releases whoever applies them.
    parameters = {p["Properties"]["Name"] for p in template.find_resources("AWS::SSM::Parameter").values()}
    assert set(api_parameters(cfg.project, "staging")) <= parameters
    template.has_resource_properties(
        "AWS::CodeDeploy::DeploymentGroup", {"DeploymentConfigName": "CodeDeployDefault.LambdaCanary10Percent5Minutes"}
    )


def test_with_iam_auth_the_key_parameter_says_so_and_the_role_may_call_the_api(dev_service_template) -> None:
    template: Template = dev_service_template({"auth": "iam", "models": "release"})
    values = [p["Properties"]["Value"] for p in template.find_resources("AWS::SSM::Parameter").values()]
    assert IAM_AUTH in values
    [invoke] = template.find_resources(
        "AWS::IAM::ManagedPolicy",
        {"Properties": {"Description": Match.string_like_regexp("call the scoring API")}},
    )
    [role] = [
        r
        for r in template.find_resources("AWS::IAM::Role").values()
        if str(r["Properties"].get("RoleName", "")).endswith("-dev-release")
    ]
    assert {"Ref": invoke} in role["Properties"]["ManagedPolicyArns"]
    assert "apigateway:GET" not in json.dumps(template.find_resources("AWS::IAM::Policy"))


# ---------------------------------------------------------------- deterministic, no lookups


def test_the_app_looks_nothing_up(synthesized: Synthesized) -> None:
    """Every synth, the pipeline's included, makes the same templates from the repository alone:
    no context lookup is missing from any assembly, and none is kept in cdk.context.json."""
    manifests = [synthesized.outdir / "manifest.json", *synthesized.outdir.glob("assembly-*/manifest.json")]
    assert len(manifests) == 4  # the app's and its three stages'
    for manifest in manifests:
        assert "missing" not in json.loads(manifest.read_text()), manifest
    assert json.loads((REPO / "cdk.context.json").read_text()) == {}
