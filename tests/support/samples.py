"""The repository's paths and its sample events (events/<function>_<case>.json)."""

from __future__ import annotations

import json
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
EVENTS = REPO / "events"
# What signs prediction ids in tests (the deployed secret is random), so that the sample
# events' ids are ones "this service issued".
SAMPLE_ID_KEY = "sample events: not a secret"


def load_event(name: str) -> dict:
    """A sample event from events/<name>.json."""
    return json.loads((EVENTS / f"{name}.json").read_text())
