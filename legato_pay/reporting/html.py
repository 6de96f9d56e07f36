"""``reports html``: every report section in one self-contained HTML file.

The page is built from ``ReportResult``s only, so any report can be a section: ``SECTIONS``
lists ``(name, builder)``; a builder takes ``(session, SectionRequest)`` (window, ``--by``,
``--currency``, settings) and returns the section's results. Each result becomes a heading, a table (amounts in ``money_columns``
formatted in the row's currency, totals under it) and, when it has a ``series``, an inline SVG
chart (``svg.bar_chart``). No script, no stylesheet or font from elsewhere: the file opens the
same offline. Every text from the data is HTML-escaped.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from html import escape
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from legato_pay.config import Settings
from legato_pay.errors import InvalidInput
from legato_pay.money import format_amount
from legato_pay.reporting.coins import coins_report
from legato_pay.reporting.fx import fx_report
from legato_pay.reporting.gateways import gateways_report
from legato_pay.reporting.periods import Window
from legato_pay.reporting.platform import platform_report
from legato_pay.reporting.result import ReportResult
from legato_pay.reporting.svg import bar_chart
from legato_pay.reporting.writers import writers_report


@dataclass(frozen=True)
class SectionRequest:
    """What every section is built for: the window, the ``--by`` axis, the ``--currency``
    filter (None: all) and the settings (for reports that read configuration)."""

    window: Window
    by: str
    currency: str | None
    settings: Settings


SectionBuilder = Callable[[Session, SectionRequest], list[ReportResult]]


def gateways_section(session: Session, request: SectionRequest) -> list[ReportResult]:
    return gateways_report(
        session, window=request.window, currency=request.currency, by=request.by
    ).results()


def fx_section(session: Session, request: SectionRequest) -> list[ReportResult]:
    return fx_report(
        session, window=request.window, currency=request.currency, by=request.by
    ).results()


def platform_section(session: Session, request: SectionRequest) -> list[ReportResult]:
    return [
        platform_report(
            session,
            window=request.window,
            by=request.by,
            convert_to=request.settings.base_currency,
            currency=request.currency,
        ).result()
    ]


def writers_section(session: Session, request: SectionRequest) -> list[ReportResult]:
    return [writers_report(session, window=request.window, currency=request.currency).result()]


def coins_section(session: Session, request: SectionRequest) -> list[ReportResult]:
    return [coins_report(request.settings, session, at=request.window.end).result()]


#: The page's sections, in order.
SECTIONS: list[tuple[str, SectionBuilder]] = [
    ("platform", platform_section),
    ("writers", writers_section),
    ("gateways", gateways_section),
    ("coins", coins_section),
    ("fx", fx_section),
]

_STYLE = """
body{font-family:system-ui,-apple-system,Segoe UI,sans-serif;margin:24px;color:#222;background:#fff}
h1{font-size:22px}h2{font-size:18px;border-bottom:2px solid #2f6fb0;padding-bottom:4px;margin-top:32px}
h3{font-size:15px;margin-top:20px}table{border-collapse:collapse;margin:8px 0;font-size:13px}
th,td{border:1px solid #ccc;padding:3px 8px;text-align:left}td.num{text-align:right}
th{background:#eef3f9}tfoot td{font-weight:bold;background:#f6f6f6}p.empty{color:#777}
svg.chart{display:block;margin:8px 0}.chart-title{font-size:12px;font-weight:bold}
"""


def cell(value: Any, column: str, row: dict[str, Any], result: ReportResult) -> str:
    """One table cell's text (escaped by the caller): money formatted, None as a dash."""
    if value is None:
        return "—"
    if column in result.money_columns and isinstance(value, int):
        currency = row.get("currency") or result.totals.get("currency")
        return format_amount(value, str(currency)) if currency else str(value)
    return str(value)


def _table(result: ReportResult) -> str:
    if not result.rows:
        return '<p class="empty">nothing in this period</p>'
    head = "".join(f"<th>{escape(c.removesuffix('_minor'))}</th>" for c in result.columns)
    body = []
    for row in result.rows:
        cells = []
        for column in result.columns:
            value = row.get(column)
            kind = ' class="num"' if isinstance(value, int) else ""
            cells.append(f"<td{kind}>{escape(cell(value, column, row, result))}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    foot = ""
    if result.totals:
        text = ", ".join(f"{k}: {v}" for k, v in result.totals.items())
        foot = f'<tfoot><tr><td colspan="{len(result.columns)}">total — {escape(text)}</td></tr></tfoot>'
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody>{foot}</table>"


def render_result(result: ReportResult) -> str:
    parts = [f"<h3>{escape(result.title)}</h3>"]
    if result.series and any(result.series.values()):
        parts.append(bar_chart(result.series, title=result.title))
    parts.append(_table(result))
    return "".join(parts)


def render_page(
    title: str, window: Window, sections: Sequence[tuple[str, list[ReportResult]]]
) -> str:
    """The whole document."""
    made = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    body = [
        f"<h1>{escape(title)}</h1>",
        f"<p>period {escape(window.label)} · generated {escape(made)}</p>",
    ]
    for name, results in sections:
        body.append(f'<section id="{escape(name)}"><h2>{escape(name)}</h2>')
        body.extend(render_result(result) for result in results)
        body.append("</section>")
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{escape(title)}</title><style>{_STYLE}</style></head>"
        f"<body>{''.join(body)}</body></html>\n"
    )


def _unwritable(out: Path, error: OSError) -> InvalidInput:
    return InvalidInput(
        f"cannot write {out}: {error.strerror or type(error).__name__}",
        details={"out": str(out)[:300]},
    )


def _checked_target(out: Path) -> Path:
    """``out`` if the report may be written there (see ``write_report``)."""
    if not out.parent.is_dir():
        raise InvalidInput(
            f"cannot write {out}: no such directory", details={"out": str(out)[:300]}
        )
    if (out.exists() or out.is_symlink()) and not out.is_file():
        raise InvalidInput(
            f"cannot write {out}: not a regular file", details={"out": str(out)[:300]}
        )
    return out


@dataclass(frozen=True, slots=True)
class Written:
    path: Path
    sections: list[str]
    size: int


def write_report(
    session: Session,
    out: Path,
    request: SectionRequest,
    *,
    sections: Sequence[tuple[str, SectionBuilder]] | None = None,
) -> Written:
    """Build every section and write the page to ``out`` atomically (a temporary file in the
    same directory, renamed over it). A directory that does not exist, a path that is not a
    regular file (a directory, a device such as /dev/null: never replaced) or one that cannot be
    written is VALIDATION_ERROR, before any report is built."""
    out = _checked_target(Path(out))
    chosen = SECTIONS if sections is None else sections
    built = [(name, build(session, request)) for name, build in chosen]
    label = request.window.label
    page = render_page(f"legato-pay report — {label}", request.window, built)
    data = page.encode("utf-8")
    try:
        handle, temporary = tempfile.mkstemp(dir=out.parent, prefix=".report-", suffix=".html")
    except OSError as error:
        raise _unwritable(out, error) from None
    try:
        with os.fdopen(handle, "wb") as file:
            file.write(data)
        os.replace(temporary, out)
    except OSError as error:
        Path(temporary).unlink(missing_ok=True)
        raise _unwritable(out, error) from None
    return Written(out.resolve(), [name for name, _ in chosen], len(data))
