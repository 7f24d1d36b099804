"""The release pipeline: self-mutating, with Docker; the stages deployed in order, a person's
approval before prod; around each deploy of a stage the lock pins, once the repository holds
one, the lock applied and smoke-tested by the CLI a person runs, as that stage's release role.
And the app looks nothing up, so the pipeline's synth is the same as anyone's.

The session's app (mlrails.yaml: a release: section, no lock in the repository) and one more,
built for a project whose repository holds a lock (the ``locked`` fixture). The release store:
test_release_store.py; each environment's side (its role, the canary): test_release_access.py.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from aws_cdk.assertions import Template

from infra.app_builder import PIPELINE_STACK, build_app, validation_failures
from infra.constructs.release_pipeline import release_commands
from infra.stacks.pipeline import PipelineStack
from infra.support.nag import flatten_cfn_reference
from infra.support.release import release_step_role_name
from mlrails.config import ProjectConfig, parse_config
from mlrails.wiring import release_role_name
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


def test_the_locked_app_has_no_unacknowledged_findings(locked: Locked) -> None:
    assert validation_failures(locked.outdir) == []


# ---------------------------------------------------------------- deterministic, no lookups


def test_the_app_looks_nothing_up(synthesized: Synthesized) -> None:
    """Every synth, the pipeline's included, makes the same templates from the repository alone:
    no context lookup is missing from any assembly, and none is kept in cdk.context.json."""
    manifests = [synthesized.outdir / "manifest.json", *synthesized.outdir.glob("assembly-*/manifest.json")]
    assert len(manifests) == 4  # the app's and its three stages'
    for manifest in manifests:
        assert "missing" not in json.loads(manifest.read_text()), manifest
    assert json.loads((REPO / "cdk.context.json").read_text()) == {}


# ---------------------------------------------------------------- an environment in an account of its own

PIPELINE_ACCOUNT, DEV_ACCOUNT, REGION = "111111111111", "222222222222", "eu-west-1"


@pytest.fixture(scope="module")
def other_account(cfg: ProjectConfig, fast_context: dict[str, Any], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """dev alone, in an account of its own; the pipeline in another: synthesized, its cloud
    assembly's folder."""
    document = cfg.model_dump(mode="json")
    document["environments"] = {"dev": {**document["environments"]["dev"], "account": DEV_ACCOUNT, "region": REGION}}
    document["release"] |= {"account": PIPELINE_ACCOUNT, "region": REGION}
    outdir = tmp_path_factory.mktemp("cdk.out.other-account")
    build_app(fast_context, outdir=str(outdir), config=parse_config(document), builtin_validation=False).synth()
    return outdir


def test_a_stage_in_another_account_deploys_through_its_bootstrap_roles_and_synthesizes_clean(
    other_account: Path,
) -> None:
    template = json.loads((other_account / f"{PIPELINE_STACK}.template.json").read_text())
    [pipeline] = [r for r in template["Resources"].values() if r["Type"] == "AWS::CodePipeline::Pipeline"]
    [dev] = [stage for stage in pipeline["Properties"]["Stages"] if stage["Name"] == "dev"]
    for action in dev["Actions"]:
        # `cdk bootstrap --trust <pipeline account>` made these roles in dev's account (README).
        assert f":iam::{DEV_ACCOUNT}:role/cdk-" in json.dumps(action["RoleArn"]), action["Name"]
    assert validation_failures(other_account) == []
