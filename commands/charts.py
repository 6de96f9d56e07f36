"""Terminal bar charts for reports with a time axis (``--chart``), drawn with Rich.

A minimal version: reports-ops owns the full renderer with this same signature.
"""

from collections.abc import Sequence
from typing import Any


def render_chart(
    rows: Sequence[dict[str, Any]], label_key: str, value_keys: Sequence[str], currency: str
) -> None:
    """One bar per row and value, scaled to the largest absolute value; amounts formatted."""
    from rich.console import Console
    from rich.table import Table

    from legato_pay.money import format_amount

    values = [abs(int(row.get(key) or 0)) for row in rows for key in value_keys]
    widest = max(values, default=0) or 1
    table = Table(show_header=True, box=None)
    table.add_column(label_key)
    table.add_column("series")
    table.add_column("bar")
    table.add_column("amount", justify="right")
    for row in rows:
        for key in value_keys:
            value = int(row.get(key) or 0)
            bar = "█" * (abs(value) * 40 // widest)
            table.add_row(str(row[label_key]), key, bar, format_amount(value, currency))
    Console(no_color=None).print(table)
