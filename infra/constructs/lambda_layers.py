"""Lambda layers built by ``make layers`` (layers/build.py, no Docker): each
``layers/build/<name>/python/`` holds packages for Python 3.12 on x86_64."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from aws_cdk import aws_lambda as lambda_
from constructs import Construct

from infra.support.paths import LAYERS_BUILD_DIR

LAYER_NAMES = ("shared", "data", "ml", "onnx")
_DESCRIPTIONS = {
    "shared": "mlrails package and Powertools",
    "data": "pandas, pyarrow and the drift dependencies",
    "ml": "scikit-learn, scipy and skops, to load and serve the champion model",
    "onnx": "onnxruntime and numpy, to serve a champion compiled to ONNX",
}


class LambdaLayers(Construct):
    """One layer version per built layer directory; ``layers[name]`` looks one up."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        build_dir: Path = LAYERS_BUILD_DIR,
        names: Sequence[str] = LAYER_NAMES,
    ) -> None:
        super().__init__(scope, construct_id)
        self.layers: Mapping[str, lambda_.ILayerVersion] = {
            name: lambda_.LayerVersion(
                self,
                name.capitalize(),
                code=lambda_.Code.from_asset(str(_layer_dir(build_dir, name))),
                compatible_runtimes=[lambda_.Runtime.PYTHON_3_12],
                compatible_architectures=[lambda_.Architecture.X86_64],
                description=f"mlrails {name}: {_DESCRIPTIONS.get(name, name)}",
            )
            for name in names
        }


def _layer_dir(build_dir: Path, name: str) -> Path:
    path = build_dir / name
    if not (path / "python").is_dir():
        raise FileNotFoundError(f"layer '{name}' is not built: {path}/python is missing (run `make layers`)")
    return path
