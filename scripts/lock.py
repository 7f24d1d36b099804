"""uv.lock, and the requirement files the images install, exported from it.

uv.lock is the one lock: every distribution any install needs (the dev virtualenv, the
Lambda layers, the train/inference images, the MLflow server image), transitively, with
hashes, for every platform (Lambda's Linux x86_64 with Python 3.12 is required to resolve to
wheels). Docker builds run pip, which cannot read uv.lock, so the images get a pip
requirements file with hashes exported from it; the layers read uv.lock itself
(layers/build.py).

``make lock`` runs this (the only place versions move; ``--upgrade`` moves every package to
its newest allowed version), and compiles the lock of the benchmark's Evidently environment,
which cannot share the project's resolution (it needs pandas < 3). ``--check`` changes nothing
and needs no network: it exits 1 when
uv.lock disagrees with pyproject.toml or an export disagrees with uv.lock (``make synth``
runs it; tests/packaging/test_lock.py asserts the same).
"""

from __future__ import annotations

import argparse
import difflib
import subprocess
import sys
from pathlib import Path

from uv import find_uv_bin

ROOT = Path(__file__).resolve().parent.parent
UV = find_uv_bin()

# Each export: the file (relative to the repository) and the `uv export` selection it holds.
EXPORTS: dict[str, tuple[str, ...]] = {
    # functions/Dockerfile: mlrails' runtime closure (the package itself is copied in).
    "requirements/runtime.txt": ("--no-dev", "--no-emit-project"),
    # infra/mlflow/Dockerfile: the tracking server (dependency group mlflow-server).
    "infra/mlflow/requirements.txt": ("--only-group", "mlflow-server", "--no-emit-project"),
}
HEADER = "# Exported from uv.lock by `make lock` (scripts/lock.py): do not edit. pip --require-hashes.\n"
# Environments apart from the project, which cannot share its resolution: each compiled from
# its .in file by `uv pip compile` (every distribution, with hashes, for every platform).
COMPILED: dict[str, str] = {
    # bench/drift.py's comparison side: Evidently needs pandas < 3, the project pandas 3.
    "bench/evidently.txt": "bench/evidently.in",
}


def uv(*args: str) -> str:
    """Run uv in the repository and return its standard output; a failure exits with uv's message."""
    result = subprocess.run([UV, *args], cwd=ROOT, capture_output=True, text=True)
    if result.returncode != 0:
        sys.exit(f"uv {' '.join(args)} failed:\n{result.stderr}")
    return result.stdout


def exported(selection: tuple[str, ...]) -> str:
    """The requirement file's text for one selection of uv.lock, as committed."""
    return HEADER + uv("export", "--frozen", "--no-header", "--format", "requirements-txt", *selection)


def stale_exports() -> list[str]:
    """A unified diff per export that differs from what uv.lock gives now."""
    diffs = []
    for name, selection in EXPORTS.items():
        path = ROOT / name
        current = path.read_text() if path.exists() else ""
        expected = exported(selection)
        if current != expected:
            diffs.append(
                "\n".join(
                    difflib.unified_diff(
                        current.splitlines(), expected.splitlines(), f"{name} (committed)", "from uv.lock", lineterm=""
                    )
                )
            )
    return diffs


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--check", action="store_true", help="exit 1 if uv.lock or an export is stale")
    mode.add_argument("--upgrade", action="store_true", help="move every package to its newest allowed version")
    args = parser.parse_args(argv)
    if args.check:
        locked = subprocess.run([UV, "lock", "--check", "--offline"], cwd=ROOT, capture_output=True, text=True)
        if locked.returncode != 0:
            print(f"uv.lock does not match pyproject.toml: run `make lock`\n{locked.stderr}", file=sys.stderr)
            return 1
        diffs = stale_exports()
        if diffs:
            print("an export of uv.lock is stale: run `make lock`", *diffs, sep="\n", file=sys.stderr)
            return 1
        return 0
    uv("lock", *(["--upgrade"] if args.upgrade else []))
    for name, selection in EXPORTS.items():
        (ROOT / name).parent.mkdir(parents=True, exist_ok=True)
        (ROOT / name).write_text(exported(selection))
    for name, source in COMPILED.items():
        # Without --upgrade, versions already in the file stay where they are.
        uv(
            "pip",
            "compile",
            source,
            "--output-file",
            name,
            "--universal",
            "--python-version",
            "3.11",
            "--generate-hashes",
            "--quiet",
            *(["--upgrade"] if args.upgrade else []),
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
