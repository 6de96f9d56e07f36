"""The one shape every report's service can hand to ``reports html`` (and to ``--chart``).

A ``ReportResult`` is plain data: ``rows`` are dicts keyed by ``columns``; the names in
``money_columns`` hold integers in minor units of the row's ``currency`` (or, when a row has no
``currency``, of ``totals["currency"]``); ``totals`` are the report's sums (never a row);
``series`` is what a chart draws, name → ``[(bucket label, integer), …]`` in axis order, or None
for a report without a time axis.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class ReportResult:
    title: str
    columns: list[str]
    rows: list[dict[str, Any]]
    totals: dict[str, Any] = field(default_factory=dict)
    series: dict[str, list[tuple[str, int]]] | None = None
    money_columns: list[str] = field(default_factory=list)
