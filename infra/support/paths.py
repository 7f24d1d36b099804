"""Where the app finds what it packages: asset paths, never imported code."""

import json
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
FUNCTIONS_DIR = REPO_ROOT / "functions"
LAYERS_BUILD_DIR = REPO_ROOT / "layers" / "build"
MLFLOW_IMAGE_DIR = REPO_ROOT / "infra" / "mlflow"
# Image functions build with the repository root as context; its .dockerignore (an allowlist)
# is the one list of what goes in, for `docker build` and CDK's asset hash alike.
IMAGE_CONTEXT_DIR = REPO_ROOT
# Pins the CDK CLI that `make synth` runs (package-lock.json holds its exact tree).
NODE_PACKAGE = REPO_ROOT / "package.json"
# mlrails' runtime closure as the images install it: exported from uv.lock by `make lock`.
RUNTIME_REQUIREMENTS = REPO_ROOT / "requirements" / "runtime.txt"


# Every image function's Dockerfile, relative to IMAGE_CONTEXT_DIR; build argument FUNCTION
# names the function whose handler goes in.
IMAGE_DOCKERFILE = "functions/Dockerfile"


def cdk_cli_version() -> str:
    """The CDK CLI version ``package.json`` pins."""
    return json.loads(NODE_PACKAGE.read_text())["devDependencies"]["aws-cdk"]


def image_build_args(function_name: str) -> dict[str, str]:
    """The build arguments of ``function_name``'s image."""
    return {"FUNCTION": function_name}
