"""Builds the app: the same function for ``cdk synth`` and for the tests.

The project config is loaded once, validated (errors name the field), and handed to one
:class:`~infra.stage.MlrailsStage` per environment; with a ``release:`` section, the
:class:`~infra.stacks.pipeline.PipelineStack` deploys those same stages. cdk-nag's AWS
Solutions pack runs as a policy-validation plugin on the whole app: any unacknowledged finding
fails the synth.

Two deployment rules need every environment at once, so they are checked here, not per field:
environments that share an account are warned about (a production one fails unless the config
acknowledges it), and alarms need someone to notify (``alarm_email``) unless acknowledged.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import aws_cdk as cdk
from cdk_nag import AwsSolutionsChecks

from infra.stacks.pipeline import PipelineStack
from infra.stage import MlrailsStage
from infra.support.images import KIT_IMAGE, project_image
from infra.support.paths import LAYERS_BUILD_DIR, REPO_ROOT
from mlrails.config import PRODUCTION_ENVIRONMENTS, ProjectConfig, load_config
from mlrails.errors import ConfigError
from mlrails.promotion.lock import read_lock

CONFIG_CONTEXT_KEY = "mlrails:config"
# Optional: where the built layers are (default layers/build, made by `make layers`).
LAYERS_DIR_CONTEXT_KEY = "mlrails:layers-dir"
VALIDATION_REPORT = "validation-report.json"
# The release pipeline's stack: `npx cdk deploy Pipeline` deploys it the first time.
PIPELINE_STACK = "Pipeline"
# The warning on each Service stack whose environment shares its account with another.
SHARED_ACCOUNT_WARNING = "mlrails:sharedAccount"


def config_path(app: cdk.App) -> Path:
    """The config file the ``mlrails:config`` context key names (a path from the repo root, or
    an absolute one: a project elsewhere)."""
    path = app.node.try_get_context(CONFIG_CONTEXT_KEY)
    if not path:
        raise ValueError(f"context key '{CONFIG_CONTEXT_KEY}' must name the project config file (see cdk.json)")
    return REPO_ROOT / path


def build_app(
    context: Mapping[str, Any] | None = None,
    outdir: str | None = None,
    *,
    config: ProjectConfig | None = None,
    project_dir: Path | None = None,
    builtin_validation: bool = True,
) -> cdk.App:
    """Build the app with every stage, and with a ``release:`` section the pipeline that deploys
    them. ``context`` is ``cdk.json``'s context when not run by the CLI (an ``App`` made
    in-process reads no ``cdk.json``); ``config`` overrides the file; ``project_dir`` is where the
    model lock is (default: the config file's folder; with ``config``, the checkout's root);
    ``builtin_validation=False`` skips CDK's CloudFormation checks (cdk-nag still runs)."""
    app = cdk.App(
        context=dict(context) if context is not None else None,
        outdir=outdir,
        builtin_cloud_formation_validation=builtin_validation,
    )
    path = None if config is not None else config_path(app)
    cfg = config if config is not None else load_config(path)
    refuse_unacknowledged_risks(cfg)
    # The project's folder: where its model module is, for the images (the checkout's own: none).
    image = project_image(path.parent, cfg.model.entrypoint) if path is not None else KIT_IMAGE
    layers_dir = REPO_ROOT / (app.node.try_get_context(LAYERS_DIR_CONTEXT_KEY) or LAYERS_BUILD_DIR)
    lock = read_lock(project_dir or (path.parent if path is not None else REPO_ROOT), cfg.model.name)
    stages: dict[str, MlrailsStage] = {}
    for name, environment in cfg.environments.items():
        stages[name] = MlrailsStage(
            app,
            name,
            cfg=cfg,
            environment_name=name,
            layers_dir=layers_dir,
            image=image,
            # No account/region: environment-agnostic stacks synthesize without AZ lookups.
            env=cdk.Environment(account=environment.account, region=environment.region),
            # What a `models: release` environment serves: the lock in this commit.
            release_lock=lock.digest if lock is not None and cfg.models_source(name) == "release" else None,
        )
    for name, others in shared_accounts(cfg).items():
        warn_shared_account(stages[name], name, others, cfg)
    if cfg.release is not None:
        # Last: the pipeline synthesizes each stage as it adds it, so the stages are complete by then.
        pipeline = PipelineStack(
            app,
            PIPELINE_STACK,
            cfg=cfg,
            stages=stages,
            lock_committed=lock is not None,
            stack_name=f"mlrails-{cfg.project}-pipeline",
            description=f"mlrails {cfg.project}: the release pipeline and the release store",
            env=cdk.Environment(account=cfg.release.account, region=cfg.release.region),
        )
        cdk.Tags.of(pipeline).add("mlrails:project", cfg.project)
    cdk.Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    return app


