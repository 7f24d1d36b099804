"""The code's version from git, for a training run's lineage (the one subprocess the kit runs)."""

from __future__ import annotations

import subprocess
from pathlib import Path


def commit(directory: Path) -> str | None:
    """The git commit of the code being deployed (``+dirty`` with uncommitted changes), or
    None outside a git checkout: recorded with every training run for lineage."""
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=directory, capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=directory,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None
    return f"{commit}+dirty" if dirty else commit
