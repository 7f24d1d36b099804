"""The item list of a batch job and its shards: pure, no AWS.

An item is what one step of the job reads: a whole CSV or JSON Lines object, or one row group
of a Parquet object (so a large Parquet file is scored in parallel, and a shard's memory is
bounded by its row groups, not its files). Objects of other suffixes are skipped, each with
its reason in the plan. Shards are consecutive runs of ``items_per_batch`` items; a shard's id
is a hash of its items, so the output keys of a shard are the same on every run over the same
input: a rerun overwrites, never duplicates.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass
from typing import Any, Literal

from mlrails.wiring import BATCH_SUMMARY

Format = Literal["csv", "jsonl", "parquet"]
FORMATS: dict[str, Format] = {".csv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl", ".parquet": "parquet"}

# Output layout under the job's output prefix.
ITEMS_FILE = "items.json"  # the item list (the Distributed Map's ItemReader reads it)
PLAN_FILE = "plan.json"  # what the summary step needs of the plan (counts, skipped objects, start)
SUMMARY_FILE = BATCH_SUMMARY
# One JSON result per shard, written by the shard itself (failed or not): the summary step lists
# them, on AWS as locally, so no Distributed Map ResultWriter is needed. A shard whose invocation
# died (a timeout, no memory) leaves none: the summary counts it failed.
RESULTS = "results/"
PARTS = "parts/"  # one Parquet file of scored rows per shard
REJECTED = "rejected/"  # one JSON Lines file of refused rows per shard (absent: none refused)


@dataclass(frozen=True)
class Item:
    """One unit of reading: ``uri`` whole, or its row group ``row_group`` (Parquet)."""

    uri: str
    format: Format
    row_group: int | None = None
    rows: int | None = None  # known from the Parquet footer; None for text formats

    @property
    def id(self) -> str:
        """Stable across runs: the object, and the row group for Parquet."""
        return self.uri if self.row_group is None else f"{self.uri}#{self.row_group}"

    def to_dict(self) -> dict[str, Any]:
        """The item as the item list (JSON) holds it."""
        return asdict(self)

    @classmethod
    def from_dict(cls, document: dict[str, Any]) -> Item:
        """An item read back from the item list."""
        return cls(**document)


@dataclass(frozen=True)
class Skipped:
    """An object of the input that no item reads, and why."""

    uri: str
    reason: str


@dataclass(frozen=True)
class Plan:
    """What the job reads: its items in key order, and what it leaves out."""

    items: list[Item]
    skipped: list[Skipped]

    def item_list(self) -> bytes:
        """The item list as the Distributed Map's ItemReader reads it: a JSON array."""
        return json.dumps([item.to_dict() for item in self.items], sort_keys=True).encode()


@dataclass(frozen=True)
class Shard:
    """A batch of items scored by one invocation (the ItemBatcher's ``Items``)."""

    items: tuple[Item, ...]

    @classmethod
    def of(cls, documents: Sequence[dict[str, Any]]) -> Shard:
        """A shard from its items as the item list holds them (the ItemBatcher's ``Items``)."""
        return cls(tuple(Item.from_dict(document) for document in documents))

    @property
    def id(self) -> str:
        """A hash of the items' ids: the same items, the same output keys."""
        digest = hashlib.sha256("\n".join(item.id for item in self.items).encode()).hexdigest()
        return digest[:20]

    def part_key(self, output_prefix: str) -> str:
        """Where the shard's scored rows go (Parquet)."""
        return f"{output_prefix}{PARTS}{self.id}.parquet"

    def rejected_key(self, output_prefix: str) -> str:
        """Where the shard's refused rows go (JSON Lines)."""
        return f"{output_prefix}{REJECTED}{self.id}.jsonl"

    def result_key(self, output_prefix: str) -> str:
        """Where the shard's result goes (JSON): the same key on a rerun or a retry."""
        return f"{output_prefix}{RESULTS}{self.id}.json"


def format_of(key: str) -> Format | None:
    """The format a key's suffix says (case-insensitive), or None."""
    lowered = key.lower()
    return next((fmt for suffix, fmt in FORMATS.items() if lowered.endswith(suffix)), None)


def plan_items(
    objects: Iterable[tuple[str, int]], row_groups: Callable[[str], Sequence[int]], *, uri: Callable[[str], str]
) -> Plan:
    """The plan over listed ``objects`` ((key, size), in key order). ``row_groups(uri)`` gives
    a Parquet object's rows per row group (its footer, read by the caller); ``uri(key)`` the
    object's URI."""
    items: list[Item] = []
    skipped: list[Skipped] = []
    for key, size in objects:
        fmt = format_of(key)
        if key.endswith("/"):
            continue  # a "folder" placeholder, not data
        if fmt is None:
            skipped.append(Skipped(uri(key), f"not CSV, JSON Lines or Parquet (suffixes {', '.join(FORMATS)})"))
        elif size == 0:
            skipped.append(Skipped(uri(key), "empty object"))
        elif fmt == "parquet":
            groups = row_groups(uri(key))
            if not groups:
                skipped.append(Skipped(uri(key), "Parquet file with no row groups"))
            items += [Item(uri(key), fmt, index, rows) for index, rows in enumerate(groups)]
        else:
            items.append(Item(uri(key), fmt))
    return Plan(items, skipped)


def shards(items: Sequence[Item], items_per_batch: int) -> list[Shard]:
    """Consecutive runs of ``items_per_batch`` items, as the ItemBatcher makes them."""
    if items_per_batch < 1:
        raise ValueError("items_per_batch must be at least 1")
    return [Shard(tuple(items[i : i + items_per_batch])) for i in range(0, len(items), items_per_batch)]
