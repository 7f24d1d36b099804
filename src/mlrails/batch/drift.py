"""Drift over a batch job's rows: input and prediction drift against the champion's reference.

Each shard counts the rows it scored — the model's inputs and its prediction — on the grids of
the champion's reference profile and writes the counts as a partial
(:meth:`mlrails.drift.measures.WindowCounts.to_partial`) at ``drift/<shard id>.json``, a key
fixed by the shard's items (a rerun overwrites). The job's last step merges the partials of the
shards that succeeded with the job's champion into one report, ``drift.json`` and
``drift.html`` under the output prefix: the report of one pass over every row those shards
scored (the merge is exact), judged by the project's ``monitoring`` section as the drift check
judges a window.

A batch job reports drift; it does not raise ``DriftDetected`` nor count toward the drift
check's consecutive windows (the state table): a batch's input is whatever someone chose to
score — a backfill, last year's customers, a what-if set — not the population the model serves,
which is what retraining answers to. The served window stays the drift check's.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

import pandas as pd

from mlrails.adapters import s3
from mlrails.batch.items import Shard
from mlrails.config import Monitoring
from mlrails.drift.check import reference_profile
from mlrails.drift.measures import DriftReport, WindowCounts, drift_report
from mlrails.drift.profile import PREDICTION
from mlrails.drift.report import render_drift_html
from mlrails.serving.manifest import Manifest

if TYPE_CHECKING:
    from mlrails.batch.shard import ShardResult

PARTIALS = "drift/"  # one partial per shard, under the output prefix
REPORT_FILE = "drift.json"
PAGE_FILE = "drift.html"


def partial_key(output_prefix: str, shard_id: str) -> str:
    """Where a shard's drift counts go."""
    return f"{output_prefix}{PARTIALS}{shard_id}.json"


def write_partial(
    shard: Shard, output_prefix: str, manifest: Manifest, parts: Sequence[dict[str, list]], prediction: str
) -> None:
    """Count a shard's scored ``parts`` (columns by name, the prediction in ``prediction``)
    against ``manifest``'s reference profile and write the counts."""
    window = WindowCounts(profile=reference_profile(manifest))
    inputs = [column.name for column in manifest.signature]
    for part in parts:
        columns = {**{name: part[name] for name in inputs}, PREDICTION: part[prediction]}
        window.add(pd.DataFrame({name: _series(values) for name, values in columns.items()}))
    s3.put_json(partial_key(output_prefix, shard.id), window.to_partial())


def _series(values: Any) -> Any:
    """A scored column as pandas takes it whole: a part's column may be a list, a numpy array or
    an Arrow array as read (which pandas would otherwise walk value by value)."""
    return values.to_pandas() if hasattr(values, "to_pandas") else values


@dataclass(frozen=True)
class BatchDrift:
    """The job's drift, as its summary holds it (the report itself is at ``report_uri``)."""

    status: str
    report_uri: str
    page_uri: str
    rows: int
    drifted_features: list[str]
    drifted_share: float
    prediction_drifted: bool | None  # None: the profile holds no prediction distribution
    prediction_psi: float | None
    shards_counted: int
    # Shards whose rows the report leaves out, by id: failed, or scored by another champion.
    shards_left_out: dict[str, str]

    def to_dict(self) -> dict[str, Any]:
        """The drift as ``summary.json`` holds it."""
        return asdict(self)


def _left_out(result: ShardResult, version: str) -> str | None:
    if result.failed:
        return "failed"
    if result.model_version != version:
        return f"scored by v{result.model_version}, not v{version} whose profile the report uses"
    return None


def report_drift(
    results: Sequence[ShardResult],
    output_prefix: str,
    manifest: Manifest,
    monitoring: Monitoring,
    *,
    input_uri: str,
) -> BatchDrift:
    """Merge the partials of the shards in ``results`` scored by ``manifest``'s champion into
    its drift report; write it (JSON and page) under ``output_prefix``."""
    left_out = {r.shard_id: reason for r in results if (reason := _left_out(r, manifest.version))}
    counted = [r.shard_id for r in results if r.shard_id not in left_out]
    partials = (s3.get_json(partial_key(output_prefix, shard_id)) for shard_id in counted)
    window = WindowCounts.merge(reference_profile(manifest), partials)
    report = drift_report(window, monitoring)
    report_uri = output_prefix + REPORT_FILE
    page_uri = output_prefix + PAGE_FILE
    s3.put_json(report_uri, _document(report, manifest.version, input_uri, len(counted), left_out))
    # No time in the page: a rerun over the same input writes the same bytes, as its parts.
    scope = f"batch job over {input_uri}"
    page = render_drift_html(
        report, window, monitoring, model=manifest.model_name, version=manifest.version, scope=scope
    )
    s3.put_bytes(page_uri, page.encode(), "text/html; charset=utf-8")
    return BatchDrift(
        status=report.status.value,
        report_uri=report_uri,
        page_uri=page_uri,
        rows=report.rows,
        drifted_features=report.drifted_features,
        drifted_share=report.drifted_share,
        prediction_drifted=report.prediction.drifted if report.prediction else None,
        prediction_psi=report.prediction_psi,
        shards_counted=len(counted),
        shards_left_out=left_out,
    )


def _document(
    report: DriftReport, version: str, input_uri: str, counted: int, left_out: dict[str, str]
) -> dict[str, Any]:
    return {
        "model_version": version,
        "input_uri": input_uri,
        "shards_counted": counted,
        "shards_left_out": left_out,
        **report.to_dict(),
    }
