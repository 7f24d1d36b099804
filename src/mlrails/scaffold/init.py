"""`mlrails init`, the service: read a data file, infer the project it could be, and write
the project's folder. Nothing is overwritten unless asked."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from mlrails.config import parse_config
from mlrails.data.dataset import parse_times
from mlrails.errors import ConfigError
from mlrails.feasibility.runner import read_data
from mlrails.scaffold import files
from mlrails.scaffold.schema import Inferred, infer

# Rows of the data kept beside the project for its model test: enough to fit and judge a
# first model, small enough for version control.
SAMPLE_ROWS = 2000


@dataclass(frozen=True)
class Created:
    folder: Path
    written: list[Path]
    inferred: Inferred


def _sample(frame: pd.DataFrame, inferred: Inferred) -> pd.DataFrame:
    """Up to :data:`SAMPLE_ROWS` rows spread evenly over the data's time (its row order when
    it has none), in that order."""
    ordered = frame
    if inferred.timestamp is not None:
        times = parse_times(frame[inferred.timestamp], inferred.timestamp_format)
        ordered = frame.assign(_at=times).sort_values("_at", kind="stable").drop(columns="_at")
    if len(ordered) <= SAMPLE_ROWS:
        return ordered
    return ordered.iloc[np.unique(np.linspace(0, len(ordered) - 1, SAMPLE_ROWS).round().astype(int))]


def init_project(
    data_uri: str,
    folder: Path,
    *,
    target: str | None = None,
    timestamp: str | None = None,
    task: str | None = None,
    force: bool = False,
) -> Created:
    """Write ``folder``'s mlrails.yaml, models.py, tests/test_model.py (+ conftest.py), a
    sample of the data, cdk.json and .gitignore. Refuses to overwrite any of them unless
    ``force``; the config is validated before anything is written."""
    config = folder / "mlrails.yaml"
    frame = read_data(data_uri)
    inferred = infer(frame, target=target, timestamp=timestamp, task=task)
    name = files.project_name(folder)
    contents = {
        config: files.config_yaml(inferred, name, data_uri),
        folder / "models.py": files.models_py(inferred),
        folder / "conftest.py": files.CONFTEST,
        folder / "tests" / "test_model.py": files.model_test(),
        folder / "cdk.json": json.dumps(files.cdk_json(config), indent=2) + "\n",
        # The local state, the synth's output, and the train image's context the synth stages.
        folder / ".gitignore": ".mlrails/\n.mlrails-simulation/\ncdk.out/\n.image-context/\n__pycache__/\n",
    }
    sample = folder / files.SAMPLE
    existing = [str(path) for path in [*contents, sample] if path.exists()]
    if existing and not force:
        raise ConfigError(f"{', '.join(existing)} exist(s): pass --force to write over them")
    # What init writes, mlrails accepts: checked before anything is written.
    parse_config(yaml.safe_load(contents[config]), source=str(config))
    for path, text in contents.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    sample.parent.mkdir(parents=True, exist_ok=True)
    _sample(frame, inferred).to_csv(sample, index=False)
    return Created(folder, [*contents, sample], inferred)
