"""The drift report as a page: one self-contained HTML document (inline SVG, no scripts,
nothing fetched) written beside the JSON report.

It shows the dataset-level verdict, each feature's deciding measure against its threshold and
the smallest effect the window could detect (an insufficient window shows them too),
the data-quality findings, and one plot per feature and for the prediction: the reference
against the window, on the counts the verdicts were computed from — the reference's quantile
sketch for a numeric feature (rebinned to equal widths for the eye), category shares for a
categorical one. No raw rows are needed, so it renders from the drift check's own counts.
"""

from __future__ import annotations

from datetime import datetime
from html import escape

import numpy as np

from mlrails.config import Monitoring
from mlrails.drift.measures import (
    EFFECT_MEASURES,
    UNSEEN,
    DriftReport,
    DriftStatus,
    FeatureDrift,
    WindowCounts,
    smallest_detectable,
)
from mlrails.drift.profile import PREDICTION
from mlrails.reports.charts import bar_pair, histogram_pair
from mlrails.reports.page import page

_DISPLAY_BINS = 30
_NAMES = ("reference", "window")
_TAIL = 0.01  # the plot spans the middle 98 % of the reference and of the window
_TOP_CATEGORIES = 20  # more than this and the rest are one "other" bar


def numeric_shares(
    window: WindowCounts, name: str, bins: int = _DISPLAY_BINS
) -> tuple[np.ndarray, np.ndarray, np.ndarray, float, float] | None:
    """Reference and window shares of feature ``name`` on ``bins`` equal-width bins spanning
    the middle 98 % of both, and the shares of each beyond that span: (edges, reference,
    window, reference outside, window outside). Each fine-grid bin's count is spread evenly
    over its width (a piecewise-linear CDF). None when the reference had no values."""
    grid = window.grids.get(name)
    if grid is None:
        return None
    edges, reference_counts = grid
    current_counts = window.fine.get(name, np.zeros_like(reference_counts))
    # CDF at each fine edge: everything in the bins below it (the open low end included).
    cdfs = [
        np.cumsum(counts)[:-1] / max(counts.sum(), 1) for counts in (reference_counts, current_counts) if counts.sum()
    ]
    low = min(float(np.interp(_TAIL, cdf, edges)) for cdf in cdfs)
    high = max(float(np.interp(1 - _TAIL, cdf, edges)) for cdf in cdfs)
    if high <= low:  # a constant feature: a unit-wide view around it
        low, high = low - 0.5 * max(abs(low), 1.0), high + 0.5 * max(abs(high), 1.0)
    display = np.linspace(low, high, bins + 1)
    shares, outside = [], []
    for counts in (reference_counts, current_counts):
        inside = np.diff(np.interp(display, edges, np.cumsum(counts)[:-1])) / max(counts.sum(), 1)
        shares.append(inside)
        outside.append(max(1.0 - float(inside.sum()), 0.0) if counts.sum() else 0.0)
    return display, shares[0], shares[1], outside[0], outside[1]


def category_shares(window: WindowCounts, name: str) -> tuple[list[str], list[float], list[float]]:
    """Reference and window shares per category (the reference's most common first, the rest
    as one "other" bar, then the window's categories unseen in training)."""
    reference = window.profile["features"][name]["counts"]
    observed = window.categorical.get(name, {})
    ref_total, cur_total = max(sum(reference.values()), 1), max(sum(observed.values()), 1)
    ordered = sorted(reference, key=lambda c: -reference[c])
    shown, rest = ordered[:_TOP_CATEGORIES], ordered[_TOP_CATEGORIES:]
    labels = list(shown)
    first = [reference[c] / ref_total for c in shown]
    second = [observed.get(c, 0) / cur_total for c in shown]
    if rest:
        labels.append(f"other ({len(rest)} categories)")
        first.append(sum(reference[c] for c in rest) / ref_total)
        second.append(sum(observed.get(c, 0) for c in rest) / cur_total)
    labels.append("unseen in training")
    first.append(0.0)
    second.append(observed.get(UNSEEN, 0) / cur_total)
    return labels, first, second


def _plot(window: WindowCounts, name: str, result: FeatureDrift) -> str:
    if result.type == "categorical":
        labels, first, second = category_shares(window, name)
        return bar_pair(labels, first, second, names=_NAMES, alert=result.drifted)
    shares = numeric_shares(window, name)
    if shares is None:
        return "<p class=muted>no values in the reference</p>"
    edges, first, second, reference_outside, window_outside = shares
    note = (
        f"<p class=muted>beyond the plotted range: {reference_outside:.1%} of the reference, "
        f"{window_outside:.1%} of the window</p>"
    )
    return histogram_pair(edges.tolist(), first.tolist(), second.tolist(), names=_NAMES, alert=result.drifted) + note


def _measure(result: FeatureDrift) -> str:
    if result.score is None:
        return f"{result.test}: no values in the window"
    p_value = "" if result.p_value is None else f", p = {result.p_value:.2g}"
    return f"{result.test} {result.score:.3f} (threshold {result.threshold:g}{p_value}) · {_power(result)}"


def _power(result: FeatureDrift) -> str:
    if result.detectable is None:
        return "detects nothing"
    return f"detects {EFFECT_MEASURES[result.gate]} ≥ {result.detectable:.2f} (needs {result.effect_size:g})"


