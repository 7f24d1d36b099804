"""The simulation's HTML report: one self-contained page (inline SVG, no scripts, nothing
fetched) with the drift measures per day, the business metric, and the champion over time."""

from __future__ import annotations

from collections.abc import Sequence
from html import escape
from pathlib import Path
from typing import TYPE_CHECKING

from mlrails.config import ProjectConfig

if TYPE_CHECKING:
    from mlrails.simulation import Day, Scenario

_PALETTE = ("#3b6ea8", "#c0392b", "#1e7b34", "#b7791f", "#7d3c98", "#148f77", "#555")
_STYLE = """
body{font:14px/1.45 system-ui,sans-serif;max-width:980px;margin:2em auto;padding:0 1em;color:#222}
h1{font-size:1.5em}h2{margin-top:2em;border-bottom:1px solid #ddd}.muted{color:#888}
table{border-collapse:collapse;font-size:13px}td,th{padding:2px 10px 2px 0;text-align:left;vertical-align:top}
svg text{font:12px system-ui,sans-serif;fill:#333}
"""


def series_chart(days: Sequence[int], series: dict[str, Sequence[float | None]], *,
                 markers: Sequence[tuple[float, str]] = (), levels: Sequence[tuple[str, float]] = (),
                 y_format: str = "{:.2f}", step: bool = False, height: int = 240) -> str:
    """Lines over days (a gap where a value is None), dashed vertical ``markers`` (day,
    label) and horizontal ``levels`` (label, y). ``step`` draws a staircase (versions)."""
    values = [v for ys in series.values() for v in ys if v is not None] + [y for _, y in levels]
    if not days or not values:
        return "<p class=muted>nothing to show</p>"
    width, left, right, top, bottom = 900, 56, 150, 14, 30
    low, high = min(values), max(values)
    pad = (high - low) * 0.08 or 0.5
    low, high = low - pad, high + pad
    first, last = days[0], max(days[-1], days[0] + 1)

    def px(day: float) -> float:
        return left + (day - first) / (last - first) * (width - left - right)

    def py(y: float) -> float:
        return top + (high - y) / (high - low) * (height - top - bottom)

    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" role="img">',
             f'<line x1="{left}" x2="{width - right}" y1="{height - bottom}" y2="{height - bottom}" stroke="#888"/>']
    for tick in (low + pad, (low + high) / 2, high - pad):
        parts.append(f'<text x="{left - 4}" y="{py(tick) + 4:.1f}" text-anchor="end">{escape(y_format.format(tick))}</text>')
    for day in range(first, last + 1, 5 if last - first > 20 else 1):
        parts.append(f'<text x="{px(day):.1f}" y="{height - bottom + 15}" text-anchor="middle">{day}</text>')
    for day, label in markers:
        parts.append(f'<line x1="{px(day):.1f}" x2="{px(day):.1f}" y1="{top}" y2="{height - bottom}" '
                     'stroke="#888" stroke-dasharray="4 3"/>'
                     f'<text x="{px(day) + 3:.1f}" y="{top + 10}" fill="#666">{escape(label)}</text>')
    for label, y in levels:
        parts.append(f'<line x1="{left}" x2="{width - right}" y1="{py(y):.1f}" y2="{py(y):.1f}" stroke="#c0392b" '
                     f'stroke-dasharray="6 3"/><text x="{width - right + 4}" y="{py(y) + 4:.1f}" fill="#c0392b">'
                     f'{escape(label)}</text>')
    for index, (name, ys) in enumerate(series.items()):
        color = _PALETTE[index % len(_PALETTE)]
        for run in _runs(days, ys):
            points = []
            for (day, y), following in zip(run, [*run[1:], None]):
                points.append((px(day), py(y)))
                if step and following is not None:
                    points.append((px(following[0]), py(y)))
            parts.append(f'<polyline fill="none" stroke="{color}" stroke-width="2" points="'
                         + " ".join(f"{x:.1f},{y:.1f}" for x, y in points) + '"/>')
        parts.append(f'<text x="{width - right + 4}" y="{top + 14 + 16 * index + 16 * len(levels)}" fill="{color}">'
                     f'{escape(name)}</text>')
    parts.append("</svg>")
    return "".join(parts)


def _runs(days: Sequence[int], ys: Sequence[float | None]) -> list[list[tuple[int, float]]]:
    """Consecutive (day, value) stretches without a None."""
    runs: list[list[tuple[int, float]]] = [[]]
    for day, y in zip(days, ys):
        if y is None:
            if runs[-1]:
                runs.append([])
        else:
            runs[-1].append((day, y))
    return [run for run in runs if run]


def render(cfg: ProjectConfig, scenario: Scenario, days: Sequence[Day]) -> str:
    """The page."""
    xs = [d.day for d in days]
    markers = [(scenario.drift_start, "drift starts"), (scenario.shift_day, "who churns changes")]
    features = sorted({name for d in days for name in d.drift_scores})
    drift = series_chart(xs, {"share of features drifted": [d.drifted_share for d in days]}, markers=markers,
                         levels=[("dataset rule", cfg.monitoring.drifted_share)], y_format="{:.0%}")
    scores = series_chart(xs, {name: [d.drift_scores.get(name) for d in days] for name in features}, markers=markers)
    metric = cfg.performance_metric
    quality = series_chart(xs, {f"{metric} (performance check)": [d.quality for d in days],
                                "accuracy of the day's predictions": [d.served_accuracy for d in days]},
                           markers=markers)
    champions = [float(d.champion) if d.champion else None for d in days]
    versions = series_chart(xs, {"champion version": champions}, markers=markers, y_format="v{:.0f}", step=True,
                            height=180)
    rows = "".join(f"<tr><td>{d.day}</td><td>{d.date:%a %d %b}</td><td>v{escape(d.champion or '-')}</td>"
                   f"<td>{escape('; '.join(d.events))}</td></tr>" for d in days if d.events)
    return f"""<!doctype html><html lang=en><head><meta charset=utf-8>
<title>mlrails simulation: {escape(cfg.project)}, {len(days)} days</title><style>{_STYLE}</style></head><body>
<h1>mlrails simulation — {escape(cfg.model.name)}, {len(days)} days</h1>
<p class=muted>{scenario.requests_per_day} requests × {scenario.rows_per_request} rows a day through the inference
handler; outcomes fed back after {cfg.monitoring.label_delay_hours:g} h; the population drifts from day
{scenario.drift_start} to day {scenario.drift_full} (level {scenario.drift_level:g}); who churns changes on day
{scenario.shift_day}. Model {escape(cfg.model.entrypoint)}.</p>
<h2>Input drift</h2><p>Share of features whose deciding measure passed its threshold, per daily window.</p>{drift}
<h3>Deciding measure per feature</h3>{scores}
<h2>Business metric</h2><p>What the performance check measured on settled, labelled predictions, and what the
simulator knows: the accuracy of each day's predictions.</p>{quality}
<h2>Model versions</h2>{versions}
<h2>What the kit did</h2><table><tr><th>day</th><th>date</th><th>champion</th><th>events</th></tr>{rows}</table>
</body></html>"""


def write_report(path: Path, cfg: ProjectConfig, scenario: Scenario, days: Sequence[Day]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render(cfg, scenario, days))
