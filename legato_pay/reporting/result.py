"""The one shape every report hands to a renderer (table, JSON, CSV, chart, HTML).

``rows`` are plain dicts (money as ``…_minor`` integers beside a ``currency``), ``totals`` the
sums the renderer prints under a table (never a data row), ``series`` label → [(x, value)] for a
time-axis chart (None for a report without one), ``money_columns`` the row keys that are money.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class ReportResult:
    title: str
    columns: list[str]
    rows: list[dict[str, Any]]
    totals: dict[str, Any]
    series: dict[str, list[tuple[str, int]]] | None
    money_columns: list[str]
