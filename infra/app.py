"""CDK entry point (``cdk.json``: ``.venv/bin/python -m infra.app``, from the repository root,
so ``infra`` is the package the tests import and our ``constructs`` package never shadows the
``constructs`` library aws-cdk-lib imports)."""

import sys

from infra.app_builder import build_app, validation_failures

assembly = build_app().synth()
failures = validation_failures(assembly.directory)
if failures:
    print(
        f"{len(failures)} unacknowledged validation finding(s) (cdk-nag / CloudFormation checks):",
        *failures,
        sep="\n  ",
        file=sys.stderr,
    )
    sys.exit(1)
