"""The simulation's HTML report: one self-contained page (inline SVG, no scripts, nothing
fetched) with the drift measures per day, the business metric, and the champion over time."""

from __future__ import annotations

from collections.abc import Sequence
from html import escape
from pathlib import Path

from mlrails.config import ProjectConfig
from mlrails.local.scenario import Day, Scenario
from mlrails.reports.charts import series_chart
from mlrails.reports.page import page


def render(cfg: ProjectConfig, scenario: Scenario, days: Sequence[Day]) -> str:
    """The page."""
    xs = [d.day for d in days]
    markers = [(scenario.drift_start, "drift starts"), (scenario.shift_day, "who churns changes")]
    features = sorted({name for d in days for name in d.drift_scores})
    drift = series_chart(
        xs,
        {"share of features drifted": [d.drifted_share for d in days]},
        markers=markers,
        levels=[("dataset rule", cfg.monitoring.drifted_share)],
        y_format="{:.0%}",
    )
    scores = series_chart(xs, {name: [d.drift_scores.get(name) for d in days] for name in features}, markers=markers)
    metric = cfg.performance_metric
    quality = series_chart(
        xs,
        {
            f"{metric} (performance check)": [d.quality for d in days],
            "accuracy of the day's predictions": [d.served_accuracy for d in days],
        },
        markers=markers,
    )
    champions = [float(d.champion) if d.champion else None for d in days]
    versions = series_chart(
        xs, {"champion version": champions}, markers=markers, y_format="v{:.0f}", step=True, height=180
    )
    rows = "".join(
        f"<tr><td>{d.day}</td><td>{d.date:%a %d %b}</td><td>v{escape(d.champion or '-')}</td>"
        f"<td>{escape('; '.join(d.events))}</td></tr>"
        for d in days
        if d.events
    )
    return page(
        f"mlrails simulation: {cfg.project}, {len(days)} days",
        f"""<h1>mlrails simulation — {escape(cfg.model.name)}, {len(days)} days</h1>
<p class=muted>{scenario.requests_per_day} requests × {scenario.rows_per_request} rows a day through the inference
handler; outcomes fed back after {cfg.monitoring.label_delay_hours:g} h; the population drifts from day
{scenario.drift_start} to day {scenario.drift_full} (level {scenario.drift_level:g}); who churns changes on day
{scenario.shift_day}. Model {escape(cfg.model.entrypoint)}.</p>
<h2>Input drift</h2><p>Share of features whose deciding measure passed its threshold, per daily window.</p>{drift}
<h3>Deciding measure per feature</h3>{scores}
<h2>Business metric</h2><p>What the performance check measured on settled, labelled predictions, and what the
simulator knows: the accuracy of each day's predictions.</p>{quality}
<h2>Model versions</h2>{versions}
<h2>What the kit did</h2><table><tr><th>day</th><th>date</th><th>champion</th><th>events</th></tr>{rows}</table>""",
    )


def write_report(path: Path, cfg: ProjectConfig, scenario: Scenario, days: Sequence[Day]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render(cfg, scenario, days))
