"""Small inline SVG charts for mlrails' HTML reports: no plotting library, no external files.

Pure Python, so they render inside a Lambda that ships neither matplotlib nor a browser.
Labels are escaped here: they can come from data (feature names, category labels)."""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

_W, _BAR_H, _LABEL_W = 560, 20, 170
_COLOR, _ALERT, _MUTED = "#3b6ea8", "#c0392b", "#888"
_SECOND = "#b8c2cc"  # the reference side of a paired chart, behind the current one
_PALETTE = (_COLOR, _ALERT, "#1e7b34", "#b7791f", "#7d3c98", "#148f77", "#555")


def bar_chart(
    labels: Sequence[str],
    values: Sequence[float],
    *,
    threshold: float | None = None,
    maximum: float | None = None,
    fmt: str = "{:.1%}",
    alert_at: float | None = None,
) -> str:
    """Horizontal bars, one per label; a dashed line at ``threshold``; bars at or past
    ``alert_at`` in red."""
    if not labels:
        return "<p class=muted>nothing to show</p>"
    top = maximum or max([*values, threshold or 0, 1e-9])
    plot_w = _W - _LABEL_W - 70
    height = len(labels) * (_BAR_H + 6) + 10
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{_W}" height="{height}" role="img">']
    for i, (label, value) in enumerate(zip(labels, values)):
        y = 5 + i * (_BAR_H + 6)
        width = max(0.0, min(value / top, 1.0)) * plot_w
        color = _ALERT if alert_at is not None and value >= alert_at else _COLOR
        parts.append(f'<text x="{_LABEL_W - 6}" y="{y + 14}" text-anchor="end">{escape(_clip(label))}</text>')
        parts.append(f'<rect x="{_LABEL_W}" y="{y}" width="{width:.1f}" height="{_BAR_H}" fill="{color}"/>')
        parts.append(f'<text x="{_LABEL_W + width + 4:.1f}" y="{y + 14}">{escape(fmt.format(value))}</text>')
    if threshold is not None:
        x = _LABEL_W + min(threshold / top, 1.0) * plot_w
        parts.append(f'<line x1="{x:.1f}" x2="{x:.1f}" y1="0" y2="{height}" stroke="{_MUTED}" stroke-dasharray="4 3"/>')
    parts.append("</svg>")
    return "".join(parts)


def line_chart(
    xs: Sequence[float],
    ys: Sequence[float],
    errors: Sequence[float],
    *,
    levels: Sequence[tuple[str, float, str]] = (),
    x_label: str = "",
    y_label: str = "",
) -> str:
    """One line with a ±error band, and horizontal reference lines ``(label, y, color)``."""
    if not xs:
        return "<p class=muted>nothing to show</p>"
    width, height, left, bottom, top_pad, right = _W, 260, 56, 36, 12, 120
    all_y = [
        *ys,
        *(y + e for y, e in zip(ys, errors)),
        *(y - e for y, e in zip(ys, errors)),
        *(level for _, level, _ in levels),
    ]
    low, high = min(all_y), max(all_y)
    pad = (high - low) * 0.1 or 0.05
    low, high = low - pad, high + pad
    x_max = max(xs) or 1

    def px(x: float) -> float:
        return left + x / x_max * (width - left - right)

    def py(y: float) -> float:
        return top_pad + (high - y) / (high - low) * (height - top_pad - bottom)

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" role="img">',
        f'<line x1="{left}" x2="{left}" y1="{top_pad}" y2="{height - bottom}" stroke="{_MUTED}"/>',
        f'<line x1="{left}" x2="{width - right}" y1="{height - bottom}" y2="{height - bottom}" stroke="{_MUTED}"/>',
    ]
    for tick in (low + pad, (low + high) / 2, high - pad):
        parts.append(f'<text x="{left - 4}" y="{py(tick) + 4:.1f}" text-anchor="end">{tick:.3f}</text>')
    for x in xs:
        parts.append(f'<text x="{px(x):.1f}" y="{height - bottom + 16}" text-anchor="middle">{x:,.0f}</text>')
    band = [(px(x), py(y + e)) for x, y, e in zip(xs, ys, errors)] + [
        (px(x), py(y - e)) for x, y, e in reversed(list(zip(xs, ys, errors)))
    ]
    parts.append('<polygon fill="#3b6ea833" points="' + " ".join(f"{a:.1f},{b:.1f}" for a, b in band) + '"/>')
    parts.append(
        f'<polyline fill="none" stroke="{_COLOR}" stroke-width="2" points="'
        + " ".join(f"{px(x):.1f},{py(y):.1f}" for x, y in zip(xs, ys))
        + '"/>'
    )
    parts += [f'<circle cx="{px(x):.1f}" cy="{py(y):.1f}" r="3" fill="{_COLOR}"/>' for x, y in zip(xs, ys)]
    for label, level, color in levels:
        parts.append(
            f'<line x1="{left}" x2="{width - right}" y1="{py(level):.1f}" y2="{py(level):.1f}" '
            f'stroke="{color}" stroke-dasharray="5 3"/>'
        )
        parts.append(
            f'<text x="{width - right + 4}" y="{py(level) + 4:.1f}" fill="{color}">{escape(label)} {level:.3f}</text>'
        )
    parts.append(
        f'<text x="{(left + width - right) / 2}" y="{height - 4}" text-anchor="middle">{escape(x_label)}</text>'
    )
    parts.append(f'<text x="12" y="{top_pad + 4}" >{escape(y_label)}</text>')
    parts.append("</svg>")
    return "".join(parts)