def _feature_section(window: WindowCounts, name: str, result: FeatureDrift, title: str) -> str:
    verdict = _verdict(result)
    quality = f" · data quality: {escape(', '.join(result.quality))}" if result.quality else ""
    return (
        f"<section class=feature><h3>{escape(title)} <span class={verdict}>{verdict}</span></h3>"
        f"<p class=muted>{result.type} · {escape(_measure(result))} · {result.rows:,} values{quality}</p>"
        f"{_plot(window, name, result)}</section>"
    )


def _table(report: DriftReport) -> str:
    head = (
        "<tr><th>feature</th><th>type</th><th>measure</th><th>score</th><th>threshold</th><th>p-value</th>"
        "<th>smallest detectable</th><th>verdict</th><th>missing (reference → window)</th><th>data quality</th></tr>"
    )
    rows = "".join(
        f"<tr><td>{escape(name)}</td><td>{r.type}</td><td>{r.test}</td>"
        f"<td>{'—' if r.score is None else f'{r.score:.3f}'}</td><td>{r.threshold:g}</td>"
        f"<td>{'—' if r.p_value is None else f'{r.p_value:.2g}'}</td>"
        f"<td>{'—' if r.detectable is None else f'{EFFECT_MEASURES[r.gate]} {r.detectable:.2f}'}"
        f" (needs {r.effect_size:g})</td>"
        f"<td class={_verdict(r)}>{_verdict(r)}</td>"
        f"<td>{r.reference_missing_rate:.1%} → {r.missing_rate:.1%}</td>"
        f"<td>{escape(', '.join(r.quality)) or '—'}</td></tr>"
        for name, r in report.features.items()
    )
    return f"<table>{head}{rows}</table>"


def _verdict(result: FeatureDrift) -> str:
    if result.drifted:
        return "drift"
    return "ok" if result.detectable is not None and result.detectable <= result.effect_size else "unknown"


def _quality(report: DriftReport) -> str:
    if not report.data_quality:
        return "<p class=muted>no findings</p>"
    items = "".join(
        f"<li class=warning><b>{escape(f.feature)}</b> — {f.check.replace('_', ' ')}: "
        f"{f.value:.1%} (threshold {f.threshold:.1%})</li>"
        for f in report.data_quality
    )
    return (
        "<p>Reported beside drift, not counted in it: they point at the pipeline rather than the "
        f"population.</p><ul class=findings>{items}</ul>"
    )


def render_drift_html(
    report: DriftReport,
    window: WindowCounts,
    monitoring: Monitoring,
    *,
    model: str,
    version: str,
    scope: str,
) -> str:
    """The whole page, as a string; ``scope`` says what rows were counted (:func:`window_scope`
    for a window of served traffic)."""
    status = report.status
    if status == DriftStatus.INSUFFICIENT_DATA:
        summary = (
            f"{report.rows:,} rows in the window: too few to detect the configured effect with power "
            f"{report.min_power:g} — smallest detectable: {smallest_detectable(report.to_dict())}"
        )
    else:
        summary = (
            f"{len(report.drifted_features)} of {len(report.features)} features drifted "
            f"({report.drifted_share:.0%}; the dataset drifts at ≥ {monitoring.drifted_share:.0%})"
        )
    verdict = {
        DriftStatus.DRIFT: ("drift", "drift"),
        DriftStatus.OK: ("ok", "ok"),
        DriftStatus.INSUFFICIENT_DATA: ("unknown", "insufficient data"),
    }
    cards = [("Dataset", *verdict[status], summary)]
    if report.prediction is not None:
        cards.append(
            (
                "Prediction",
                *verdict[DriftStatus.DRIFT if report.prediction.drifted else DriftStatus.OK],
                _measure(report.prediction),
            )
        )
    cards.append(
        (
            "Data quality",
            *(("unknown", "findings") if report.data_quality else ("ok", "clean")),
            f"{len(report.data_quality)} finding(s)",
        )
    )
    body = [
        f"<h1>mlrails drift · {escape(model)} v{escape(version)}</h1>",
        f"<p class=muted>{escape(scope)} · {report.rows:,} rows · "
        f"a feature drifts when its measure reaches its threshold and p &lt; {monitoring.alpha:g}; a verdict "
        f"needs the power ({report.min_power:g}) to detect the configured effect in every feature</p>",
        "<div class=cards>"
        + "".join(
            f"<div class=card><div>{title}</div><div class='verdict {css}'>{label}</div><div>{escape(text)}</div></div>"
            for title, css, label, text in cards
        )
        + "</div>",
    ]
    # An insufficient window still shows every feature: what it could detect is the news.
    body += [
        "<h2>Features</h2>",
        _table(report),
        "<h2>Data quality</h2>",
        _quality(report),
        "<h2>Distributions: the reference and the window</h2>",
    ]
    body += [_feature_section(window, name, result, name) for name, result in report.features.items()]
    if report.prediction is not None:
        body += ["<h2>Prediction</h2>", _feature_section(window, PREDICTION, report.prediction, "prediction")]
    return page(f"mlrails drift · {model} v{version} · {scope}", "".join(body))


def window_scope(start: datetime, end: datetime) -> str:
    """The ``scope`` of a drift report on the window of served traffic [start, end)."""
    return f"window {start:%Y-%m-%d %H:%M} → {end:%Y-%m-%d %H:%M} UTC"
