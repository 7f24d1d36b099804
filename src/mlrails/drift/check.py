"""The drift check: the captured window against the champion's reference profile.

It runs in three steps, each a function a step of a fan-out can call with JSON in and out:

1. :func:`plan_window` — the champion's manifest, the window, and the capture objects in it;
2. :func:`count_captures` — the drift counts of some of those objects, as a partial
   (:meth:`mlrails.drift.measures.WindowCounts.to_partial`);
3. :func:`judge_window` — merge the partials, report, keep the consecutive-window count, and
   emit ``DriftDetected``.

:func:`check_plan` runs the last two in one function: one partial of every object, then the
same merge. A window too big for one function's budget (``monitoring.single_pass_max_mb``)
counts its objects in shards instead — a Distributed Map over ``plan.keys``
(:mod:`mlrails.drift.fanout`) — and hands their partials to the same last step; the merge is
exact, so the report is the one a single pass gives.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any

from mlrails.adapters import manifests, s3, traffic
from mlrails.adapters.bus import publish
from mlrails.adapters.state import StateTable
from mlrails.config import ProjectConfig
from mlrails.drift.measures import DriftReport, DriftStatus, WindowCounts, drift_report
from mlrails.drift.profile import PREDICTION
from mlrails.drift.report import render_drift_html, window_scope
from mlrails.events import DriftDetected
from mlrails.serving.manifest import Manifest
from mlrails.settings import Settings
from mlrails.wiring import Prefix


@dataclass(frozen=True)
class DriftOutcome:
    status: DriftStatus
    report: DriftReport | None
    report_uri: str | None
    consecutive_windows: int
    emitted: bool


_profiles: dict[tuple[str, str], dict[str, Any]] = {}


def reference_profile(manifest: Manifest) -> dict[str, Any]:
    """The champion's reference profile, checked against the sha256 its manifest records; read
    once per process and champion (a worker counts shard after shard against it), and kept by
    that digest, so another profile at the same URI is read anew."""
    key = (manifest.profile_uri, manifest.recorded(manifest.profile_uri)["sha256"])
    if key not in _profiles:
        _profiles.clear()  # a new champion: the old one's profile is no longer asked for
        _profiles[key] = json.loads(manifests.read_file(manifest, manifest.profile_uri))
    return _profiles[key]


@dataclass(frozen=True)
class WindowPlan:
    """What a drift check reads: the champion it judges against, the window [start, end), and
    the capture objects in it (``keys``, in the data bucket, and their ``sizes`` in bytes: what
    decides whether one pass can count them)."""

    manifest: Manifest
    start: datetime
    end: datetime
    keys: list[str]
    sizes: list[int]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: what a fan-out's first step hands its shards and its last step."""
        return {
            "manifest": asdict(self.manifest),
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "keys": self.keys,
            "sizes": self.sizes,
        }

    @classmethod
    def from_dict(cls, document: Mapping[str, Any]) -> WindowPlan:
        """A plan read back from :meth:`to_dict`."""
        return cls(
            Manifest.from_json(json.dumps(document["manifest"])),  # a manifest version it cannot read is refused
            datetime.fromisoformat(document["start"]),
            datetime.fromisoformat(document["end"]),
            list(document["keys"]),
            list(document["sizes"]),
        )


def plan_window(cfg: ProjectConfig, settings: Settings, *, at: datetime) -> WindowPlan | None:
    """The window ending at ``at`` (``monitoring.window_hours`` long), its capture objects and
    the current champion; None when nothing is promoted yet."""
    manifest = manifests.read_current(settings.artifacts_bucket, cfg.model.name)
    if manifest is None:
        return None
    start = at - timedelta(hours=cfg.monitoring.window_hours)
    objects = list(traffic.window_objects(settings.data_bucket, start, at))
    return WindowPlan(manifest, start, at, [key for key, _ in objects], [size for _, size in objects])


def count_captures(plan: WindowPlan, settings: Settings, keys: Iterable[str]) -> dict[str, Any]:
    """The drift counts of the rows of the capture objects at ``keys`` (some or all of
    ``plan.keys``) inside the window, binned file by file (bounded memory), as a partial."""
    window = WindowCounts(profile=reference_profile(plan.manifest))
    for chunk in traffic.captures_in(settings.data_bucket, keys, plan.start, plan.end):
        window.add(chunk.rename(columns={"prediction": PREDICTION}))
    return window.to_partial()


def judge_window(
    cfg: ProjectConfig, settings: Settings, plan: WindowPlan, partials: Sequence[Mapping[str, Any]]
) -> DriftOutcome:
    """Merge the ``partials`` of the plan's objects (every object counted once) into the
    window's report, write it, and emit ``DriftDetected`` once
    ``retraining.consecutive_drift_windows`` windows in a row have drifted."""
    manifest, start, at = plan.manifest, plan.start, plan.end
    window = WindowCounts.merge(reference_profile(manifest), partials)
    report = drift_report(window, cfg.monitoring)

    report_uri = s3.uri(
        settings.artifacts_bucket, f"{Prefix.REPORTS.value}drift/{cfg.model.name}/{at:%Y-%m-%dT%H%M%SZ}.json"
    )
    s3.put_json(report_uri, _report_document(report, manifest.version, start, at))
    # The same report for a person, beside it: self-contained, so it opens straight from S3.
    page = render_drift_html(
        report, window, cfg.monitoring, model=cfg.model.name, version=manifest.version, scope=window_scope(start, at)
    )
    s3.put_bytes(html_uri(report_uri), page.encode(), "text/html; charset=utf-8")

    consecutive, current = _count_window(StateTable(settings.state_table), f"drift#{cfg.model.name}", at, report.status)
    emit = current and report.status == "drift" and consecutive >= cfg.retraining.consecutive_drift_windows
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


def _count_window(state: StateTable, pk: str, end: datetime, status: str) -> tuple[int, bool]:
    """Drifted windows in a row, this one (ending at ``end``) included, and whether this window
    may announce them. Counted once per window, in window order: the item remembers the newest
    window it counted, so a judge run again on that window (a retried or redriven step whose
    publish failed after the count) finds it counted and may announce it again, and an older
    window judged late (fan-outs that overlap) moves nothing and announces nothing. A
    compare-and-set keeps two writers from both counting."""
    window = end.isoformat()
    while True:
        item = state.get(pk)
        counted, last = int(item.get("consecutive", 0)), item.get("window")
        if last is not None and datetime.fromisoformat(last) >= end:
            return counted, datetime.fromisoformat(last) == end
        # Insufficient data is no evidence either way: the count stays (the window is counted).
        now = {DriftStatus.DRIFT: counted + 1, DriftStatus.INSUFFICIENT_DATA: counted}.get(status, 0)
        expected = {"window": last, "consecutive": item.get("consecutive")}
        if state.compare_and_set(pk, expected=expected, window=window, consecutive=now):
            return now, True


def check_plan(cfg: ProjectConfig, settings: Settings, plan: WindowPlan | None) -> DriftOutcome:
    """The whole check of a planned window (None: no champion yet) in one function: every
    capture object counted here, then the merge a fan-out's last step runs (see the module's
    docstring)."""
    if plan is None:
        return DriftOutcome(DriftStatus.NO_MODEL, None, None, 0, False)
    return judge_window(cfg, settings, plan, [count_captures(plan, settings, plan.keys)])


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
