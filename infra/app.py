"""CDK entry point (``cdk.json``: ``.venv/bin/python infra/app.py``).

Run as a script, Python puts ``infra/`` first on ``sys.path``, where our ``constructs``
package would shadow the ``constructs`` library aws-cdk-lib imports: the repository root
takes its place, so ``infra`` is imported as the package the tests import too.
"""

import sys
from pathlib import Path

sys.path[0] = str(Path(__file__).resolve().parents[1])

from infra.app_builder import build_app, validation_failures  # noqa: E402

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
