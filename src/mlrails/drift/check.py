"""The drift check: the captured window against the champion's reference profile."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from mlrails.adapters import manifests, s3, traffic
from mlrails.adapters.bus import publish
from mlrails.adapters.state import StateTable
from mlrails.config import ProjectConfig
from mlrails.drift.measures import DriftReport, DriftStatus, WindowCounts, drift_report
from mlrails.drift.profile import PREDICTION
from mlrails.drift.report import render_drift_html
from mlrails.events import DriftDetected
from mlrails.settings import Settings
from mlrails.wiring import Prefix


@dataclass(frozen=True)
class DriftOutcome:
    status: DriftStatus
    report: DriftReport | None
    report_uri: str | None
    consecutive_windows: int
    emitted: bool


def check_drift(cfg: ProjectConfig, settings: Settings, *, at: datetime) -> DriftOutcome:
    """Bin the window file by file (bounded memory), report, and emit ``DriftDetected``
    once ``retraining.consecutive_drift_windows`` windows in a row have drifted."""
    manifest = manifests.read_current(settings.artifacts_bucket, cfg.model.name)
    if manifest is None:
        return DriftOutcome(DriftStatus.NO_MODEL, None, None, 0, False)
    start = at - timedelta(hours=cfg.monitoring.window_hours)
    window = WindowCounts(profile=json.loads(manifests.read_file(manifest, manifest.profile_uri)))
    for chunk in traffic.capture_chunks(settings.data_bucket, start, at):
        window.add(chunk.rename(columns={"prediction": PREDICTION}))
    report = drift_report(window, cfg.monitoring)

    report_uri = s3.uri(
        settings.artifacts_bucket, f"{Prefix.REPORTS.value}drift/{cfg.model.name}/{at:%Y-%m-%dT%H%M%SZ}.json"
    )
    s3.put_json(report_uri, _report_document(report, manifest.version, start, at))
    # The same report for a person, beside it: self-contained, so it opens straight from S3.
    page = render_drift_html(
        report, window, cfg.monitoring, model=cfg.model.name, version=manifest.version, start=start, end=at
    )
    s3.put_bytes(html_uri(report_uri), page.encode(), "text/html; charset=utf-8")

    state, pk = StateTable(settings.state_table), f"drift#{cfg.model.name}"
    if report.status == DriftStatus.INSUFFICIENT_DATA:
        consecutive = int(state.get(pk).get("consecutive", 0))  # no evidence either way: keep the count
    elif report.status == "drift":
        consecutive = state.add(pk, "consecutive", 1)
    else:
        state.put(pk, consecutive=0)
        consecutive = 0
    emit = report.status == "drift" and consecutive >= cfg.retraining.consecutive_drift_windows
    if emit:
        publish(
            DriftDetected(
                cfg.model.name,
                settings.environment,
                report_uri,
                manifest.version,
                report.drifted_features,
                report.drifted_share,
                consecutive,
            ),
            settings,
            time=at,
        )
    return DriftOutcome(report.status, report, report_uri, consecutive, emit)


def html_uri(report_uri: str) -> str:
    """Where the HTML page of the drift report at ``report_uri`` (its JSON) is written."""
    return report_uri.removesuffix(".json") + ".html"


def _report_document(report: DriftReport, version: str, start: datetime, end: datetime) -> dict[str, Any]:
    return {
        "model_version": version,
        "window_start": start.isoformat(),
        "window_end": end.isoformat(),
        **report.to_dict(),
    }