def histogram_pair(
    edges: Sequence[float],
    first: Sequence[float],
    second: Sequence[float],
    *,
    names: tuple[str, str] = ("reference", "current"),
    fmt: str = "{:.3g}",
    alert: bool = False,
) -> str:
    """Two histograms on the same bins (``len(edges) - 1`` of them), as shares: ``first``
    drawn solid grey, ``second`` outlined on top (red when ``alert``)."""
    if len(edges) < 2 or not (any(first) or any(second)):
        return "<p class=muted>nothing to show</p>"
    width, height, left, right, top, bottom = _W, 190, 48, 12, 24, 30
    low, high = edges[0], edges[-1]
    span = (high - low) or 1.0
    peak = max([*first, *second, 1e-9]) * 1.1

    def px(x: float) -> float:
        return left + (x - low) / span * (width - left - right)

    def py(share: float) -> float:
        return top + (1 - share / peak) * (height - top - bottom)

    color = _ALERT if alert else _COLOR
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" role="img">',
        _legend(names, (_SECOND, color), left),
    ]
    for values, fill in ((first, f'fill="{_SECOND}"'), (second, f'fill="none" stroke="{color}" stroke-width="1.5"')):
        for x0, x1, share in zip(edges, edges[1:], values):
            if share > 0:
                parts.append(
                    f'<rect x="{px(x0):.1f}" y="{py(share):.1f}" width="{max(px(x1) - px(x0), 0.5):.1f}" '
                    f'height="{py(0) - py(share):.1f}" {fill}/>'
                )
    parts.append(f'<line x1="{left}" x2="{width - right}" y1="{py(0):.1f}" y2="{py(0):.1f}" stroke="{_MUTED}"/>')
    for x, anchor in ((low, "start"), ((low + high) / 2, "middle"), (high, "end")):
        parts.append(
            f'<text x="{px(x):.1f}" y="{height - bottom + 16}" text-anchor="{anchor}">{escape(fmt.format(x))}</text>'
        )
    parts.append(f'<text x="{left - 4}" y="{py(peak / 1.1) + 4:.1f}" text-anchor="end">{peak / 1.1:.0%}</text>')
    parts.append(f'<text x="{left - 4}" y="{py(0) + 4:.1f}" text-anchor="end">0</text>')
    parts.append("</svg>")
    return "".join(parts)


def bar_pair(
    labels: Sequence[str],
    first: Sequence[float],
    second: Sequence[float],
    *,
    names: tuple[str, str] = ("reference", "current"),
    fmt: str = "{:.1%}",
    alert: bool = False,
) -> str:
    """Two horizontal bars per label (categories' shares, say): ``first`` grey above,
    ``second`` below (red when ``alert``), each with its value."""
    if not labels:
        return "<p class=muted>nothing to show</p>"
    bar, gap, top = 12, 10, 24
    plot_w = _W - _LABEL_W - 110
    peak = max([*first, *second, 1e-9])
    height = top + len(labels) * (2 * bar + gap)
    color = _ALERT if alert else _COLOR
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{_W}" height="{height}" role="img">',
        _legend(names, (_SECOND, color), _LABEL_W),
    ]
    for i, (label, a, b) in enumerate(zip(labels, first, second)):
        y = top + i * (2 * bar + gap)
        parts.append(f'<text x="{_LABEL_W - 6}" y="{y + bar + 4}" text-anchor="end">{escape(_clip(label))}</text>')
        for offset, value, fill in ((0, a, _SECOND), (bar, b, color)):
            w = value / peak * plot_w
            parts.append(f'<rect x="{_LABEL_W}" y="{y + offset}" width="{w:.1f}" height="{bar}" fill="{fill}"/>')
            parts.append(
                f'<text x="{_LABEL_W + w + 4:.1f}" y="{y + offset + bar - 2}">{escape(fmt.format(value))}</text>'
            )
    parts.append("</svg>")
    return "".join(parts)


