"""Unzipped sizes of the Lambda layers and of each zip function with its layers (inference
once per zip `serving.package`: full, and onnx, the compiled path held under 100 MB).

Reads layers/build/ (run `make layers` first). Prints a table, then ONE JSON line of the
figures (MB = MiB; Lambda's limit is 250 of them for a function plus its layers).
"""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from mlrails.wiring import FUNCTIONS, INFERENCE_PACKAGES  # noqa: E402

spec = importlib.util.spec_from_file_location("mlrails_layers_build", ROOT / "layers" / "build.py")
build = importlib.util.module_from_spec(spec)
spec.loader.exec_module(build)


def mb(size: int) -> float:
    return round(size / build.MB, 1)


def top_level_sizes(layer_dir: Path, count: int = 5) -> list[tuple[str, float]]:
    """The largest entries of a layer's python/ directory."""
    entries = [
        (p.name, build.tree_size(p) if p.is_dir() else p.stat().st_size) for p in (layer_dir / "python").iterdir()
    ]
    return [(name, mb(size)) for name, size in sorted(entries, key=lambda e: -e[1])[:count]]


def main() -> int:
    missing = [n for n in build.layer_names() if not (build.BUILD_DIR / n / "python").is_dir()]
    if missing:
        print(f"layers not built: {missing}; run `make layers`", file=sys.stderr)
        return 1

    layers = {n: build.tree_size(build.BUILD_DIR / n) for n in build.layer_names()}
    print("layer      MB unzipped   largest entries")
    for name, size in layers.items():
        largest = ", ".join(f"{entry} {size_mb}" for entry, size_mb in top_level_sizes(build.BUILD_DIR / name))
        print(f"{name:<10} {mb(size):>11}   {largest}")

    limit = build.LAMBDA_UNZIPPED_LIMIT
    functions = {}
    print(f"\nfunction          code MB   + layers            total MB   headroom MB (limit {mb(limit)})")
    # Each zip package a deployment can choose; inference once per `serving.package`.
    packages = [(fn.name, fn.name, fn.layers) for fn in FUNCTIONS if fn.packaging == "zip" and fn.name != "inference"]
    packages += [
        (f"inference[{package}]", "inference", package_layers)
        for package, (packaging, package_layers) in INFERENCE_PACKAGES.items()
        if packaging == "zip"
    ]
    for label, name, fn_layers in packages:
        code_dir = ROOT / "functions" / name
        code = build.tree_size(code_dir) if code_dir.is_dir() else None
        total = (code or 0) + sum(layers[layer] for layer in fn_layers)
        functions[label] = {
            "code_mb": None if code is None else mb(code),
            "layers": list(fn_layers),
            "total_mb": mb(total),
            "headroom_mb": mb(limit - total),
        }
        code_text = "missing" if code is None else f"{mb(code):.2f}"
        print(f"{label:<17} {code_text:>7}   {'+'.join(fn_layers):<18} {mb(total):>8}   {mb(limit - total):>11}")

    print(
        json.dumps(
            {
                "bench": "package_size",
                "unit": "MiB unzipped",
                "limit_mb": mb(limit),
                "layers_mb": {name: mb(size) for name, size in layers.items()},
                "functions": functions,
                "onnx_inference_mb": functions["inference[onnx]"]["total_mb"],
            },
            sort_keys=True,
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
