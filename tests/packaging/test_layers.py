"""The built Lambda layers: they fit Lambda's size limit, are fresh, and match uv.lock.

Reads layers/build/ as `make layers` (layers/build.py) leaves it; builds nothing itself.
"""

from __future__ import annotations

import email.parser
import filecmp
import importlib.metadata
import importlib.util
from dataclasses import replace
from pathlib import Path

import pytest
from packaging.utils import canonicalize_name

from mlrails.wiring import FUNCTIONS, INFERENCE_PACKAGES, function

ROOT = Path(__file__).resolve().parents[2]


def _load_build_script():
    """layers/build.py is the authority on the layout, the limit and how size is counted."""
    spec = importlib.util.spec_from_file_location("mlrails_layers_build", ROOT / "layers" / "build.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


build = _load_build_script()
# Every zip package a deployment can choose: the functions, with inference in each zip variant.
ZIP_FUNCTIONS = [spec for spec in FUNCTIONS if spec.packaging == "zip" and spec.name != "inference"] + [
    replace(function("inference"), name="inference", layers=layers)
    for packaging, layers in INFERENCE_PACKAGES.values()
    if packaging == "zip"
]
# The compiled serving path is held to less than this with its layers (README, "Serving paths").
ONNX_PATH_LIMIT = 100 * build.MB
NOT_BUILT = "layer {layer!r} is not built ({path} is missing): run `make layers`"


def layer_dir(layer: str) -> Path:
    path = build.BUILD_DIR / layer
    if not (path / "python").is_dir():
        pytest.fail(NOT_BUILT.format(layer=layer, path=(path / "python").relative_to(ROOT)))
    return path


def layer_distributions(layer: str) -> dict[str, str]:
    """Canonical name -> version of every distribution installed in a built layer."""
    found = {}
    for metadata in (layer_dir(layer) / "python").glob("*.dist-info/METADATA"):
        headers = email.parser.Parser().parsestr(metadata.read_text(encoding="utf-8"), headersonly=True)
        found[canonicalize_name(headers["Name"])] = headers["Version"]
    return found


def mib(size: int) -> str:
    return f"{size / build.MB:.1f} MB"


def test_every_zip_function_uses_declared_layers():
    declared = set(build.layer_names())
    for spec in ZIP_FUNCTIONS:
        assert set(spec.layers) <= declared, (
            f"{spec.name} uses layers {sorted(set(spec.layers) - declared)} that have no "
            f"layers/<name>/requirements.in (declared: {sorted(declared)})"
        )


def package_parts(spec) -> dict[str, int]:
    """Unzipped bytes of a zip function's code and of each of its layers."""
    code = ROOT / "functions" / spec.name
    assert code.is_dir(), f"{code.relative_to(ROOT)} is missing: wiring.FUNCTIONS declares {spec.name!r}"
    # The whole directory counts, caches included: an over-estimate of the deployed asset.
    parts = {f"functions/{spec.name}": build.tree_size(code)}
    for layer in spec.layers:
        parts[f"layers/build/{layer}"] = build.tree_size(layer_dir(layer))
    return parts


def listing(parts: dict[str, int]) -> str:
    return "\n".join(f"  {name:<28} {mib(size):>10}" for name, size in parts.items())


@pytest.mark.parametrize("spec", ZIP_FUNCTIONS, ids=lambda spec: f"{spec.name}[{'+'.join(spec.layers)}]")
def test_zip_function_fits_lambda_unzipped_limit(spec):
    parts = package_parts(spec)
    total = sum(parts.values())
    assert total < build.LAMBDA_UNZIPPED_LIMIT, (
        f"{spec.name}: function + layers unzipped = {mib(total)}, over Lambda's limit of "
        f"{mib(build.LAMBDA_UNZIPPED_LIMIT)} ({build.LAMBDA_UNZIPPED_LIMIT:,} bytes):\n{listing(parts)}"
    )


def test_the_onnx_inference_package_stays_under_100_mb():
    """What makes the compiled path quick to start: no scikit-learn, scipy, pandas or skops."""
    packaging, layers = INFERENCE_PACKAGES["onnx"]
    parts = package_parts(replace(function("inference"), packaging=packaging, layers=layers))
    total = sum(parts.values())
    assert total < ONNX_PATH_LIMIT, (
        f"inference (serving.package onnx) unzipped = {mib(total)}, over {mib(ONNX_PATH_LIMIT)}:\n{listing(parts)}"
    )
    shipped = layer_distributions("onnx")
    assert {"onnxruntime", "numpy"} <= set(shipped)
    assert not {"scikit-learn", "scipy", "pandas", "skops", "mlflow"} & set(shipped)


def test_shared_layer_holds_current_mlrails():
    """The layer's copy of mlrails is src/mlrails, file for file: a stale build fails here."""
    src = build.SRC_PACKAGE
    copy = layer_dir(build.CODE_LAYER) / "python" / build.PACKAGE_NAME

    def files(root: Path) -> set[Path]:
        return {
            p.relative_to(root)
            for p in root.rglob("*")
            if p.is_file() and "__pycache__" not in p.parts and p.suffix != ".pyc"
        }

    expected, actual = files(src), files(copy)
    missing = sorted(map(str, expected - actual))
    extra = sorted(map(str, actual - expected))
    differing = sorted(str(rel) for rel in expected & actual if not filecmp.cmp(src / rel, copy / rel, shallow=False))
    assert not (missing or extra or differing), (
        "layers/build/shared holds a stale copy of src/mlrails: run `make layers`\n"
        f"  missing from the layer: {missing}\n  only in the layer: {extra}\n  differing: {differing}"
    )


def test_ml_layer_ships_the_tested_scikit_learn_and_numpy():
    shipped = layer_distributions("ml")
    for name in ("scikit-learn", "numpy"):
        dev = importlib.metadata.version(name)
        assert name in shipped, f"{name} is not in layers/build/ml"
        assert shipped[name] == dev, (
            f"layers/build/ml ships {name} {shipped[name]} but the dev env has {dev}: run `make layers`"
        )


@pytest.mark.parametrize("layer", build.layer_names())
def test_layer_is_exactly_its_locked_closure(layer):
    """Every distribution a layer ships is the one uv.lock holds for Lambda's Python 3.12, and
    nothing of the closure is missing (the stamp would otherwise say the layer is fresh)."""
    lock = build.read_lock()
    expected = {
        name: package.version
        for name, package in build.closure(
            build.read_requirements(layer), lock, build.RUNTIME_PROVIDED | build.LAYER_OMITS.get(layer, frozenset())
        ).items()
    }
    assert layer_distributions(layer) == expected, f"layers/build/{layer} differs from uv.lock: run `make layers`"


@pytest.mark.parametrize("layer", build.layer_names())
def test_layer_leaves_the_aws_sdk_to_the_runtime(layer):
    shipped = set(layer_distributions(layer)) & build.RUNTIME_PROVIDED
    assert not shipped, f"layers/build/{layer} ships {sorted(shipped)}, which the Lambda runtime provides"
