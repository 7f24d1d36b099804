"""Serving artifacts: models saved with skops (never pickle) and loaded with a trust policy.

skops refuses types it does not know unless told to trust them. We trust scikit-learn,
NumPy and SciPy types, plus the modules a manifest names (the model entrypoint's own
package); anything else in a file is refused, whoever managed to write it.
"""

from __future__ import annotations

import hashlib
import threading
import zipfile
from collections import OrderedDict
from typing import Any

import skops.io as sio

from mlrails.errors import MlrailsError

_ALWAYS_TRUSTED = ("sklearn", "numpy", "scipy", "builtins", "collections", "functools")


class ArtifactError(MlrailsError):
    """A model file cannot be loaded."""

    error_code = "ARTIFACT_ERROR"


class UntrustedArtifact(ArtifactError):
    """A model file holds types outside the trust policy."""

    error_code = "UNTRUSTED_ARTIFACT"


def dumps(model: Any) -> bytes:
    """Serialize a fitted estimator."""
    return sio.dumps(model)


def trusted_types(blob: bytes, trusted_modules: list[str] | tuple[str, ...] = ()) -> list[str]:
    """The types in a model file that need trusting, all within the trust policy; raises
    :class:`UntrustedArtifact` for any other, :class:`ArtifactError` for a damaged file."""
    roots = set(_ALWAYS_TRUSTED) | set(trusted_modules)
    try:
        untrusted = sio.get_untrusted_types(data=blob)
    except (zipfile.BadZipFile, ValueError, KeyError) as exc:  # what skops raises on a damaged file
        raise ArtifactError(f"model file is not a readable skops archive: {exc}") from exc
    refused = [t for t in untrusted if t.split(".")[0] not in roots]
    if refused:
        raise UntrustedArtifact(f"model file holds untrusted types: {refused[:5]}", details={"types": refused})
    return untrusted


def loads(blob: bytes, trusted_modules: list[str] | tuple[str, ...] = ()) -> Any:
    """Load a fitted estimator, refusing types outside the trust policy. The same bytes give
    the same object, which callers only read: a warm container loads a model once however
    many steps read it (the training run's evaluate step and the promotion after it load the
    challenger and the champion; the next run, soon after, the same champion)."""
    key = (hashlib.sha256(blob).hexdigest(), tuple(trusted_modules))
    with _LOADED_LOCK:  # inference swaps models while serving on other threads
        if key in _LOADED:
            _LOADED.move_to_end(key)
            return _LOADED[key]
    model = sio.loads(blob, trusted=trusted_types(blob, trusted_modules))
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
    """The package of a model entrypoint, trusted alongside the defaults."""
    root = entrypoint.split(":")[0].split(".")[0]
    return [] if root in _ALWAYS_TRUSTED else [root]
