"""Serving artifacts: models saved with skops (never pickle) and loaded with a trust policy.

skops refuses types it does not know unless told to trust them. We trust scikit-learn,
NumPy and SciPy types, plus the modules a manifest names (the model entrypoint's own
package); anything else in a file is refused, whoever managed to write it.
"""

from __future__ import annotations

import zipfile
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
    """Load a fitted estimator, refusing types outside the trust policy."""
    return sio.loads(blob, trusted=trusted_types(blob, trusted_modules))


def entrypoint_modules(entrypoint: str) -> list[str]:
    """The package of a model entrypoint, trusted alongside the defaults."""
    root = entrypoint.split(":")[0].split(".")[0]
    return [] if root in _ALWAYS_TRUSTED else [root]
