"""``--chart``: horizontal bar charts in the terminal for any report with a time axis.

``render_chart(rows, label_key, value_keys, currency)`` prints one block per bucket
(``row[label_key]``), one bar per value key, all bars on one scale (the largest magnitude
fills the width). Each bar ends with its exact amount (``money_cell`` when ``currency`` is
given, else the integer), so nothing is read off the bar alone. Bars are drawn with a
different glyph per series (``█ ▓ ▒ ▞``) and a legend, so they still read under ``NO_COLOR``;
negative values (refunds, reversals) are drawn with ``░``. On a terminal too narrow for a bar,
the label and the exact amount are printed without one.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

GLYPHS = ("█", "▓", "▒", "▞")
NEGATIVE = "░"
COLOURS = ("cyan", "magenta", "green", "yellow")
#: A bar narrower than this is not worth drawing.
MIN_BAR = 4


def _amount(value: int, currency: str | None) -> str:
    if currency is None:
        return str(value)
    from commands.output import money_cell

    return money_cell(value, currency)


def bar_length(value: int, largest: int, space: int) -> int:
    """Cells for ``value`` when ``largest`` fills ``space``: rounded half up in integers; any
    non-zero value gets at least one cell."""
    if value == 0 or largest == 0 or space <= 0:
        return 0
    return max(1, (abs(value) * space + largest // 2) // largest)


def chart_lines(
    rows: Sequence[dict[str, Any]],
    label_key: str,
    value_keys: Sequence[str],
    currency: str | None,
    width: int,
) -> list[tuple[str, str, str, int]]:
    """The chart as ``(prefix, bar, amount, series index)`` lines for a ``width``-cell screen."""
    values = [[int(row.get(key) or 0) for key in value_keys] for row in rows]
    largest = max((abs(v) for line in values for v in line), default=0)
    labels = [str(row.get(label_key, "")) for row in rows]
    names = list(value_keys) if len(value_keys) > 1 else [""]
    label_w = max((len(label) for label in labels), default=0)
    name_w = max(len(name) for name in names)
    amounts = [[_amount(v, currency) for v in line] for line in values]
    amount_w = max((len(a) for line in amounts for a in line), default=0)
    fixed = label_w + (name_w + 1 if name_w else 0) + amount_w + 2
    space = width - fixed
    space = space if space >= MIN_BAR else 0
    lines: list[tuple[str, str, str, int]] = []
    for label, line, shown in zip(labels, values, amounts, strict=True):
        for index, (value, amount) in enumerate(zip(line, shown, strict=True)):
            head = label if index == 0 else ""
            name = f" {names[index]:<{name_w}}" if name_w else ""
            glyph = NEGATIVE if value < 0 else GLYPHS[index % len(GLYPHS)]
            bar = glyph * bar_length(value, largest, space)
            lines.append((f"{head:<{label_w}}{name} ", bar, amount, index))
    return lines


def render_chart(
    rows: Sequence[dict[str, Any]],
    label_key: str,
    value_keys: Sequence[str],
    currency: str | None,
) -> None:
    """Print ``rows`` as horizontal bars (see the module docstring) on stdout."""
    from rich.console import Console
    from rich.text import Text

    from commands.output import no_color

    plain = no_color()
    console = Console(no_color=plain, highlight=False, color_system=None if plain else "auto")
    if not rows:
        console.print("(nothing to chart)")
        return
    if len(value_keys) > 1:
        legend = "  ".join(f"{GLYPHS[i % len(GLYPHS)]} {key}" for i, key in enumerate(value_keys))
        console.print(legend)
    for prefix, bar, amount, index in chart_lines(
        rows, label_key, value_keys, currency, console.width
    ):
        text = Text(prefix)
        text.append(bar, style="" if plain else COLOURS[index % len(COLOURS)])
        text.append(f" {amount}" if bar else amount)
        console.print(text, overflow="fold", soft_wrap=False)
