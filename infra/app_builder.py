"""Builds the app: the same function for ``cdk synth`` and for the tests.

The project config is loaded once, validated (errors name the field), and handed to one
:class:`~infra.stage.MlrailsStage` per environment. cdk-nag's AWS Solutions pack runs as a
policy-validation plugin on the whole app: any unacknowledged finding fails the synth.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import aws_cdk as cdk
from cdk_nag import AwsSolutionsChecks

from infra.paths import LAYERS_BUILD_DIR, REPO_ROOT
from infra.stage import MlrailsStage
from mlrails.config import ProjectConfig, load_config

CONFIG_CONTEXT_KEY = "mlrails:config"
# Optional: where the built layers are (default layers/build, made by `make layers`).
LAYERS_DIR_CONTEXT_KEY = "mlrails:layers-dir"
VALIDATION_REPORT = "validation-report.json"


def load_project_config(app: cdk.App) -> ProjectConfig:
    """The config named by the ``mlrails:config`` context key (a path from the repo root)."""
    path = app.node.try_get_context(CONFIG_CONTEXT_KEY)
    if not path:
        raise ValueError(f"context key '{CONFIG_CONTEXT_KEY}' must name the project config file (see cdk.json)")
    return load_config(REPO_ROOT / path)


def build_app(
    context: Mapping[str, Any] | None = None,
    outdir: str | None = None,
    *,
    config: ProjectConfig | None = None,
    builtin_validation: bool = True,
) -> cdk.App:
    """Build the app with every stage. ``context`` is ``cdk.json``'s context when not run by the
    CLI (an ``App`` made in-process reads no ``cdk.json``); ``config`` overrides the file;
    ``builtin_validation=False`` skips CDK's CloudFormation checks (cdk-nag still runs)."""
    app = cdk.App(context=dict(context) if context is not None else None, outdir=outdir,
                  builtin_cloud_formation_validation=builtin_validation)
    cfg = config if config is not None else load_project_config(app)
    layers_dir = REPO_ROOT / (app.node.try_get_context(LAYERS_DIR_CONTEXT_KEY) or LAYERS_BUILD_DIR)
    for name, environment in cfg.environments.items():
        MlrailsStage(
            app, name,
            cfg=cfg,
            environment_name=name,
            layers_dir=layers_dir,
            # No account/region: environment-agnostic stacks synthesize without AZ lookups.
            env=cdk.Environment(account=environment.account, region=environment.region),
        )
    cdk.Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    return app


def validation_failures(assembly_dir: str | Path) -> list[str]:
    """Every unacknowledged finding in the synthesized app's validation report, as
    ``"<plugin>: <rule> at <construct path>"`` lines (empty when the report is clean).

    A Python app runs its validation in jsii's Node process: when the CDK CLI runs the app,
    aws-cdk-lib only sets that process's exit code on a failed validation, which never reaches
    the CLI. ``infra/app.py`` reads the report instead and fails the synth itself.
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
