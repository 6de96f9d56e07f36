"""A small SVG bar chart renderer for the HTML report: no library, no script, no network.

``bar_chart(series)`` draws grouped vertical bars, one group per bucket label, one colour per
series, on one integer scale (the largest magnitude fills the plot; negative values hang below
the zero line). Every bar carries a ``<title>`` with its exact value, the axis shows the maximum,
and every text is XML-escaped. Pure: strings in, a string out.
"""

from __future__ import annotations

from collections.abc import Callable
from html import escape

WIDTH = 760
HEIGHT = 260
PLOT_TOP = 24
PLOT_BOTTOM = 200
PLOT_LEFT = 64
PLOT_RIGHT = 16
COLOURS = ("#2f6fb0", "#d9822b", "#3a9a5b", "#9b4dca", "#c23b3b")


def _labels(series: dict[str, list[tuple[str, int]]]) -> list[str]:
    return sorted({label for points in series.values() for label, _ in points})


def bar_chart(
    series: dict[str, list[tuple[str, int]]],
    *,
    title: str = "",
    shown: Callable[[int], str] = str,
) -> str:
    """The series as an inline ``<svg>`` element (see the module docstring)."""
    labels = _labels(series)
    names = list(series)
    values = {name: dict(points) for name, points in series.items()}
    largest = max((abs(v) for points in series.values() for _, v in points), default=0) or 1
    has_negative = any(v < 0 for points in series.values() for _, v in points)
    zero = (PLOT_TOP + PLOT_BOTTOM) // 2 if has_negative else PLOT_BOTTOM
    room = zero - PLOT_TOP
    plot_width = WIDTH - PLOT_LEFT - PLOT_RIGHT
    group = plot_width // max(len(labels), 1)
    bar = max(1, (group - 4) // max(len(names), 1))
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" width="{WIDTH}" height="{HEIGHT}"'
        f' viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label="{escape(title)}">',
        f'<text x="{PLOT_LEFT}" y="14" class="chart-title">{escape(title)}</text>',
        f'<line x1="{PLOT_LEFT}" y1="{zero}" x2="{WIDTH - PLOT_RIGHT}" y2="{zero}" stroke="#555"/>',
        f'<line x1="{PLOT_LEFT}" y1="{PLOT_TOP}" x2="{PLOT_LEFT}" y2="{PLOT_BOTTOM}" stroke="#555"/>',
        f'<text x="{PLOT_LEFT - 4}" y="{PLOT_TOP + 4}" text-anchor="end" font-size="10">'
        f"{escape(shown(largest))}</text>",
        f'<text x="{PLOT_LEFT - 4}" y="{zero + 4}" text-anchor="end" font-size="10">0</text>',
    ]
    step = max(1, len(labels) // 12)  # at most ~12 axis labels; every bar keeps its title
    for index, label in enumerate(labels):
        left = PLOT_LEFT + index * group + 2
        for position, name in enumerate(names):
            value = values[name].get(label, 0)
            height = (abs(value) * room + largest // 2) // largest
            top = zero - height if value >= 0 else zero
            colour = COLOURS[position % len(COLOURS)]
            parts.append(
                f'<rect x="{left + position * bar}" y="{top}" width="{bar}" height="{height}"'
                f' fill="{colour}"><title>{escape(f"{label} {name}: {shown(value)}")}</title></rect>'
            )
        if index % step == 0:
            parts.append(
                f'<text x="{left}" y="{PLOT_BOTTOM + 14}" font-size="10">{escape(label)}</text>'
            )
    for position, name in enumerate(names):
        x = PLOT_LEFT + position * 150
        colour = COLOURS[position % len(COLOURS)]
        parts.append(
            f'<rect x="{x}" y="{HEIGHT - 22}" width="10" height="10" fill="{colour}"/>'
            f'<text x="{x + 14}" y="{HEIGHT - 13}" font-size="11">{escape(name)}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)
