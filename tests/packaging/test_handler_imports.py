"""Each zip function's handler imports, when Lambda loads it, only what its layers ship.

moto tests run in the dev virtualenv, where everything is installed, so a handler that
imports a package its layers lack passes every other test and fails its first cold start on
Lambda. This follows the module-level imports (what runs at load time; imports inside
functions are deferred on purpose) from ``functions/<name>/handler.py`` through the
``mlrails`` package, and compares the heavy third-party packages reached with those the
function's layers name in ``layers/<layer>/requirements.in``.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from mlrails.wiring import FUNCTIONS, function
from support.samples import REPO

SRC = REPO / "src"
# Import names of the packages too big to ship everywhere; each layer names the ones it has.
HEAVY = {"numpy", "pandas", "pyarrow", "scipy", "sklearn", "skops", "mlflow"}
_IMPORT_NAME = {"scikit-learn": "sklearn"}


def _provided(layers: tuple[str, ...]) -> set[str]:
    names = set()
    for layer in layers:
        for line in (REPO / "layers" / layer / "requirements.in").read_text().splitlines():
            requirement = re.split(r"[\[<>=~;\s#]", line.strip(), maxsplit=1)[0]
            if requirement:
                names.add(_IMPORT_NAME.get(requirement, requirement).replace("-", "_"))
    return names


def _module_path(name: str) -> Path | None:
    base = SRC.joinpath(*name.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def _load_time_imports(path: Path) -> set[str]:
    """Modules imported when ``path`` is executed: module and class bodies, not function bodies."""
    found: set[str] = set()

    def visit(nodes: list[ast.AST]) -> None:
        for node in nodes:
            if isinstance(node, ast.Import):
                found.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                if node.module != "__future__":
                    found.add(node.module)
                    found.update(f"{node.module}.{alias.name}" for alias in node.names)
            elif isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
                continue
            elif not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                for field in ("body", "orelse", "finalbody", "handlers"):  # if/try/with/class bodies
                    visit(getattr(node, field, []))

    visit(ast.parse(path.read_text()).body)
    return found


def heavy_imports(handler: Path) -> dict[str, list[str]]:
    """Heavy packages reached at load time, each with the chain of modules that reaches it."""
    reached: dict[str, list[str]] = {}
    chains = {"handler": ["handler"]}
    queue = [("handler", handler)]
    while queue:
        name, path = queue.pop()
        for imported in sorted(_load_time_imports(path)):
            root = imported.split(".")[0]
            if root in HEAVY:
                reached.setdefault(root, chains[name] + [imported])
            elif root == "mlrails":
                # Importing a.b.c runs a, a.b and a.b.c.
                parts = imported.split(".")
                for depth in range(1, len(parts) + 1):
                    module = ".".join(parts[:depth])
                    module_path = _module_path(module)
                    if module_path is not None and module not in chains:
                        chains[module] = chains[name] + [module]
                        queue.append((module, module_path))
    return reached


ZIP_FUNCTIONS = sorted(spec.name for spec in FUNCTIONS if spec.packaging == "zip")


def test_the_check_sees_what_a_function_imports():
    assert ZIP_FUNCTIONS == [
        "drift_check",
        "event_relay",
        "feature_prep",
        "inference",
        "performance_check",
        "retrain_trigger",
        "tracking_switch",
    ]
    assert set(heavy_imports(REPO / "functions" / "train" / "handler.py")) >= {"mlflow", "sklearn", "pandas"}


@pytest.mark.parametrize("name", ZIP_FUNCTIONS)
def test_handler_loads_with_only_its_layers(name):
    missing = {
        package: chain
        for package, chain in heavy_imports(REPO / "functions" / name / "handler.py").items()
        if package not in _provided(function(name).layers)
    }

    assert missing == {}, "\n".join(f"{package}: {' -> '.join(chain)}" for package, chain in sorted(missing.items()))
