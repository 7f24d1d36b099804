"""Where the app finds what it packages: asset paths, never imported code."""

from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
FUNCTIONS_DIR = REPO_ROOT / "functions"
LAYERS_BUILD_DIR = REPO_ROOT / "layers" / "build"
MLFLOW_IMAGE_DIR = REPO_ROOT / "infra" / "mlflow"
TRAIN_DOCKERFILE = "functions/train/Dockerfile"
