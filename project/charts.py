"""Small server-rendered SVG charts for the operator dashboard: pure functions, no scripts, no queries."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime

from django.utils import timezone
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe


@dataclass(frozen=True)
class Series:
    """One stacked layer of a bar chart: a name, a fill colour and one value per bar."""

    name: str
    color: str
    values: Sequence[int]


def _hhmm(moment: datetime) -> str:
    return f"{timezone.localtime(moment):%H:%M}" if timezone.is_aware(moment) else f"{moment:%H:%M}"


def stacked_bars_svg(
    *,
    minutes: Sequence[datetime],
    series: Sequence[Series],
    width: int = 720,
    height: int = 170,
    empty_text: str = "Nothing in this window.",
) -> SafeString:
    """A stacked bar per minute, the series bottom to top; each bar carries its counts as data attributes.

    The y axis is scaled to the tallest bar; the x axis labels the first minute, every 15th, and the last.
    """
    left, right, top, bottom = 34, 6, 8, 20
    plot_w, plot_h = width - left - right, height - top - bottom
    n = len(minutes)
    totals = [sum(s.values[i] for s in series) for i in range(n)]
    peak = max(totals, default=0)
    scale = plot_h / peak if peak else 0.0
    slot = plot_w / n if n else plot_w
    bar_w = max(slot - 1.5, 1.0)
    parts = [
        f'<svg class="tj-chart" xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label="Jobs finished per minute">',
        f'<line class="tj-axis" x1="{left}" y1="{top + plot_h}" x2="{left + plot_w}" y2="{top + plot_h}"/>',
        f'<text x="{left - 4}" y="{top + 8}" text-anchor="end">{peak}</text>',
        f'<text x="{left - 4}" y="{top + plot_h}" text-anchor="end">0</text>',
    ]
    for i, minute in enumerate(minutes):
        label = _hhmm(minute)
        counts = {s.name: s.values[i] for s in series}
        summary = ", ".join(f"{value} {name}" for name, value in counts.items() if value) or "none"
        data = " ".join(f'data-{escape(name)}="{value}"' for name, value in counts.items())
        x = left + i * slot
        parts.append(f'<g class="tj-bar" data-minute="{label}" {data}><title>{label}: {escape(summary)}</title>')
        y = float(top + plot_h)
        for s in series:
            value = s.values[i]
            if value:
                h = value * scale
                y -= h
                parts.append(
                    f'<rect x="{x:.1f}" y="{y:.1f}" width="{bar_w:.1f}" height="{h:.1f}" fill="{escape(s.color)}"/>'
                )
        parts.append("</g>")
        if i in (0, n - 1) or i % 15 == 0:
            anchor = "end" if i == n - 1 else "start" if i == 0 else "middle"
            text_x = x + bar_w if i == n - 1 else x
            parts.append(f'<text x="{text_x:.1f}" y="{height - 5}" text-anchor="{anchor}">{label}</text>')
    if not peak:
        parts.append(
            f'<text class="tj-empty" x="{left + plot_w / 2:.1f}" y="{top + plot_h / 2:.1f}" '
            f'text-anchor="middle">{escape(empty_text)}</text>'
        )
    parts.append("</svg>")
    return mark_safe("".join(parts))  # every interpolated text above is a number or escaped


def sparkline_svg(
    *, weeks: Sequence[date], values: Sequence[int], width: int = 130, height: int = 28, color: str = "#417690"
) -> SafeString:
    """One thin bar per week, scaled to the busiest week; hovering a bar names its week and count."""
    n = len(values)
    peak = max(values, default=0)
    slot = width / n if n else width
    bar_w = max(slot - 1.0, 1.0)
    joined = ",".join(str(v) for v in values)
    parts = [
        f'<svg class="tj-spark" xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" data-weeks="{joined}" '
        f'aria-label="Shipments per week: {joined}">',
        f'<line class="tj-axis" x1="0" y1="{height - 0.5}" x2="{width}" y2="{height - 0.5}"/>',
    ]
    for i, (week, value) in enumerate(zip(weeks, values, strict=True)):
        h = (value / peak) * (height - 2) if peak else 0.0
        parts.append(
            f'<rect x="{i * slot:.1f}" y="{height - 1 - h:.1f}" width="{bar_w:.1f}" height="{max(h, 0.0):.1f}" '
            f'fill="{escape(color)}"><title>Week of {week:%Y-%m-%d}: {value}</title></rect>'
        )
    parts.append("</svg>")
    return mark_safe("".join(parts))  # numbers, dates and an escaped colour only
