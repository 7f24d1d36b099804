"""Serving artifacts: models saved with skops (never pickle) and loaded with a trust policy.

A skops file names every type it rebuilds, and skops refuses a type it does not know unless
told to trust it. A model file is code as much as data: a ``FunctionTransformer`` that wraps
``builtins.eval`` rebuilds fine and runs what it is given at ``predict``. So trust is exact:

- at training, :func:`trusted_types` lists the types the fitted estimator's own file needs
  (from our process, never from a field anyone else writes) and refuses any outside
  scikit-learn, NumPy, SciPy and the model entrypoint's package, and any on the never list;
- the manifest records that list (and each file's sha256 and S3 version, :mod:`mlrails.serving.manifest`);
- at load, :func:`loads` trusts only the recorded names, one by one, and never a type on the
  never list, whatever the manifest says: the interpreter's built-ins, ``functools``,
  ``operator``, and the callables that evaluate, import, open or reach attributes by name.
"""

from __future__ import annotations

import hashlib
import threading
import zipfile
from collections import OrderedDict
from collections.abc import Sequence
from typing import Any

import skops.io as sio

from mlrails.errors import ArtifactError, UntrustedArtifact

# Where a fitted scikit-learn model's types come from (besides the entrypoint's package).
_LIBRARIES = ("sklearn", "numpy", "scipy", "collections")
# Modules whose callables run code, reach the file system or the network, or call or fetch
# another callable by name: a model file naming one is refused at training and at load.
_NEVER_MODULES = frozenset(
    {
        "builtins",
        "functools",
        "operator",
        "os",
        "posix",
        "nt",
        "sys",
        "subprocess",
        "importlib",
        "pickle",
        "marshal",
        "shelve",
        "shutil",
        "socket",
        "runpy",
        "code",
        "codeop",
        "ctypes",
        "types",
        "io",
        "pathlib",
        "inspect",
        "pydoc",
        "webbrowser",
        "multiprocessing",
        "threading",
        "asyncio",
        "urllib",
        "http",
        "joblib",
        "npyio",
        "distutils",
        "testing",
        "_testing",
        "f2py",
        "ctypeslib",
    }
)
# Callables that do the same under an innocent module name.
_NEVER_NAMES = frozenset(
    {
        "eval",
        "exec",
        "compile",
        "getattr",
        "setattr",
        "delattr",
        "__import__",
        "import_module",
        "open",
        "system",
        "popen",
        "spawn",
        "exec_command",
        "attrgetter",
        "itemgetter",
        "methodcaller",
        "partial",
        "load",
        "loads",
        "loadtxt",
        "genfromtxt",
        "fromfile",
        "memmap",
        "save",
        "savetxt",
        "tofile",
        "input",
        "globals",
        "locals",
        "vars",
        "breakpoint",
    }
)


def dumps(model: Any) -> bytes:
    """Serialize a fitted estimator."""
    return sio.dumps(model)


def never_trusted(type_name: str) -> bool:
    """Whether ``type_name`` (``module.Qualified.name``) is refused whatever a manifest says."""
    parts = type_name.split(".")
    return bool(_NEVER_MODULES.intersection(parts[:-1])) or parts[-1] in _NEVER_NAMES or parts[0] in _NEVER_MODULES


def _types_in(blob: bytes) -> list[str]:
    try:
        return sio.get_untrusted_types(data=blob)
    except (zipfile.BadZipFile, ValueError, KeyError) as exc:  # what skops raises on a damaged file
        raise ArtifactError(f"model file is not a readable skops archive: {exc}") from exc


def _refuse(refused: list[str], why: str) -> None:
    if refused:
        raise UntrustedArtifact(f"model file holds {why}: {refused[:5]}", details={"types": refused})


def trusted_types(blob: bytes, modules: Sequence[str] = ()) -> list[str]:
    """At training: the exact types a freshly saved model file needs trusting, all within the
    policy (scikit-learn, NumPy, SciPy, ``modules``; nothing on the never list). What the
    manifest records and :func:`loads` trusts. Raises :class:`UntrustedArtifact` otherwise."""
    roots = set(_LIBRARIES) | set(modules)
    found = _types_in(blob)
    _refuse([t for t in found if never_trusted(t)], "types that can run code, never trusted")
    _refuse(
        [t for t in found if t.split(".")[0] not in roots],
        f"types outside scikit-learn, NumPy, SciPy and the entrypoint's package {sorted(modules)}",
    )
    return sorted(found)


def loads(blob: bytes, trusted: Sequence[str]) -> Any:
    """Load a fitted estimator trusting exactly the type names in ``trusted`` (a manifest's
    ``trusted_types``), minus the never list. The same bytes give the same object, which
    callers only read: a warm container loads a model once however many steps read it (the
    training run's evaluate step and the promotion after it load the challenger and the
    champion; the next run, soon after, the same champion)."""
    key = (hashlib.sha256(blob).hexdigest(), tuple(sorted(trusted)))
    with _LOADED_LOCK:  # inference swaps models while serving on other threads
        if key in _LOADED:
            _LOADED.move_to_end(key)
            return _LOADED[key]
    found = _types_in(blob)
    _refuse([t for t in found if never_trusted(t)], "types that can run code, never trusted")
    _refuse([t for t in found if t not in trusted], "types its manifest did not record at training")
    model = sio.loads(blob, trusted=found)
    with _LOADED_LOCK:
        _LOADED[key] = model
        while len(_LOADED) > _KEEP_LOADED:
            _LOADED.popitem(last=False)
    return model


# The models loaded last, by content: a challenger and a champion, what a gate compares.
_KEEP_LOADED = 2
_LOADED: OrderedDict[tuple[str, tuple[str, ...]], Any] = OrderedDict()
_LOADED_LOCK = threading.Lock()


def entrypoint_modules(entrypoint: str) -> list[str]:
    """The package of a model entrypoint, whose types a model may hold besides the libraries'
    (never one on the never list, whatever the entrypoint says)."""
    root = entrypoint.split(":")[0].split(".")[0]
    return [] if root in _LIBRARIES or root in _NEVER_MODULES else [root]
