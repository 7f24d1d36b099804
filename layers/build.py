"""Build the Lambda layers into ``layers/build/<name>/python/`` without Docker.

Run by the dev virtualenv's Python (``make layers``); standard library plus what that venv
holds (uv, packaging). Each ``layers/<name>/requirements.in`` names a layer's packages, names
only: the *versions* come from uv.lock, the lock the dev environment is synced from, so what
is deployed is what was tested.

For each layer:

1. The dependency closure of the listed packages is walked in uv.lock, for Lambda's Python
   3.12 on x86_64 (where the lock forks by Python version, the 3.12 branch), skipping what the
   Lambda runtime already provides.
2. ``uv pip install --target --no-deps --require-hashes`` installs exactly that closure for
   Lambda's Python 3.12 x86_64 (manylinux wheels only, whatever Python runs this script), each
   file checked against the hashes uv.lock records; uv's cache serves files it already has.
3. The ``shared`` layer also gets the ``mlrails`` package, copied from ``src/mlrails``.
4. Tests, caches, console scripts, Cython/C sources, type stubs and Arrow Flight are pruned;
   ``.so`` files are never stripped (stripping breaks numpy's bundled OpenBLAS).
5. ``.pyc`` files are compiled by a real Python 3.12 (found by running scripts/find-python)
   with ``--invalidation-mode unchecked-hash``: Lambda's filesystem is read-only, so without
   them every cold start recompiles. Without a Python 3.12 this step is skipped with a warning.
6. A smoke test imports the layer with that same Python 3.12 in isolation (stdlib + the layer
   + the runtime's boto3 family), as Lambda would.

A layer is rebuilt only when its inputs change: requirements, pinned versions, this script,
the Python 3.12 used (and, for ``shared``, the content of src/mlrails, which alone only
re-copies the package). The inputs' hash is kept in ``layers/build/.stamps/<name>.json``,
outside the layer directory so it never ships. uv's cache is shared with `make install`, so a
fresh clone builds its layers from files already downloaded.

Usage: ``python layers/build.py [--force] [--jobs N] [layer ...]``
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
import json
import os
import shlex
import shutil
import subprocess
import sys
import threading
import time
import tomllib
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import NamedTuple

from packaging.markers import Marker
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from uv import find_uv_bin

ROOT = Path(__file__).resolve().parent.parent
LAYERS_DIR = ROOT / "layers"
BUILD_DIR = LAYERS_DIR / "build"
STAMP_DIR = BUILD_DIR / ".stamps"
WORK_DIR = BUILD_DIR / ".work"
UV_LOCK = ROOT / "uv.lock"
SRC_PACKAGE = ROOT / "src" / "mlrails"
FIND_PYTHON = ROOT / "scripts" / "find-python"

# The layer that carries the mlrails package itself (one copy of the code: src/mlrails).
CODE_LAYER = "shared"
PACKAGE_NAME = "mlrails"

# Lambda's limit for a function's code plus all its layers, unzipped: 262,144,000 bytes
# (what AWS calls "250 MB"). Sizes in this project are reported in these MiB.
LAMBDA_UNZIPPED_LIMIT = 250 * 1024 * 1024
MB = 1024 * 1024

TARGET_PYTHON = "3.12"
# Lambda's python3.12 runs on Amazon Linux 2023 (glibc 2.34): manylinux_2_28 wheels and older
# tags (manylinux2014 included) load there. Wheels only: nothing is compiled on this machine.
UV_TARGET_ARGS = [
    "--only-binary",
    ":all:",
    "--python-version",
    TARGET_PYTHON,
    "--python-platform",
    "x86_64-manylinux_2_28",
]
# Environment markers of Lambda's python3.12 x86_64 runtime, used to walk dependencies.
TARGET_MARKERS = {
    "implementation_name": "cpython",
    "platform_python_implementation": "CPython",
    "python_version": TARGET_PYTHON,
    "python_full_version": f"{TARGET_PYTHON}.0",
    "implementation_version": f"{TARGET_PYTHON}.0",
    "os_name": "posix",
    "sys_platform": "linux",
    "platform_system": "Linux",
    "platform_machine": "x86_64",
}

# The Lambda Python runtime ships the AWS SDK: these are never put in a layer, and the walk
# does not descend into them. Their own dependencies (urllib3, python-dateutil, six) are not
# excluded outright: a layer gets one only if another package in it needs it (pandas needs
# python-dateutil, for instance). Today nothing in our layers but botocore needs urllib3, so
# it stays out and the runtime's copy serves botocore; should a dependency need it one day, a
# layer copy is safe: on Python 3.10+ botocore accepts any urllib3 >=1.25.4,<3 (minus 2.2.0),
# and the pinned dev version is one of those. Layers come before the runtime on sys.path, so
# we never ship boto3/botocore themselves: that would shadow the runtime's SDK for good.
RUNTIME_PROVIDED = frozenset({"boto3", "botocore", "s3transfer", "jmespath"})
# Declared dependencies a layer leaves out because nothing it runs imports them: onnxruntime's
# protobuf, flatbuffers and packaging serve only its model tooling (pruned below); `import
# onnxruntime` and running a session load none of them (the smoke test runs one without them).
# ~2 MB of the 100 MB the compiled serving path is held to.
LAYER_OMITS: dict[str, frozenset[str]] = {"onnx": frozenset({"protobuf", "flatbuffers", "packaging"})}
# What the smoke test puts *after* the layer on sys.path to stand in for the runtime.
RUNTIME_IMPORTS = ("boto3", "botocore", "s3transfer", "jmespath", "urllib3", "dateutil", "six")

# Pruned anywhere in a layer: test suites, bytecode caches (recompiled below), Cython and C
# sources and headers (build-time only). Not pruned: `testing` packages (numpy.testing is
# imported by libraries), dist-info (importlib.metadata reads it, licences must ship), .so.
PRUNE_DIRS = frozenset({"tests", "__pycache__"})
PRUNE_SUFFIXES = (".pyx", ".pxd", ".pxi", ".c", ".cpp", ".h", ".hpp", ".pyi")
# Pruned by path (globs relative to the layer's python/ directory):
PRUNE_GLOBS = (
    # Console scripts: their #! points at this machine's Python.
    "bin",
    # Arrow Flight (gRPC client/server), ~31 MB: without it the data layer plus shared sits
    # at the 250 MB limit. `readelf -d` shows that only pyarrow/_flight*.so and
    # libarrow_python_flight need libarrow_flight, and only `import pyarrow.flight` loads
    # them; the smoke test loads every other pyarrow extension we use.
    "pyarrow/flight.py",
    "pyarrow/_flight.cpython-*.so",
    "pyarrow/libarrow_flight.so*",
    "pyarrow/libarrow_python_flight.so*",
    "pyarrow/_pyarrow_cpp_tests.cpython-*.so",
    # onnxruntime's model-tooling packages (transformer optimizers, quantization, converters)
    # and its C API library: `readelf -d` shows the Python binding (onnxruntime_pybind11_state)
    # links none of it, and inference only builds an InferenceSession and runs it (the smoke
    # test does). ~37 MB of the onnx layer, which must stay under 100 MB with shared.
    "onnxruntime/transformers",
    "onnxruntime/quantization",
    "onnxruntime/tools",
    "onnxruntime/capi/libonnxruntime.so*",
)

# Layers whose third-party modules ship as bytecode only (legacy `module.pyc` beside where
# the source was, no `.py`). With sources *and* .pyc the ml layer is ~238 MB and shared+ml
# ~257 MB, over the limit; bytecode only saves ~37 MB. The cost: tracebacks inside numpy,
# scipy, pandas or scikit-learn show file and line (/opt/python/...) but not the source
# text, and inspect.getsource() fails on their functions (nothing on the serving path uses
# it; the smoke test fits, saves, loads and predicts). Our own code is in `shared`, which
# keeps its sources, as does `data`, which fits with them. Needs the Python 3.12: without
# it, sources are kept. The onnx layer too: with sources, shared+onnx is ~104 MB, over the
# 100 MB the compiled serving path is held to (tests/packaging/test_layers.py).
BYTECODE_ONLY_LAYERS = frozenset({"ml", "onnx"})

# Extra checks run by the smoke test after importing every top-level package of the layer.
SMOKE = {
    "shared": """
