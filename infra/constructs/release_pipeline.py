"""The release pipeline: CDK Pipelines, self-mutating, from the repository's branch.

Source: the repository through its CodeConnections connection, cloned by CodeBuild (the
checkout has its git history: the train function records the commit it was built from,
mlrails.adapters.git). Synth: the repository's own commands, ``make test`` then ``make synth``
(the Makefile makes .venv from uv.lock and the CDK CLI from package-lock.json), in CodeBuild's
standard image with the runtimes the README asks for; its ``cdk.out`` is what every later step
deploys. Then the pipeline updates itself, publishes the assets (Docker builds the images), and
deploys the app's own stages in ``release.stages`` order. A person approves before each stage of
``release.approval_before``. Around the deploy of each stage whose champion is the lock
(``models: release``), once the repository holds one (``release/<model>.lock.json``; the
pipeline updates itself when the first is merged), steps run the CLI a person would, as the
environment's release role: ``mlrails release apply`` (the lock of this commit: the train function
fetches its files from the release store and serves them) before the deploy, then after it (the
environment's first deploy; otherwise the lock serves already and it does nothing), then
``mlrails release verify`` (a smoke test of the API). So merging a lock's pull request is the
promotion.

Why apply before the deploy: the deploy brings the inference version pinned to the new lock, and
the canary (infra/constructs/canary.py) shifts traffic to it while the version before keeps
serving its own lock (mlrails.serving.champion): applied first, the new model reaches the
canary's share of the traffic first, watched by the alarms. Applied only after, both versions
would serve the old model through the canary, then every user would switch at once.
"""

from __future__ import annotations

from collections.abc import Mapping

import aws_cdk as cdk
from aws_cdk import aws_codebuild as codebuild
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3
from aws_cdk import pipelines
from constructs import Construct

from infra.constructs.alarms import pascal
from infra.support.nag import acknowledge, acknowledge_resource_wildcard
from infra.support.paths import cdk_cli_version
from infra.support.release import lock_stages, release_role_arn, release_step_role_name
from mlrails.config import ProjectConfig

# Pinned rather than the image's defaults, which move (CodeBuild's advice): Python 3.12 is the
# functions' runtime and the venv's (scripts/find-python), Node 20+ runs the CDK CLI.
RUNTIMES = codebuild.BuildSpec.from_object(
    {"phases": {"install": {"runtime-versions": {"python": "3.12", "nodejs": "20"}}}}
)
# The post-deploy steps install the CLI the way a person does, exactly uv.lock's versions
# (`make install`: .venv from the lock, uv itself pinned by hash), from the same checkout.
INSTALL_CLI = "make install"
CLI = ".venv/bin/mlrails"


def release_commands(environment: str, role_arn: str) -> tuple[str, str, str]:
    """What the steps of ``environment`` run: apply the lock before its deploy (when it is
    deployed already), apply it after (its first deploy; otherwise it serves already), smoke-test."""
    apply = f"{CLI} release apply --env {environment} --role-arn {role_arn}"
    return f"{apply} --if-deployed", apply, f"{CLI} release verify --env {environment} --role-arn {role_arn}"