def series_chart(
    days: Sequence[int],
    series: dict[str, Sequence[float | None]],
    *,
    markers: Sequence[tuple[float, str]] = (),
    levels: Sequence[tuple[str, float]] = (),
    y_format: str = "{:.2f}",
    step: bool = False,
    height: int = 240,
) -> str:
    """Lines over days (a gap where a value is None), dashed vertical ``markers`` (day,
    label) and horizontal ``levels`` (label, y). ``step`` draws a staircase (versions)."""
    values = [v for ys in series.values() for v in ys if v is not None] + [y for _, y in levels]
    if not days or not values:
        return "<p class=muted>nothing to show</p>"
    width, left, right, top, bottom = 960, 56, 250, 14, 30  # the legend sits on the right
    low, high = min(values), max(values)
    pad = (high - low) * 0.08 or 0.5
    low, high = low - pad, high + pad
    first, last = days[0], max(days[-1], days[0] + 1)

    def px(day: float) -> float:
        return left + (day - first) / (last - first) * (width - left - right)

    def py(y: float) -> float:
        return top + (high - y) / (high - low) * (height - top - bottom)

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" role="img">',
        f'<line x1="{left}" x2="{width - right}" y1="{height - bottom}" y2="{height - bottom}" stroke="{_MUTED}"/>',
    ]
    for tick in (low + pad, (low + high) / 2, high - pad):
        parts.append(
            f'<text x="{left - 4}" y="{py(tick) + 4:.1f}" text-anchor="end">{escape(y_format.format(tick))}</text>'
        )
    for day in range(first, last + 1, 5 if last - first > 20 else 1):
        parts.append(f'<text x="{px(day):.1f}" y="{height - bottom + 15}" text-anchor="middle">{day}</text>')
    for day, label in markers:
        parts.append(
            f'<line x1="{px(day):.1f}" x2="{px(day):.1f}" y1="{top}" y2="{height - bottom}" '
            f'stroke="{_MUTED}" stroke-dasharray="4 3"/>'
            f'<text x="{px(day) + 3:.1f}" y="{top + 10}" fill="#666">{escape(label)}</text>'
        )
    for label, y in levels:
        parts.append(
            f'<line x1="{left}" x2="{width - right}" y1="{py(y):.1f}" y2="{py(y):.1f}" stroke="{_ALERT}" '
            f'stroke-dasharray="6 3"/><text x="{width - right + 4}" y="{py(y) + 4:.1f}" fill="{_ALERT}">'
            f"{escape(label)}</text>"
        )
    for index, (name, ys) in enumerate(series.items()):
        color = _PALETTE[index % len(_PALETTE)]
        for run in _runs(days, ys):
            points = []
            for (day, y), following in zip(run, [*run[1:], None]):
                points.append((px(day), py(y)))
                if step and following is not None:
                    points.append((px(following[0]), py(y)))
            parts.append(
                f'<polyline fill="none" stroke="{color}" stroke-width="2" points="'
                + " ".join(f"{x:.1f},{y:.1f}" for x, y in points)
                + '"/>'
            )
        parts.append(
            f'<text x="{width - right + 4}" y="{top + 14 + 16 * index + 16 * len(levels)}" fill="{color}">'
            f"{escape(name)}</text>"
        )
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


def _legend(names: tuple[str, str], colors: tuple[str, str], x: float) -> str:
    return "".join(
        f'<rect x="{x + i * 120}" y="4" width="12" height="12" fill="{color}"/>'
        f'<text x="{x + i * 120 + 16}" y="14">{escape(name)}</text>'
        for i, (name, color) in enumerate(zip(names, colors))
    )


def _clip(label: str, length: int = 24) -> str:
    return label if len(label) <= length else label[: length - 1] + "…"