import mlrails.wiring
from aws_lambda_powertools import Logger, Metrics, Tracer
Tracer(disabled=True)
""",
    "data": """
import io, pandas as pd, pyarrow.parquet as pq
import pyarrow.compute, pyarrow.csv, pyarrow.dataset, pyarrow.fs, pyarrow.json
buf = io.BytesIO(); pd.DataFrame({"a": [1.0, 2.0]}).to_parquet(buf); buf.seek(0)
assert pq.read_table(buf, use_threads=False).num_rows == 2  # threads: see mlrails.data.dataset.read_parquet
""",
    "ml": """
import numpy as np, pandas as pd, skops.io as sio
from sklearn.linear_model import LogisticRegression
X = pd.DataFrame({"a": np.arange(20.0), "b": np.arange(20.0) % 3}); y = (X.a > 9).astype(int)
model = sio.loads(sio.dumps(LogisticRegression().fit(X, y)))
assert model.predict(X).tolist() == y.tolist()
""",
    "onnx": """
import numpy as np, onnxruntime as ort
from onnxruntime.datasets import get_example
session = ort.InferenceSession(get_example("sigmoid.onnx"), providers=["CPUExecutionProvider"])
x = np.zeros((3, 4, 5), dtype=np.float32)
assert np.allclose(session.run(None, {session.get_inputs()[0].name: x})[0], 0.5)
""",
}

_print_lock = threading.Lock()


def log(layer: str, message: str) -> None:
    with _print_lock:
        print(f"[{layer}] {message}", flush=True)


class BuildError(RuntimeError):
    pass


# ---------------------------------------------------------------- inputs


class LockedPackage(NamedTuple):
    """One entry of uv.lock: a distribution at one version, its dependency edges, its files' hashes."""

    name: str
    version: str
    dependencies: tuple[dict, ...]
    extras: dict[str, tuple[dict, ...]]
    resolution_markers: tuple[str, ...]
    hashes: tuple[str, ...]

    def requirement_line(self) -> str:
        """``name==version --hash=...`` for ``--require-hashes`` (every wheel and the sdist)."""
        return f"{self.name}=={self.version} " + " ".join(f"--hash={h}" for h in self.hashes)


