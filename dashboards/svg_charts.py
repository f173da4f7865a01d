"""Small inline-SVG charts for the snapshot report: no script, no external file, no dependency.

Each chart is drawn for the pixel size of its dashboard cell, so text keeps its size whatever the
card's shape.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import datetime
from html import escape

ACCENT = "#509ee3"  # Metabase's default series colour, so the snapshot reads like the dashboard
GRID = "#e6e9ee"
TEXT = "#4c5773"
FONT = 'font-family="Lato, Helvetica Neue, Arial, sans-serif"'


def line_chart(points: Sequence[tuple[datetime, float]], width: int, height: int, y_title: str = "") -> str:
    """A time series (at least one point): y from zero to a round maximum, a few HH:MM labels along x."""
    left, right, top, bottom = 56, 16, 12, 30
    plot_w, plot_h = max(width - left - right, 1), max(height - top - bottom, 1)
    y_max = nice_ceiling(max((value for _, value in points), default=0))
    start, end = points[0][0], points[-1][0]
    span = (end - start).total_seconds() or 1.0

    def x(moment: datetime) -> float:
        # A single point sits in the middle rather than on the axis.
        return left + (plot_w / 2 if len(points) == 1 else plot_w * (moment - start).total_seconds() / span)

    def y(value: float) -> float:
        return top + plot_h * (1 - value / y_max)

    parts = [_svg_open(width, height)]
    for step in range(5):
        value = y_max * step / 4
        parts.append(
            f'<line x1="{left}" x2="{left + plot_w}" y1="{y(value):.1f}" y2="{y(value):.1f}" stroke="{GRID}"/>'
        )
        parts.append(_text(left - 8, y(value) + 4, format_number(value), anchor="end"))
    for index in _evenly_spaced(len(points), max(2, plot_w // 110)):
        moment = points[index][0]
        parts.append(_text(x(moment), top + plot_h + 20, moment.strftime("%H:%M"), anchor="middle"))
    coordinates = " ".join(f"{x(moment):.1f},{y(value):.1f}" for moment, value in points)
    baseline = f"{x(end):.1f},{top + plot_h:.1f} {x(start):.1f},{top + plot_h:.1f}"
    parts.append(f'<polygon points="{coordinates} {baseline}" fill="{ACCENT}" fill-opacity="0.12"/>')
    parts.append(
        f'<polyline points="{coordinates}" fill="none" stroke="{ACCENT}" stroke-width="2.5" stroke-linejoin="round"/>'
    )
    if len(points) <= 60:
        parts += [f'<circle cx="{x(m):.1f}" cy="{y(v):.1f}" r="2.5" fill="{ACCENT}"/>' for m, v in points]
    if y_title:
        parts.append(
            f'<text transform="translate(14 {top + plot_h / 2:.1f}) rotate(-90)" text-anchor="middle" '
            f'fill="{TEXT}" font-size="12" {FONT}>{escape(y_title)}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


def bar_chart(items: Sequence[tuple[str, float]], width: int, height: int) -> str:
    """Horizontal bars, largest scale first as given, labels on the left and values at the bar ends."""
    label_w = min(int(width * 0.38), 260)
    value_w, top = 56, 4
    rows = max(len(items), 1)
    row_h = min((height - top) / rows, 34)
    bar_h = max(row_h * 0.68, 4)
    largest = max((value for _, value in items), default=0) or 1
    plot_w = max(width - label_w - value_w, 1)
    max_chars = max(label_w // 7, 4)
    parts = [_svg_open(width, height)]
    for index, (label, value) in enumerate(items):
        y_mid = top + row_h * index + row_h / 2
        short = label if len(label) <= max_chars else label[: max_chars - 1] + "…"
        bar = plot_w * value / largest
        # A shortened label keeps the full one as a tooltip.
        tooltip = f"<title>{escape(label)}</title>" if short != label else ""
        parts.append(f"<g>{tooltip}{_text(label_w - 8, y_mid + 4, short, anchor='end')}</g>")
        parts.append(
            f'<rect x="{label_w}" y="{y_mid - bar_h / 2:.1f}" width="{max(bar, 1):.1f}" '
            f'height="{bar_h:.1f}" rx="2" fill="{ACCENT}"/>'
        )
        parts.append(_text(label_w + bar + 6, y_mid + 4, format_number(value), anchor="start", weight="bold"))
    parts.append("</svg>")
    return "".join(parts)


def nice_ceiling(value: float) -> float:
    """The smallest 1, 2, 2.5 or 5 times a power of ten that is at least value (1 for nothing)."""
    if value <= 0:
        return 1.0
    magnitude = 10 ** math.floor(math.log10(value))
    return next(step * magnitude for step in (1, 2, 2.5, 5, 10) if step * magnitude >= value)


def format_number(value: float) -> str:
    if float(value).is_integer():
        return f"{int(value):,}"
    return f"{value:,.2f}" if abs(value) < 100 else f"{value:,.0f}"


def _evenly_spaced(count: int, slots: int) -> list[int]:
    if count <= slots:
        return list(range(count))
    return sorted({round(i * (count - 1) / (slots - 1)) for i in range(slots)})


def _svg_open(width: int, height: int) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
        f'width="{width}" height="{height}" role="img">'
    )


def _text(x: float, y: float, content: str, anchor: str, weight: str = "normal") -> str:
    return (
        f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}" fill="{TEXT}" font-size="12" '
        f'font-weight="{weight}" {FONT}>{escape(content)}</text>'
    )
