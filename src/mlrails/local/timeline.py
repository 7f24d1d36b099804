"""The local runtime's story as it happens: each handler run as one readable line, in
virtual time (what `mlrails demo`, `upload`, `advance` and `simulate` print)."""

from __future__ import annotations

import json
from datetime import datetime
from typing import TYPE_CHECKING, Any, TextIO

from mlrails.local.router import Invocation

if TYPE_CHECKING:
    from mlrails.local.runtime import LocalRuntime


class Timeline:
    """Prints what fired, with counts and model versions, in virtual time."""

    def __init__(self, out: TextIO, start: datetime) -> None:
        self.out, self.start = out, start
        self.invocations: list[Invocation] = []
        self.runtime: LocalRuntime | None = None

    def say(self, text: str) -> None:
        """A line of narration."""
        print(text, file=self.out, flush=True)

    def step(self, text: str) -> None:
        """Something the demo does (as a user would)."""
        self.say(f"  {self.clock()}  ▸ {text}")

    def clock(self) -> str:
        now = self.runtime.now if self.runtime else self.start
        return f"{now:%a %d %b %H:%M}"

    def __call__(self, invocation: Invocation) -> None:
        self.invocations.append(invocation)
        if nothing_due(invocation) or relayed(invocation):
            return  # the hourly deferred-retrain check, most hours, or an event relayed: nothing to tell
        name = invocation.function
        if "step" in invocation.event:
            name = f"{name}:{invocation.event['step']}"
        self.say(f"  {self.clock()}    {name:<16} {describe(invocation)}")


def nothing_due(invocation: Invocation) -> bool:
    """The deferred-retrain check found no deferred trigger due (its result's trigger stays
    ``deferred``; one that acted names the trigger it put to the policy), or MLflow's idle
    sweep found nothing to stop."""
    result = invocation.result or {}
    if invocation.function == "tracking_switch":
        return not invocation.error and "forgot" in result and not result["scaled"] and not result["forgot"]
    return invocation.function == "retrain_trigger" and result.get("trigger") == "deferred"


def relayed(invocation: Invocation) -> bool:
    """The relay put an event from the outbox on the bus (or found it relayed already): the
    train function's line told of the event already."""
    return invocation.function == "event_relay" and (invocation.result or {}).get("status") != "malformed"


def describe(invocation: Invocation) -> str:
    """One readable line for a handler run."""
    if invocation.error:
        return f"FAILED ({invocation.trigger}): {invocation.error}"
    r: dict[str, Any] = invocation.result or {}
    match invocation.function:
        case "feature_prep" if r.get("status") == "quarantined":
            return f"{_key(r['source_uri'])} quarantined → {_key(r['target_uri'])} (reason: {r['reason']})"
        case "feature_prep":
            return f"{_key(r['source_uri'])} → {_key(r['target_uri'])} ({r['rows']:,} rows) ⇒ FeaturesReady"
        case "retrain_trigger":
            verdict = "retrain ⇒ RetrainRequested" if r["retrain"] else "no retrain"
            return f"{r['trigger']}: {verdict} ({r['reason']})"
        case "train" if invocation.event["step"] == "train":
            metrics = ", ".join(f"{k} {v:.3f}" for k, v in sorted(r["metrics"].items()))
            return f"v{r['version']} fit on {r['rows']:,} rows [{metrics}] ⇒ ModelRegistered"
        case "train" if invocation.event["step"] == "evaluate":
            return f"gate says {'promote' if r['promote'] else 'reject'}: {r['reason']}"
        case "train":
            version = invocation.event["state"]["train"]["version"]
            return f"v{version} promoted ⇒ ModelPromoted" if r["promoted"] else f"v{version} rejected ⇒ ModelRejected"
        case "tracking_switch":
            return _tracking_line(invocation.event, r)
        case "drift_check" if invocation.event.get("phase") == "count":
            return f"fan-out shard: counted {len(invocation.event['items'])} capture object(s), partial saved"
        case "drift_check":
            return _drift_line(r)
        case "performance_check":
            return _performance_line(r)
        case "event_relay":
            return f"{r['key']} {r['status']}, not published: {r['reason']}"
    return json.dumps(r)[:120]


def _tracking_line(event: dict[str, Any], r: dict[str, Any]) -> str:
    others = f"{len(r['holders'])} holder(s)"
    if "forgot" in r:
        outcome = "⇒ MLflow stopped" if r["scaled"] and not r["desired"] else f"{others} left"
        return f"idle sweep: forgot {', '.join(r['forgot']) or 'no hold'} {outcome}"
    if event["action"] == "hold":
        return f"{event['holder']} holds MLflow" + (" ⇒ started" if r["scaled"] else f" ({others})")
    return f"{event['holder']} released MLflow" + (
        " ⇒ stopped" if r["scaled"] and not r["desired"] else f" ({others} left)"
    )


def _drift_line(r: dict[str, Any]) -> str:
    from mlrails.adapters import s3
    from mlrails.drift.measures import smallest_detectable

    if r["status"] == "no_model":
        return "no model to compare against yet"
    if r["status"] == "fanned_out":
        return f"window over monitoring.single_pass_max_mb: fanned out in {r['shards']} shards ({r['execution']})"
    report = s3.get_json(r["report_uri"])
    if r["status"] == "insufficient_data":
        return (
            f"insufficient data on {report['rows']:,} rows, no verdict; smallest detectable at power "
            f"{report['min_power']:g}: {smallest_detectable(report)}"
        )
    # Each feature's deciding measure (Wasserstein for numbers, Jensen-Shannon for categories by default).
    scores = ", ".join(
        f"{name} {f['test']} {f['score']:.2f}{'*' if f['drifted'] else ''}"
        for name, f in sorted(report["features"].items())
    )
    verdict = "DRIFT ⇒ DriftDetected" if r["drift_detected"] else r["status"]
    return (
        f"{verdict}: {len(report['drifted_features'])}/{len(report['features'])} features drifted "
        f"on {report['rows']:,} rows ({scores})"
    )


def _performance_line(r: dict[str, Any]) -> str:
    if r["status"] == "no_model":
        return "no model to judge yet"
    if r["value"] is None:  # insufficient_labels, metric_unavailable
        return f"{r['status'].replace('_', ' ')} ({r['labelled']:,} labelled, settled predictions): no verdict"
    verdict = "DEGRADED ⇒ PerformanceDegraded" if r["performance_degraded"] else r["status"]
    floor = "" if r["threshold"] is None else f", floor {r['threshold']:.3f}"
    return f"{verdict}: {r['metric']} {r['value']:.3f} on {r['labelled']:,} labelled predictions{floor}"


def _key(uri: str) -> str:
    return uri.split("/", 3)[3]