class ReleasePipeline(Construct):
    """``pipeline`` (built: its CodePipeline exists once this returns), the ``source`` it builds
    from, and per stage the ``step_roles`` its release steps run as."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        cfg: ProjectConfig,
        stages: Mapping[str, cdk.Stage],
        lock_committed: bool,
    ) -> None:
        super().__init__(scope, construct_id)
        release = cfg.release
        if release is None:
            raise ValueError("the release pipeline needs the config's release: section")
        self.source = pipelines.CodePipelineSource.connection(
            release.repository,
            release.branch,
            connection_arn=release.connection_arn,
            code_build_clone_output=True,
        )
        self.pipeline = pipelines.CodePipeline(
            self,
            "Pipeline",
            synth=pipelines.CodeBuildStep(
                "Synth",
                input=self.source,
                partial_build_spec=RUNTIMES,
                commands=["make test", "make synth"],
                primary_output_directory="cdk.out",
            ),
            # The self-mutation and asset steps install the CLI that `make synth` runs, not the newest.
            cli_version=cdk_cli_version(),
            # Each stage's account decrypts the artifacts it deploys from.
            cross_account_keys=True,
            enable_key_rotation=True,
            self_mutation=True,
            # The train function and the MLflow server are images: Docker builds them.
            docker_enabled_for_synth=True,
            docker_enabled_for_self_mutation=True,
        )
        self.step_roles: dict[str, iam.Role] = {}
        for name in cfg.release_stages:
            pre: list[pipelines.Step] = []
            post: list[pipelines.Step] = []
            if name in cfg.release_approvals:
                pre.append(
                    pipelines.ManualApprovalStep(
                        "Approve", comment=f"Deploy this commit's code and model lock to {name}"
                    )
                )
            if lock_committed and name in lock_stages(cfg):
                before, after, verify = self._release_steps(cfg, name)
                for approval in pre:
                    before.add_step_dependency(approval)
                pre.append(before)
                post += [after, verify]
            self.pipeline.add_stage(stages[name], pre=pre, post=post)
        # Built now, not when the app synthesizes: its roles must exist to be acknowledged.
        self.pipeline.build_pipeline()
        _acknowledge_cdk_pipelines(self.pipeline, list(self.step_roles.values()))

    def _release_steps(
        self, cfg: ProjectConfig, name: str
    ) -> tuple[pipelines.CodeBuildStep, pipelines.CodeBuildStep, pipelines.CodeBuildStep]:
        """Apply before the deploy, apply after it, verify: each with the CLI installed from the
        commit's checkout, as a role that may assume the stage's release role and nothing else."""
        target = release_role_arn(self, cfg, name)
        # Named: the stage's release role trusts exactly this role (by its name, in the
        # pipeline's account).
        role = iam.Role(
            self,
            f"{pascal(name)}StepRole",
            role_name=release_step_role_name(cfg.project, name),
            assumed_by=iam.ServicePrincipal("codebuild.amazonaws.com"),
            description=f"mlrails release steps for {name}: assume its release role",
        )
        role.add_to_policy(iam.PolicyStatement(actions=["sts:AssumeRole"], resources=[target]))
        self.step_roles[name] = role
        before, after, verify = (
            pipelines.CodeBuildStep(
                step_id,
                input=self.source,
                role=role,
                partial_build_spec=RUNTIMES,
                install_commands=[INSTALL_CLI],
                commands=[command],
            )
            for step_id, command in zip(
                ("ApplyBeforeDeploy", "ApplyAfterDeploy", "Verify"), release_commands(name, target), strict=True
            )
        )
        verify.add_step_dependency(after)
        return before, after, verify


# CDK's grants on the pipeline's artifact bucket and its key: CDK's action groups.
_READ_ARTIFACTS = ("s3:GetBucket*", "s3:GetObject*", "s3:List*")
_WRITE_ARTIFACTS = (*_READ_ARTIFACTS, "s3:Abort*", "s3:DeleteObject*")
_USE_KEY = ("kms:GenerateDataKey*", "kms:ReEncrypt*")
_ARTIFACTS_REASON = (
    "CDK Pipelines' grant on the pipeline's own artifact bucket (source, cloud assembly, step outputs) "
    "and its key: CDK's S3 and KMS action groups, on that one bucket's objects and that one key."
)


def _acknowledge_cdk_pipelines(pipeline: pipelines.CodePipeline, step_roles: list[iam.Role]) -> None:
    """The IAM wildcards CDK Pipelines writes into the roles it creates (and into ours, the
    post-deploy steps' roles, when it binds their projects to the pipeline): not ours to scope."""
    codepipeline = pipeline.pipeline
    bucket = codepipeline.artifact_bucket
    # The source action's role, which CodePipeline makes when the action binds.
    source_roles = [
        role for role in codepipeline.node.find_child("Source").node.find_all() if isinstance(role, iam.Role)
    ]
    for role in [codepipeline.role, pipeline.synth_project.role, *source_roles]:
        _acknowledge_artifacts(role, bucket, _WRITE_ARTIFACTS + _USE_KEY)
    for role in [pipeline.self_mutation_project.role, *step_roles]:
        _acknowledge_artifacts(role, bucket, _READ_ARTIFACTS + _USE_KEY)

    assets = pipeline.node.try_find_child("Assets")
    asset_roles = (
        [role for role in (assets.node.try_find_child(name) for name in ("FileRole", "DockerRole")) if role]
        if assets
        else []
    )
    for role in asset_roles:
        _acknowledge_artifacts(role, bucket, _READ_ARTIFACTS)
        reason = (
            "CDK Pipelines' asset-publishing role, shared by one CodeBuild project per asset (created after "
            "it): their CodeBuild log groups, report groups and builds."
        )
        acknowledge_resource_wildcard(role, _codebuild_logs(role, "*"), reason)
        acknowledge_resource_wildcard(role, _codebuild_report_groups(role, "*"), reason)
        acknowledge(role, "AwsSolutions-IAM5[Resource::*]", reason + " CodeBuild's build actions, on any project.")

    for project in pipeline.node.find_all():
        if isinstance(project, codebuild.Project) and project.role and project.role not in asset_roles:
            reason = "CodeBuild's own log group and report groups of this one project (CodeBuild suffixes the names)."
            acknowledge_resource_wildcard(project.role, _codebuild_logs(project, f"{project.project_name}:*"), reason)
            acknowledge_resource_wildcard(
                project.role, _codebuild_report_groups(project, f"{project.project_name}-*"), reason
            )

    mutation = pipeline.self_mutation_project.role
    acknowledge_resource_wildcard(
        mutation,
        f"arn:*:iam::{cdk.Stack.of(mutation).account}:role/*",
        "CDK Pipelines' self-mutation (`cdk deploy` of this stack) assumes the CDK bootstrap roles, held to "
        "them by the statement's condition on their aws-cdk:bootstrap-role tag.",
    )
    acknowledge(
        mutation,
        "AwsSolutions-IAM5[Resource::*]",
        "CDK Pipelines' self-mutation: `cdk deploy` describes the stacks and lists the bootstrap bucket first.",
    )


def _acknowledge_artifacts(role: iam.IRole, bucket: s3.IBucket, actions: tuple[str, ...]) -> None:
    for action in actions:
        acknowledge(role, f"AwsSolutions-IAM5[Action::{action}]", _ARTIFACTS_REASON)
    acknowledge_resource_wildcard(role, bucket.arn_for_objects("*"), _ARTIFACTS_REASON)


# As CodeBuild's grants name them (Stack.format_arn: literal account, region and partition when
# the pipeline's stack names them), so that the acknowledgements name the same findings.
def _codebuild_logs(scope: Construct, name: str) -> str:
    return cdk.Stack.of(scope).format_arn(
        service="logs",
        resource="log-group",
        arn_format=cdk.ArnFormat.COLON_RESOURCE_NAME,
        resource_name=f"/aws/codebuild/{name}",
    )


def _codebuild_report_groups(scope: Construct, name: str) -> str:
    return cdk.Stack.of(scope).format_arn(service="codebuild", resource="report-group", resource_name=name)