Lock = dict[str, list[LockedPackage]]


def read_lock(path: Path = UV_LOCK) -> Lock:
    """Canonical name -> its entries in uv.lock (several where the resolution forks by Python
    version or platform)."""
    lock: Lock = {}
    for entry in tomllib.loads(path.read_text())["package"]:
        files = [*entry.get("wheels", []), *([entry["sdist"]] if "sdist" in entry else [])]
        package = LockedPackage(
            name=canonicalize_name(entry["name"]),
            version=entry.get("version", ""),  # the project itself: dynamic, unrecorded
            dependencies=tuple(entry.get("dependencies", [])),
            extras={extra: tuple(deps) for extra, deps in entry.get("optional-dependencies", {}).items()},
            resolution_markers=tuple(entry.get("resolution-markers", [])),
            hashes=tuple(f["hash"] for f in files if "hash" in f),
        )
        lock.setdefault(package.name, []).append(package)
    return lock


def on_target(marker: str | None) -> bool:
    """Whether an environment marker of uv.lock holds on Lambda's Python 3.12 x86_64."""
    return marker is None or Marker(marker).evaluate({**TARGET_MARKERS, "extra": ""})


def locked(lock: Lock, name: str, version: str | None, parent: str) -> LockedPackage:
    """The entry of ``name`` that Lambda's platform gets: the edge's version where uv.lock names
    one (a forked dependency), else the one entry whose resolution markers hold on the target."""
    entries = lock.get(name, [])
    if version is not None:
        entries = [p for p in entries if p.version == version]
    elif len(entries) > 1:
        entries = [p for p in entries if any(on_target(m) for m in p.resolution_markers)]
    if len(entries) != 1:
        raise BuildError(
            f"{name} (needed by {parent}) has {len(entries)} entries for Python {TARGET_PYTHON} on "
            f"Linux x86_64 in {UV_LOCK.name}: add it to pyproject.toml and run `make lock`"
        )
    return entries[0]


def layer_names() -> list[str]:
    """Every layer declared under layers/ (a directory with a requirements.in)."""
    return sorted(p.parent.name for p in LAYERS_DIR.glob("*/requirements.in"))


