"""The MLflow adapter: runs, the model registry and its aliases.

Only training and the operator CLI import this module (and so MLflow); inference never does.
"""

from __future__ import annotations

import json
import platform
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

import mlflow
import pandas as pd
from mlflow import MlflowClient
from mlflow.models import infer_signature
from sklearn.base import BaseEstimator

from mlrails.errors import ConfigError, TrackingUnavailable
from mlrails.settings import Settings
from mlrails.wiring import Prefix

CHAMPION, CHALLENGER, PREVIOUS = "champion", "challenger", "previous"
# Recorded with every run and pinned for the served model; the same pins as pyproject.
_LIBRARIES = ("scikit-learn", "numpy", "pandas", "scipy", "skops", "mlflow", "mlrails")


def library_versions() -> dict[str, str]:
    """Installed versions of the libraries a model depends on."""
    versions = {"python": platform.python_version()}
    for name in _LIBRARIES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "unknown"
    return versions


# How long a client waits for a server that was just started: its task is running (the
# tracking switch waited for that), MLflow needs seconds more to listen and its private DNS
# name to resolve.
REACHABLE_WITHIN_SECONDS = 180
_PROBE_INTERVAL_SECONDS = 5


def wait_until_reachable(
    tracking_uri: str,
    seconds: float = REACHABLE_WITHIN_SECONDS,
    *,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> None:
    """Until an MLflow server answers its health check, or :class:`TrackingUnavailable` after
    ``seconds``. A store that is no server (the local runtime's SQLite) is there already."""
    if not tracking_uri.startswith(("http://", "https://")):
        return
    deadline, last = clock() + seconds, "no answer yet"
    while True:
        try:
            with urllib.request.urlopen(
                f"{tracking_uri.rstrip('/')}/health", timeout=_PROBE_INTERVAL_SECONDS
            ) as answer:
                if answer.status == 200:
                    return
                last = f"HTTP {answer.status}"
        except urllib.error.HTTPError as exc:  # answering, not healthy yet
            last = f"HTTP {exc.code}"
        except (urllib.error.URLError, OSError) as exc:  # not listening, or its name not resolving yet
            last = str(getattr(exc, "reason", exc))
        if clock() >= deadline:
            raise TrackingUnavailable(
                f"the MLflow server at {tracking_uri} did not answer within {seconds:g} s ({last}); "
                "is it held? (mlrails.tracking: the training run and operator commands hold it)"
            )
        sleep(_PROBE_INTERVAL_SECONDS)


@dataclass(frozen=True)
class RegisteredModel:
    run_id: str
    version: str
    artifact_uri: str


class Registry:
    """MLflow tracking + registry for one model name."""

    def __init__(self, tracking_uri: str, model_name: str, *, artifact_location: str | None = None) -> None:
        self.model_name = model_name
        self.tracking_uri = tracking_uri
        self.client = MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)
        experiment = self.client.get_experiment_by_name(model_name)
        self.experiment_id = (
            experiment.experiment_id
            if experiment
            else self.client.create_experiment(model_name, artifact_location=artifact_location)
        )

    def log_run(
        self,
        *,
        model: BaseEstimator,
        sample: pd.DataFrame,
        params: dict[str, Any],
        metrics: dict[str, float],
        tags: dict[str, str],
        profile: dict[str, Any],
        trusted_types: list[str],
        alias: str | None = CHALLENGER,
    ) -> RegisteredModel:
        """Record a training run (params, metrics, lineage tags, profile, model) and register
        it, pointing ``alias`` at the new version (None: no alias, a copy from a lock)."""
        mlflow.set_tracking_uri(self.tracking_uri)
        mlflow.set_registry_uri(self.tracking_uri)
        versions = library_versions()
        with mlflow.start_run(experiment_id=self.experiment_id) as run:
            mlflow.log_params({k: str(v)[:500] for k, v in params.items()})
            mlflow.log_metrics({f"holdout_{k}": v for k, v in metrics.items()})
            mlflow.set_tags({**tags, **{f"version.{k}": v for k, v in versions.items()}})
            with tempfile.TemporaryDirectory() as tmp:
                path = Path(tmp) / "reference_profile.json"
                path.write_text(json.dumps(profile))
                mlflow.log_artifact(str(path))
            info = mlflow.sklearn.log_model(
                sk_model=model,
                name="model",
                serialization_format="skops",
                signature=infer_signature(sample, model.predict(sample)),
                input_example=sample.head(3),
                # Explicit pins: MLflow's own inference of requirements costs seconds per run.
                pip_requirements=[f"{n}=={versions[n]}" for n in ("scikit-learn", "numpy", "pandas", "scipy", "skops")],
                registered_model_name=self.model_name,
                # MLflow re-loads the skops file to check it: the types our trust policy accepted.
                skops_trusted_types=trusted_types,
            )
        version = str(info.registered_model_version)
        if alias is not None:
            self.set_alias(alias, version)
        return RegisteredModel(run_id=run.info.run_id, version=version, artifact_uri=info.model_uri)

    @classmethod
    def for_settings(cls, settings: Settings, model_name: str) -> Registry:
        """The registry a deployed function (or the local runtime) uses: runs' artifacts go
        to the artifacts bucket under mlflow/. Waits for a server that is starting."""
        if not settings.tracking_uri:
            raise ConfigError("environment variable MLFLOW_TRACKING_URI must be set")
        wait_until_reachable(settings.tracking_uri)
        location = f"s3://{settings.artifacts_bucket}/{Prefix.MLFLOW.value}{model_name}"
        return cls(settings.tracking_uri, model_name, artifact_location=location)

    def versions(self) -> list[dict[str, Any]]:
        """Every registered version, newest first, with its aliases, its own holdout's metrics
        and its tags (the gate's comparison, the serving path: read by promotion.operations)."""
        aliases: dict[str, list[str]] = {}
        for alias, version in self.client.get_registered_model(self.model_name).aliases.items():
            aliases.setdefault(str(version), []).append(alias)
        rows = []
        for version in self.client.search_model_versions(f"name='{self.model_name}'"):
            run = self.client.get_run(version.run_id)
            rows.append(
                {
                    "version": str(version.version),
                    "aliases": sorted(aliases.get(str(version.version), [])),
                    "run_id": version.run_id,
                    "created": version.creation_timestamp,
                    "metrics": {k.removeprefix("holdout_"): v for k, v in run.data.metrics.items()},
                    "entrypoint": run.data.params.get("entrypoint"),
                    "tags": dict(version.tags),
                }
            )
        return sorted(rows, key=lambda row: int(row["version"]), reverse=True)

    def version_tagged(self, key: str, value: str) -> str | None:
        """The newest version whose tag ``key`` is ``value`` (None: none is)."""
        found = self.client.search_model_versions(
            f"name='{self.model_name}' and tag.`{key}` = '{value}'", order_by=["version_number DESC"], max_results=1
        )
        return str(found[0].version) if found else None

    def run_tags(self, run_id: str) -> dict[str, str]:
        """The tags of the run that trained a version (its lineage: data, config, code)."""
        return dict(self.client.get_run(run_id).data.tags)

    def set_alias(self, alias: str, version: str) -> None:
        """Point ``alias`` at ``version``."""
        self.client.set_registered_model_alias(self.model_name, alias, version)

    def drop_alias(self, alias: str) -> None:
        """Point ``alias`` at nothing."""
        self.client.delete_registered_model_alias(self.model_name, alias)

    def tag_version(self, version: str, **tags: str) -> None:
        """Annotate a version (promotion decisions, reasons)."""
        for key, value in tags.items():
            self.client.set_model_version_tag(self.model_name, version, key, value)