def shared_accounts(cfg: ProjectConfig) -> dict[str, list[str]]:
    """Each environment that deploys to the same account as another, with those others. No
    ``account`` is the account the CLI's credentials name: the same one for every such
    environment. (One with no account and one with an explicit account may still be the same
    account; the synth cannot know, so they are not reported.)"""
    by_account: dict[str | None, list[str]] = defaultdict(list)
    for name, environment in cfg.environments.items():
        by_account[environment.account].append(name)
    return {
        name: [other for other in names if other != name]
        for names in by_account.values()
        if len(names) > 1
        for name in names
    }


def refuse_unacknowledged_risks(cfg: ProjectConfig) -> None:
    """Raise :class:`ConfigError` naming each environment that shares a production account, or
    alarms nobody, without the config's acknowledgement (``environments.<env>.acknowledge``)."""
    problems = []
    for name, others in shared_accounts(cfg).items():
        if name in PRODUCTION_ENVIRONMENTS and not cfg.environments[name].acknowledge.shared_account:
            problems.append(
                f"environments.{name}: deploys to the same account as {', '.join(others)} "
                f"({_account(cfg, name)}): a production environment needs an account of its own "
                f"(environments.{name}.account), or the reason it shares one in "
                f"environments.{name}.acknowledge.shared_account"
            )
    for name, environment in cfg.environments.items():
        if environment.alarm_email is None and not environment.acknowledge.no_alarm_email:
            problems.append(
                f"environments.{name}: its alarms notify nobody: set environments.{name}.alarm_email, "
                f"or give the reason in environments.{name}.acknowledge.no_alarm_email"
            )
    if problems:
        raise ConfigError("the config cannot be deployed as it is:\n  " + "\n  ".join(problems), details=problems)


def warn_shared_account(stage: MlrailsStage, name: str, others: list[str], cfg: ProjectConfig) -> None:
    """A warning on the stage's Service stack (functions and API: what competes for the
    account's quotas), acknowledged with the config's reason when it gives one. Like every
    finding, an unacknowledged warning fails ``make synth`` (see :func:`validation_failures`)."""
    annotations = cdk.Annotations.of(stage.service)
    annotations.add_warning_v2(
        SHARED_ACCOUNT_WARNING,
        f"environment {name} deploys to the same account as {', '.join(others)} ({_account(cfg, name)}): "
        "they share its Lambda, API Gateway and other quotas, and its blast radius. Set "
        f"environments.{name}.account, or give the reason in environments.{name}.acknowledge.shared_account",
    )
    reason = cfg.environments[name].acknowledge.shared_account
    if reason:
        annotations.acknowledge_warning(SHARED_ACCOUNT_WARNING, reason)


def _account(cfg: ProjectConfig, name: str) -> str:
    account = cfg.environments[name].account
    return f"account {account}" if account else "no account set: the CLI's default account"


def validation_failures(assembly_dir: str | Path) -> list[str]:
    """Every unacknowledged finding in the synthesized app's validation report, as
    ``"<plugin>: <rule> at <construct path>"`` lines (empty when the report is clean).

    A Python app runs its validation in jsii's Node process: when the CDK CLI runs the app,
    aws-cdk-lib only sets that process's exit code on a failed validation, which never reaches
    the CLI. ``infra.app`` reads the report instead and fails the synth itself.
    """
    report_file = Path(assembly_dir) / VALIDATION_REPORT
    if not report_file.exists():
        return []
    report = json.loads(report_file.read_text())
    return [
        f"{plugin['pluginName']}: {violation['ruleName']} at {construct['constructPath']}"
        for plugin in report.get("pluginReports", [])
        for violation in plugin.get("violations", [])
        for construct in violation.get("violatingConstructs", [])
    ]