def read_requirements(layer: str) -> list[Requirement]:
    """The packages a layer lists: names (and extras) only, no versions."""
    path = LAYERS_DIR / layer / "requirements.in"
    reqs = []
    for number, raw in enumerate(path.read_text().splitlines(), 1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        req = Requirement(line)
        if req.specifier or req.url or req.marker:
            raise BuildError(
                f"{path.relative_to(ROOT)}:{number}: {line!r}: list names only; versions "
                "come from uv.lock (pin them in pyproject.toml, then `make lock`)"
            )
        reqs.append(req)
    return reqs


def closure(
    reqs: Iterable[Requirement],
    lock: Lock,
    provided: frozenset[str] = RUNTIME_PROVIDED,
) -> dict[str, LockedPackage]:
    """Canonical name -> locked entry of everything ``reqs`` need on Lambda's Python 3.12,
    minus ``provided`` (by default what the Lambda runtime provides) and what only they need."""
    wanted: dict[str, LockedPackage] = {}
    extras_seen: dict[str, set[str]] = {}
    queue = [(canonicalize_name(r.name), frozenset(r.extras), None, "requirements.in") for r in reqs]
    while queue:
        name, extras, version, parent = queue.pop()
        if name in provided:
            continue
        seen = extras_seen.get(name)
        if seen is not None and extras <= seen:
            continue
        package = wanted.get(name) or locked(lock, name, version, parent)
        wanted[name] = package
        new_extras = extras - (seen or set())
        edges = [
            *(package.dependencies if seen is None else ()),
            *(edge for extra in sorted(new_extras) for edge in package.extras.get(extra, ())),
        ]
        extras_seen.setdefault(name, set()).update(extras)
        for edge in edges:
            if on_target(edge.get("marker")):
                queue.append(
                    (canonicalize_name(edge["name"]), frozenset(edge.get("extra", ())), edge.get("version"), name)
                )
    return dict(sorted(wanted.items()))


def package_files(src: Path = SRC_PACKAGE) -> list[Path]:
    """The files of the mlrails package, relative to it: everything but bytecode caches."""
    return sorted(
        p.relative_to(src)
        for p in src.rglob("*")
        if p.is_file() and "__pycache__" not in p.parts and p.suffix != ".pyc"
    )


def package_digest() -> str:
    digest = hashlib.sha256()
    for rel in package_files():
        digest.update(str(rel).encode() + b"\0" + (SRC_PACKAGE / rel).read_bytes() + b"\0")
    return digest.hexdigest()


def sha256_json(value: object) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True).encode()).hexdigest()


# ---------------------------------------------------------------- Python 3.12


def find_python312() -> tuple[list[str], str] | None:
    """The command for a Python 3.12 that actually runs, and its full version, or None.

    scripts/find-python is run (it knows about the pyenv shim that exists but fails); it
    may fall back to a python3 that is not 3.12, so the answer is checked by running it.
    """
    candidates = []
    try:
        found = subprocess.run(
            [str(FIND_PYTHON)], capture_output=True, text=True, check=True, timeout=60
        ).stdout.strip()
        if found:
            candidates.append(shlex.split(found))
    except (OSError, subprocess.SubprocessError):
        pass
    candidates.append([sys.executable])  # the venv itself is usually 3.12
    for command in candidates:
        try:
            version = subprocess.run(
                [*command, "-c", "import sys; print('%d.%d.%d' % sys.version_info[:3])"],
                capture_output=True,
                text=True,
                check=True,
                timeout=60,
            ).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            continue
        if version.rsplit(".", 1)[0] == TARGET_PYTHON:
            return command, version
    return None


# ---------------------------------------------------------------- build steps


def run(layer: str, command: list[str], **kwargs) -> subprocess.CompletedProcess:
    result = subprocess.run(command, capture_output=True, text=True, **kwargs)
    if result.returncode != 0:
        raise BuildError(
            f"[{layer}] command failed ({result.returncode}): {shlex.join(command)}\n{result.stdout}{result.stderr}"
        )
    return result


def uv_install(layer: str, packages: dict[str, LockedPackage], target: Path) -> None:
    """Install exactly ``packages`` into ``target`` for Lambda's platform, hash-checked."""
    requirements = WORK_DIR / f"{layer}.requirements.txt"
    requirements.write_text("".join(p.requirement_line() + "\n" for p in packages.values()))
    run(
        layer,
        [
            find_uv_bin(),
            "pip",
            "install",
            "--quiet",
            "--target",
            str(target),
            "--no-deps",
            "--require-hashes",
            "--link-mode",
            "copy",
            *UV_TARGET_ARGS,
            "--requirement",
            str(requirements),
        ],
    )


