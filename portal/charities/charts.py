"""Bar charts as server-rendered SVG markup: no script, no third party, nothing to fetch.

The markup goes straight into the operators' statistics page, so the page's strict CSP
holds (presentation attributes, no style attributes). Each chart has an accessible name,
and the page shows the same numbers in a table.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from django.utils.html import escape

# Colour-blind-safe palette (Okabe and Ito, "Color Universal Design", 2008).
PALETTE = ["#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442"]

WIDTH, HEIGHT = 760, 220
LEFT, RIGHT, TOP, BOTTOM = 44, 8, 10, 28


@dataclass(frozen=True)
class Series:
    name: str
    # One value a day, None where the count was too small to show (suppressed).
    values: list[int | None]


def colour(index: int) -> str:
    return PALETTE[index % len(PALETTE)]


def stacked_bars_svg(*, title: str, days: list[date], series: list[Series]) -> str:
    """Stacked daily bars; suppressed values draw nothing (and are 'fewer than N' in the table)."""
    totals = [sum(s.values[i] or 0 for s in series) for i in range(len(days))]
    peak = max([*totals, 1])
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    step = plot_w / max(len(days), 1)
    bar = max(step * 0.75, 1)
    parts = [
        f'<svg class="chart" role="img" aria-label="{escape(title)}" viewBox="0 0 {WIDTH} {HEIGHT}"'
        f' width="{WIDTH}" height="{HEIGHT}" xmlns="http://www.w3.org/2000/svg">',
        f'<line x1="{LEFT}" y1="{TOP + plot_h}" x2="{WIDTH - RIGHT}" y2="{TOP + plot_h}"'
        ' stroke="#555" stroke-width="1"/>',
        f'<text x="{LEFT - 6}" y="{TOP + 10}" text-anchor="end" font-size="11" fill="#333">'
        f"{peak}</text>",
        f'<text x="{LEFT - 6}" y="{TOP + plot_h}" text-anchor="end" font-size="11"'
        ' fill="#333">0</text>',
    ]
    for i, day in enumerate(days):
        x = LEFT + i * step + (step - bar) / 2
        y = float(TOP + plot_h)
        for index, s in enumerate(series):
            value = s.values[i] or 0
            if not value:
                continue
            h = plot_h * value / peak
            y -= h
            parts.append(
                f'<rect x="{x:.1f}" y="{y:.1f}" width="{bar:.1f}" height="{h:.1f}"'
                f' fill="{colour(index)}">'
                f"<title>{escape(s.name)} {day:%d %b}: {value}</title></rect>"
            )
        if (i % 7 == 0 and len(days) - 1 - i >= 4) or i == len(days) - 1:
            parts.append(
                f'<text x="{LEFT + i * step + step / 2:.1f}" y="{HEIGHT - 8}" text-anchor="middle"'
                f' font-size="11" fill="#333">{day:%d %b}</text>'
            )
    parts.append("</svg>")
    return "".join(parts)


def swatch_svg(index: int) -> str:
    """A small square in a series' colour, for the legend."""
    return (
        '<svg width="12" height="12" aria-hidden="true" focusable="false">'
        f'<rect width="12" height="12" fill="{colour(index)}"/></svg>'
    )


def lines_svg(*, title: str, days: list[date], series: list[Series]) -> str:
    """One line a series over the days (e.g. each platform's feed lag); gaps where None."""
    values = [v for s in series for v in s.values if v is not None]
    peak = max([*values, 1])
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    step = plot_w / max(len(days) - 1, 1)
    parts = [
        f'<svg class="chart" role="img" aria-label="{escape(title)}" viewBox="0 0 {WIDTH} {HEIGHT}"'
        f' width="{WIDTH}" height="{HEIGHT}" xmlns="http://www.w3.org/2000/svg">',
        f'<line x1="{LEFT}" y1="{TOP + plot_h}" x2="{WIDTH - RIGHT}" y2="{TOP + plot_h}"'
        ' stroke="#555" stroke-width="1"/>',
        f'<text x="{LEFT - 6}" y="{TOP + 10}" text-anchor="end" font-size="11" fill="#333">'
        f"{peak}</text>",
        f'<text x="{LEFT - 6}" y="{TOP + plot_h}" text-anchor="end" font-size="11"'
        ' fill="#333">0</text>',
    ]
    for index, s in enumerate(series):
        points = [
            (LEFT + i * step, TOP + plot_h - plot_h * v / peak)
            for i, v in enumerate(s.values)
            if v is not None
        ]
        if points:
            path = " ".join(f"{x:.1f},{y:.1f}" for x, y in points)
            parts.append(
                f'<polyline points="{path}" fill="none" stroke="{colour(index)}"'
                f' stroke-width="2"><title>{escape(s.name)}</title></polyline>'
            )
        # A dot per sample, so a single day still shows.
        parts.extend(
            f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3" fill="{colour(index)}"/>' for x, y in points
        )
    for i, day in enumerate(days):
        if (i % 7 == 0 and len(days) - 1 - i >= 4) or i == len(days) - 1:
            anchor = "end" if i == len(days) - 1 else "middle"
            parts.append(
                f'<text x="{LEFT + i * step:.1f}" y="{HEIGHT - 8}" text-anchor="{anchor}"'
                f' font-size="11" fill="#333">{day:%d %b}</text>'
            )
    parts.append("</svg>")
    return "".join(parts)
