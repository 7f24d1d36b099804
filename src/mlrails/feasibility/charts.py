"""Small inline SVG charts for the HTML report: no plotting library, no external files."""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

_W, _BAR_H, _LABEL_W = 560, 20, 170
_COLOR, _ALERT, _MUTED = "#3b6ea8", "#c0392b", "#888"


def bar_chart(labels: Sequence[str], values: Sequence[float], *, threshold: float | None = None,
              maximum: float | None = None, fmt: str = "{:.1%}", alert_at: float | None = None) -> str:
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
        parts.append(f'<line x1="{x:.1f}" x2="{x:.1f}" y1="0" y2="{height}" stroke="{_MUTED}" '
                     'stroke-dasharray="4 3"/>')
    parts.append("</svg>")
    return "".join(parts)


def line_chart(xs: Sequence[float], ys: Sequence[float], errors: Sequence[float], *,
               levels: Sequence[tuple[str, float, str]] = (), x_label: str = "", y_label: str = "") -> str:
    """One line with a ±error band, and horizontal reference lines ``(label, y, color)``."""
    if not xs:
        return "<p class=muted>nothing to show</p>"
    width, height, left, bottom, top_pad, right = _W, 260, 56, 36, 12, 120
    all_y = [*ys, *(y + e for y, e in zip(ys, errors)), *(y - e for y, e in zip(ys, errors)),
             *(level for _, level, _ in levels)]
    low, high = min(all_y), max(all_y)
    pad = (high - low) * 0.1 or 0.05
    low, high = low - pad, high + pad
    x_max = max(xs) or 1

    def px(x: float) -> float:
        return left + x / x_max * (width - left - right)

    def py(y: float) -> float:
        return top_pad + (high - y) / (high - low) * (height - top_pad - bottom)

    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" role="img">',
             f'<line x1="{left}" x2="{left}" y1="{top_pad}" y2="{height - bottom}" stroke="{_MUTED}"/>',
             f'<line x1="{left}" x2="{width - right}" y1="{height - bottom}" y2="{height - bottom}" stroke="{_MUTED}"/>']
    for tick in (low + pad, (low + high) / 2, high - pad):
        parts.append(f'<text x="{left - 4}" y="{py(tick) + 4:.1f}" text-anchor="end">{tick:.3f}</text>')
    for x in xs:
        parts.append(f'<text x="{px(x):.1f}" y="{height - bottom + 16}" text-anchor="middle">{x:,.0f}</text>')
    band = [(px(x), py(y + e)) for x, y, e in zip(xs, ys, errors)] + \
           [(px(x), py(y - e)) for x, y, e in reversed(list(zip(xs, ys, errors)))]
    parts.append('<polygon fill="#3b6ea833" points="' + " ".join(f"{a:.1f},{b:.1f}" for a, b in band) + '"/>')
    parts.append(f'<polyline fill="none" stroke="{_COLOR}" stroke-width="2" points="'
                 + " ".join(f"{px(x):.1f},{py(y):.1f}" for x, y in zip(xs, ys)) + '"/>')
    parts += [f'<circle cx="{px(x):.1f}" cy="{py(y):.1f}" r="3" fill="{_COLOR}"/>' for x, y in zip(xs, ys)]
    for label, level, color in levels:
        parts.append(f'<line x1="{left}" x2="{width - right}" y1="{py(level):.1f}" y2="{py(level):.1f}" '
                     f'stroke="{color}" stroke-dasharray="5 3"/>')
        parts.append(f'<text x="{width - right + 4}" y="{py(level) + 4:.1f}" fill="{color}">'
                     f'{escape(label)} {level:.3f}</text>')
    parts.append(f'<text x="{(left + width - right) / 2}" y="{height - 4}" text-anchor="middle">{escape(x_label)}</text>')
    parts.append(f'<text x="12" y="{top_pad + 4}" >{escape(y_label)}</text>')
    parts.append("</svg>")
    return "".join(parts)


def _clip(label: str, length: int = 24) -> str:
    return label if len(label) <= length else label[: length - 1] + "…"