def prune(root: Path) -> None:
    for pattern in PRUNE_GLOBS:
        for path in root.glob(pattern):
            shutil.rmtree(path) if path.is_dir() and not path.is_symlink() else path.unlink()
    for dirpath, dirnames, filenames in os.walk(root):
        for dirname in [d for d in dirnames if d in PRUNE_DIRS]:
            shutil.rmtree(Path(dirpath, dirname))
            dirnames.remove(dirname)
        for filename in filenames:
            if filename.endswith(PRUNE_SUFFIXES):
                Path(dirpath, filename).unlink()


def copy_package(python_dir: Path) -> None:
    dest = python_dir / PACKAGE_NAME
    shutil.rmtree(dest, ignore_errors=True)
    for rel in package_files():
        (dest / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(SRC_PACKAGE / rel, dest / rel)


def compile_pyc(layer: str, python312: list[str], python_dir: Path, subdir: Path, bytecode_only: bool = False) -> None:
    """Compile with the runtime's Python; paths in the .pyc read /opt/python/... as on Lambda.

    bytecode_only: write `module.pyc` in place of each source (-b) and delete the sources.
    """
    run(
        layer,
        [
            *python312,
            "-m",
            "compileall",
            "-q",
            "-j",
            "0",
            "--invalidation-mode",
            "unchecked-hash",
            *(["-b"] if bytecode_only else []),
            "-s",
            str(python_dir),
            "-p",
            "/opt/python",
            str(subdir),
        ],
    )
    if bytecode_only:
        for source in subdir.rglob("*.py"):
            if source.with_suffix(".pyc").is_file():
                source.unlink()


def runtime_stand_in() -> Path:
    """A directory of links to the venv's boto3 family: what Lambda's runtime provides."""
    stand_in = WORK_DIR / "runtime"
    shutil.rmtree(stand_in, ignore_errors=True)
    stand_in.mkdir(parents=True)
    for module in RUNTIME_IMPORTS:
        spec = importlib.util.find_spec(module)
        if spec is None or spec.origin is None:
            continue
        path = Path(spec.origin)
        path = path.parent if path.name == "__init__.py" else path
        (stand_in / path.name).symlink_to(path)
    return stand_in


def smoke_test(layer: str, python312: list[str], python_dir: Path, stand_in: Path) -> None:
    """Import the layer in a bare Python 3.12: stdlib, the layer, then the runtime's SDK."""
    top_level = sorted(
        p.stem if p.suffix == ".py" else p.name
        for p in python_dir.iterdir()
        if not p.name.startswith("_") and ((p.is_dir() and (p / "__init__.py").exists()) or p.suffix == ".py")
    )
    script = (
        "import importlib, sys\n"
        f"sys.path[:0] = [{str(python_dir)!r}]\n"
        f"sys.path.append({str(stand_in)!r})\n"
        f"for name in {top_level!r}:\n"
        "    module = importlib.import_module(name)\n"
        f"    assert module.__file__.startswith({str(python_dir)!r}), module.__file__\n" + SMOKE.get(layer, "")
    )
    # -I: no PYTHON* variables, no user site; -S: no site-packages, so only the layer counts.
    run(layer, [*python312, "-I", "-S", "-c", script], cwd=WORK_DIR)


# ---------------------------------------------------------------- one layer


def build_layer(
    layer: str,
    lock: Lock,
    python312: tuple[list[str], str] | None,
    stand_in: Path,
    force: bool,
) -> str:
    """Build one layer if its inputs changed; returns what was done."""
    started = time.monotonic()
    packages = closure(read_requirements(layer), lock, RUNTIME_PROVIDED | LAYER_OMITS.get(layer, frozenset()))
    pins = {name: package.version for name, package in packages.items()}
    deps_key = sha256_json(
        {
            "requirements": (LAYERS_DIR / layer / "requirements.in").read_text(),
            "pins": pins,
            "script": hashlib.sha256(Path(__file__).read_bytes()).hexdigest(),
            "python312": python312[1] if python312 else None,
        }
    )
    code_key = package_digest() if layer == CODE_LAYER else None
    stamp_path = STAMP_DIR / f"{layer}.json"
    layer_dir = BUILD_DIR / layer
    python_dir = layer_dir / "python"
    stamp = json.loads(stamp_path.read_text()) if stamp_path.exists() else {}
    deps_fresh = not force and python_dir.is_dir() and stamp.get("deps") == deps_key
    if deps_fresh and stamp.get("code") == code_key:
        return "up to date"

    stamp_path.unlink(missing_ok=True)  # an interrupted build must not look finished
    if deps_fresh:
        # Only src/mlrails changed: re-copy the package, leave the dependencies alone.
        copy_package(python_dir)
        if python312:
            compile_pyc(layer, python312[0], python_dir, python_dir / PACKAGE_NAME)
            smoke_test(layer, python312[0], python_dir, stand_in)
        action = "re-copied mlrails"
    else:
        staging = WORK_DIR / layer
        shutil.rmtree(staging, ignore_errors=True)
        staged_python = staging / "python"
        log(layer, f"installing {len(pins)} distributions: " + ", ".join(f"{n}=={v}" for n, v in pins.items()))
        uv_install(layer, packages, staged_python)
        prune(staged_python)
        if layer == CODE_LAYER:
            copy_package(staged_python)
        if python312:
            compile_pyc(layer, python312[0], staged_python, staged_python, bytecode_only=layer in BYTECODE_ONLY_LAYERS)
        # Move into place before the smoke test so compiled paths and imports are final.
        shutil.rmtree(layer_dir, ignore_errors=True)
        staging.rename(layer_dir)
        if python312:
            smoke_test(layer, python312[0], python_dir, stand_in)
        action = "built"
    stamp_path.write_text(
        json.dumps({"deps": deps_key, "code": code_key, "pins": pins}, indent=1, sort_keys=True) + "\n"
    )
    return f"{action} in {time.monotonic() - started:.1f}s"


# ---------------------------------------------------------------- sizes


def tree_size(path: Path) -> int:
    """Bytes of all files under path, as Lambda counts them (unzipped)."""
    total = 0
    for dirpath, _dirnames, filenames in os.walk(path):
        for filename in filenames:
            total += os.lstat(os.path.join(dirpath, filename)).st_size
    return total


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("layers", nargs="*", help="layers to build (default: all)")
    parser.add_argument("--force", action="store_true", help="rebuild even if up to date")
    parser.add_argument("--jobs", type=int, default=3, help="layers built in parallel")
    args = parser.parse_args(argv)

    started = time.monotonic()
    names = layer_names()
    unknown = sorted(set(args.layers) - set(names))
    if unknown:
        parser.error(f"unknown layer(s) {unknown}; declared: {names}")
    selected = args.layers or names

    for directory in (BUILD_DIR, STAMP_DIR, WORK_DIR):
        directory.mkdir(parents=True, exist_ok=True)
    lock = read_lock()
    python312 = find_python312()
    if python312 is None:
        print(
            f"WARNING: no Python {TARGET_PYTHON} runs on this machine: layers are built "
            "WITHOUT .pyc files (every Lambda cold start will recompile, several seconds "
            "slower) and are not smoke-tested. Install Python 3.12 and rerun.",
            file=sys.stderr,
            flush=True,
        )
    stand_in = runtime_stand_in()

    failures = []
    with ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        futures = {name: pool.submit(build_layer, name, lock, python312, stand_in, args.force) for name in selected}
        for name, future in futures.items():
            try:
                log(name, future.result())
            except BuildError as error:
                failures.append(name)
                print(f"ERROR: {error}", file=sys.stderr, flush=True)
    shutil.rmtree(WORK_DIR, ignore_errors=True)  # staging dirs and the runtime stand-in

    compiled = (
        f".pyc compiled by Python {python312[1]} ({shlex.join(python312[0])})"
        if python312
        else ".pyc NOT compiled (no Python 3.12)"
    )
    print(f"\nlayer      MB unzipped   ({compiled})")
    for name in names:
        layer_dir = BUILD_DIR / name
        size = f"{tree_size(layer_dir) / MB:11.1f}" if layer_dir.is_dir() else "  not built"
        print(f"{name:<10} {size}")
    print(f"done in {time.monotonic() - started:.1f}s")
    if failures:
        print(f"FAILED: {', '.join(failures)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
