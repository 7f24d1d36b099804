"""`mlrails init`, the service: read a data file, infer the project it could be, and write
the project's folder. Nothing is overwritten unless asked."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from mlrails.config import load_config
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
    step = max(1, len(ordered) // SAMPLE_ROWS)
    return ordered.iloc[::step].head(SAMPLE_ROWS)


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
    sample of the data and cdk.json. Refuses to overwrite an existing mlrails.yaml unless
    ``force``. The written config is loaded back: what init writes, mlrails accepts."""
    config = folder / "mlrails.yaml"
    if config.exists() and not force:
        raise ConfigError(f"{config} exists: pass --force to write over it (and the other generated files)")
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
    for path, text in contents.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    sample = folder / files.SAMPLE
    sample.parent.mkdir(parents=True, exist_ok=True)
    _sample(frame, inferred).to_csv(sample, index=False)
    load_config(config)
    return Created(folder, [*contents, sample], inferred)
