"""Where the release pipeline and the environments it deploys meet: the accounts, the regions
and the roles each side names in the other's policies.

The pipeline's stack and each environment's stacks deploy apart, often to other accounts, so
neither can reference the other's resources: each names the other's roles by their
deterministic names, and trusts the other's account with a condition on those names (a policy
that names a principal which does not exist yet fails to deploy; a condition never does). An
environment without an ``account`` (``region``) deploys, through the pipeline, to the
pipeline's own (CDK Pipelines deploys an environment-agnostic stack there); the config refuses
what would leave one side unknown (release.account, environments.<env>.region).
"""

from __future__ import annotations

import aws_cdk as cdk
from constructs import Construct

from infra.support.access import bounded_role_name, model_writer_role_name, role_arn
from mlrails import wiring
from mlrails.config import ProjectConfig, Release
from mlrails.promotion.lock import release_key

# Where the release store keeps files: each under its sha256 (mlrails.promotion.lock).
STORE_PREFIX = release_key("")
_STEP_SUFFIX = "-release-step"


def _release(cfg: ProjectConfig) -> Release:
    if cfg.release is None:
        raise ValueError("the config has no release: section")
    return cfg.release


# ---------------------------------------------------------------- seen from an environment's stacks


def pipeline_account(cfg: ProjectConfig) -> str:
    """The pipeline's account (unset: this environment's own, the CLI's default for both)."""
    return _release(cfg).account or cdk.Aws.ACCOUNT_ID


def store_region(cfg: ProjectConfig) -> str:
    """The release store's region: the pipeline's (unset: this environment's, the same one)."""
    return _release(cfg).region or cdk.Aws.REGION


def release_step_role_arn(scope: Construct, cfg: ProjectConfig, environment: str) -> str:
    """The role of the pipeline's steps that apply and verify the lock in ``environment``."""
    return role_arn(scope, release_step_role_name(cfg.project, environment), pipeline_account(cfg))


# ---------------------------------------------------------------- seen from the pipeline's stack


def release_step_role_name(project: str, environment: str) -> str:
    """The name of the role the pipeline's post-deploy steps for ``environment`` run as: the
    environment's release role trusts it by name."""
    return f"{bounded_role_name(f'mlrails-{project}-{environment}', len(_STEP_SUFFIX))}{_STEP_SUFFIX}"


def environment_account(cfg: ProjectConfig, environment: str) -> str:
    """The account ``environment`` deploys to."""
    return cfg.environments[environment].account or _release(cfg).account or cdk.Aws.ACCOUNT_ID


def train_role_arn(scope: Construct, cfg: ProjectConfig, environment: str) -> str:
    """``environment``'s train function role (``model_writer_role_name``, in its region)."""
    region = cfg.environments[environment].region or _release(cfg).region or cdk.Aws.REGION
    return role_arn(
        scope, model_writer_role_name(cfg.project, environment, region), environment_account(cfg, environment)
    )


def release_role_arn(scope: Construct, cfg: ProjectConfig, environment: str) -> str:
    """``environment``'s release role, which the post-deploy steps assume."""
    return role_arn(scope, wiring.release_role_name(cfg.project, environment), environment_account(cfg, environment))


def lock_stages(cfg: ProjectConfig) -> list[str]:
    """The stages whose champion is the lock (``models: release``): the pipeline applies it
    there and smoke-tests it, as their release role. One that trains serves its own champion."""
    return [name for name in cfg.release_stages if cfg.models_source(name) == "release"]


def store_users(cfg: ProjectConfig) -> list[str]:
    """The environments whose train function uses the store, every one of them, to read and to
    add: a stage the pipeline applies a lock to fetches its files; `mlrails release propose`
    copies in the files of a training environment's champion, and of a release environment's
    own challengers (its gate recommends them for a lock). Adding changes no file (write-once,
    each under its sha256): what serves anywhere is what a reviewed lock names, digest by digest."""
    return list(cfg.environments)
