"""``reports writers``: per writer and currency, what was earned, held, released and paid.

- ``<stream>`` and ``earned``: writer shares made in the window (``earnings.writer_shares``);
- ``released``: the ledger, posted credits to ``writer:<w>:earnings:<CUR>`` in the window that
  settle a refund hold (legs posting what a pending credit reserved);
- ``held``: the ledger, credits still pending (refund holds) on the earnings account at the
  window's end;
- ``paid_out`` / ``tax_withheld``: ``payouts.gross`` / ``payouts.tax`` of payouts that reached
  ``paid`` in the window (by ``updated_at``);
- ``in_flight``: ``payouts.gross`` of payouts requested before the window's end and still
  requested, approved or sending;
- ``balance``: the ledger, posted credits − posted debits of the earnings account at the
  window's end (held earnings are not in it; payouts in flight are, until they settle).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from legato_pay.money import normalize_currency
from legato_pay.readers.users import get_user
from legato_pay.reporting.earnings import STREAMS, writer_shares
from legato_pay.reporting.periods import Window
from legato_pay.reporting.result import ReportResult
from legato_pay.reporting.sums import Part, domain_sums, ledger_sums
from legato_pay.store.tables import PAYOUTS

IN_FLIGHT = ("requested", "approved", "sending")
FIGURES = (
    *STREAMS,
    "earned",
    "held",
    "released",
    "paid_out",
    "in_flight",
    "tax_withheld",
    "balance",
)

Key = tuple[str, str]  # (writer, currency)


@dataclass(frozen=True, slots=True)
class WritersReport:
    window: Window
    rows: list[dict[str, Any]]

    def totals(self) -> dict[str, dict[str, int]]:
        """Each figure summed over writers, per currency."""
        sums: dict[str, dict[str, int]] = defaultdict(lambda: dict.fromkeys(FIGURES, 0))
        for row in self.rows:
            for name in FIGURES:
                sums[row["currency"]][name] += row[f"{name}_minor"]
        return {
            currency: {f"{name}_minor": value for name, value in figures.items()}
            for currency, figures in sorted(sums.items())
        }

    def as_json(self) -> dict[str, Any]:
        return {**self.window.as_json(), "rows": self.rows, "totals": self.totals()}

    def result(self) -> ReportResult:
        return ReportResult(
            title=f"writers ({self.window.label})",
            columns=["writer", "currency", *(f"{name}_minor" for name in FIGURES)],
            rows=self.rows,
            totals=self.totals(),
            series=None,
            money_columns=[f"{name}_minor" for name in FIGURES],
        )


def writers_report(
    session: Session,
    *,
    window: Window,
    writer_id: str | None = None,
    currency: str | None = None,
) -> WritersReport:
    """Every writer with anything in the window or on the books at its end (or ``writer_id``,
    NOT_FOUND if there is no such writer)."""
    if writer_id is not None:
        get_user(session, writer_id, kind="writer")
    only = normalize_currency(currency) if currency is not None else None
    grid: dict[Key, dict[str, int]] = defaultdict(lambda: dict.fromkeys(FIGURES, 0))
    for share in writer_shares(session, window, None, per_writer=True, writer_id=writer_id):
        grid[(str(share.writer), share.currency)][share.stream] += share.amount
    _ledger_figures(session, grid, window, writer_id)
    _payout_figures(session, grid, window, writer_id)
    rows = []
    for (writer, cur), figures in sorted(grid.items()):
        if only not in (None, cur):
            continue
        figures["earned"] = sum(figures[stream] for stream in STREAMS)
        rows.append(
            {
                "writer": writer,
                "currency": cur,
                **{f"{name}_minor": figures[name] for name in FIGURES},
            }
        )
    return WritersReport(window, rows)


def _prefix(writer_id: str | None) -> str:
    return "writer:" if writer_id is None else f"writer:{writer_id}:earnings:"


def _writer_of(code: str) -> str | None:
    """``writer:<w>:earnings:<CUR>`` → ``w`` (None for any other code under ``writer:``)."""
    head, _, rest = code.partition(":")
    writer, _, tail = rest.rpartition(":earnings:")
    return writer if head == "writer" and writer and tail else None


def _ledger_figures(
    session: Session, grid: dict[Key, dict[str, int]], window: Window, writer_id: str | None
) -> None:
    prefixes = [_prefix(writer_id)]
    for sums in ledger_sums(session, prefixes, window, None):
        writer = _writer_of(sums.code)
        if writer is not None:
            grid[(writer, sums.currency)]["released"] += sums.settled_credits
    until_end = Window(None, window.end, window.label)
    for sums in ledger_sums(session, prefixes, until_end, None):
        writer = _writer_of(sums.code)
        if writer is not None:
            cell = grid[(writer, sums.currency)]
            cell["held"] += sums.pending_credits
            cell["balance"] += sums.net_credit


def _payout_figures(
    session: Session, grid: dict[Key, dict[str, int]], window: Window, writer_id: str | None
) -> None:
    paid = select().select_from(PAYOUTS).where(PAYOUTS.c.status == "paid")
    flying = select().select_from(PAYOUTS).where(PAYOUTS.c.status.in_(IN_FLIGHT))
    if writer_id is not None:
        paid = paid.where(PAYOUTS.c.writer_id == writer_id)
        flying = flying.where(PAYOUTS.c.writer_id == writer_id)
    names = ("paid_out", "tax_withheld", "in_flight")
    writer, cur, end = [PAYOUTS.c.writer_id], PAYOUTS.c.currency, Window(None, window.end, "")
    parts = [
        Part(paid, PAYOUTS.c.updated_at, cur, PAYOUTS.c.gross, writer),
        Part(paid, PAYOUTS.c.updated_at, cur, PAYOUTS.c.tax, writer),
        Part(flying, PAYOUTS.c.created_at, cur, PAYOUTS.c.gross, writer, end),
    ]
    for index, _, currency, (who,), amount in domain_sums(session, parts, window, None):
        grid[(str(who), currency)][names[index]] += amount
