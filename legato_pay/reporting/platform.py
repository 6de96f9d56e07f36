"""``reports platform``: the platform's P&L per bucket (a month by default) and currency.

Where each figure comes from (all summed in SQL, see ``sums``):

- ``<stream>_platform`` (content, subscription, licensing, ads, tips): the ledger, net posted
  credits of ``platform:revenue:<stream>:<CUR>`` in the bucket (reversals and revenue-run
  true-ups, which move money between it and writers, included).
- ``<stream>_writers``: the business rows that recorded each writer share when it was made —
  ``content_unlocks.writer_share`` (content), ``coin_transfers.writer_share`` of tips (tips),
  ``revenue_receipts.writer_share`` (licensing, ads), and ``revenue_lines.amount`` of each
  revenue run (subscription pool shares, and true-up adjustments of the other streams) dated by
  the run's ``created_at``; deferred lines are left out (nothing was posted).
- ``<stream>`` (gross revenue) = writers + platform; ``revenue``, ``writers_share``,
  ``platform_share`` are their sums over the streams.
- ``coin_sales``: the ledger, net posted credits of ``platform:coin_sales:<CUR>`` (cash readers
  paid for coins, less refunds of coins not yet spent).
- ``refunds``: ``purchase_refunds.amount`` of succeeded refunds (cash returned), in the
  purchase's currency, dated by the refund.
- ``refund_losses``: the ledger, net posted debits of ``platform:refund_losses:<CUR>`` (refunds
  of coins already spent).
- ``gateway_fees``: ``payouts.fee`` of payouts ``paid`` in the bucket (by ``updated_at``): the
  transfer fees recorded; purchases record none.
- ``tax_withheld``: the ledger, posted credits of ``tax:withholding:<CC>:<CUR>`` (withheld from
  writers' payouts; remittances, the debits, are not subtracted).
- ``net`` = ``platform_share`` − ``refund_losses``.

Every bucket's figures are also given converted to the reporting currency (see ``convert``).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from legato_pay.money import normalize_currency
from legato_pay.reporting.convert import RateBook, UsedRate, bucket_end
from legato_pay.reporting.earnings import STREAMS, share_parts
from legato_pay.reporting.periods import Window
from legato_pay.reporting.result import ReportResult
from legato_pay.reporting.sums import Part, domain_sums, family_part
from legato_pay.store.tables import PAYOUTS, PURCHASES, REFUNDS

FIGURES = (
    *STREAMS,
    "revenue",
    "writers_share",
    "platform_share",
    *(f"{stream}_writers" for stream in STREAMS),
    *(f"{stream}_platform" for stream in STREAMS),
    "coin_sales",
    "refunds",
    "refund_losses",
    "gateway_fees",
    "tax_withheld",
    "net",
)
#: What a table shows (formatted amounts); JSON and CSV have every figure in minor units.
TABLE_FIGURES = tuple(name for name in FIGURES if not name.endswith(("_writers", "_platform")))
_NET_FAMILIES = ("platform:revenue:", "platform:coin_sales:", "platform:refund_losses:")
_CREDIT_FAMILIES = ("tax:withholding:",)

Sums = dict[str, int]
Grid = dict[tuple[str, str], Sums]


@dataclass(frozen=True, slots=True)
class PlatformReport:
    window: Window
    by: str
    target: str
    recorded: Grid  # (bucket, currency) -> figures
    converted: dict[str, Sums | None]  # bucket -> figures in target (None: a rate is missing)
    rates: list[UsedRate]
    missing: list[dict[str, str]]

    def rows(self) -> list[dict[str, Any]]:
        out = []
        for bucket in sorted({b for b, _ in self.recorded}):
            for currency in sorted(c for b, c in self.recorded if b == bucket):
                out.append(_row(bucket, currency, "recorded", self.recorded[(bucket, currency)]))
            converted = self.converted.get(bucket)
            if converted is not None:
                out.append(_row(bucket, self.target, "converted", converted))
        return out

    def totals(self) -> dict[str, Any]:
        per_currency: dict[str, Sums] = defaultdict(_zero)
        for (_, currency), sums in self.recorded.items():
            _add(per_currency[currency], sums)
        converted: Sums | None = _zero()
        for bucket_sums in self.converted.values():
            if bucket_sums is None or converted is None:
                converted = None
            else:
                _add(converted, bucket_sums)
        return {
            "by_currency": {cur: _minor(sums) for cur, sums in sorted(per_currency.items())},
            "converted": None
            if converted is None
            else {"currency": self.target, **_minor(converted)},
        }

    def as_json(self) -> dict[str, Any]:
        return {
            **self.window.as_json(),
            "by": self.by,
            "convert_to": self.target,
            "rates": [rate.as_json() for rate in self.rates],
            "missing_rates": self.missing,
            "rows": self.rows(),
            "totals": self.totals(),
        }

    def result(self) -> ReportResult:
        series: dict[str, list[tuple[str, int]]] = {
            name: [(b, sums[name]) for b, sums in sorted(self.converted.items()) if sums]
            for name in ("revenue", "writers_share", "platform_share", "net")
        }
        return ReportResult(
            title=f"platform P&L by {self.by} ({self.window.label}, converted to {self.target})",
            columns=["period", "currency", "basis", *(f"{f}_minor" for f in FIGURES)],
            rows=self.rows(),
            totals=self.totals(),
            series=series,
            money_columns=[f"{f}_minor" for f in FIGURES],
        )


def _zero() -> Sums:
    return dict.fromkeys(FIGURES, 0)


def _add(into: Sums, sums: Sums) -> None:
    for name in FIGURES:
        into[name] += sums[name]


def _minor(sums: Sums) -> dict[str, int]:
    return {f"{name}_minor": sums[name] for name in FIGURES}


def _row(bucket: str, currency: str, basis: str, sums: Sums) -> dict[str, Any]:
    return {"period": bucket, "currency": currency, "basis": basis, **_minor(sums)}


def platform_report(
    session: Session,
    *,
    window: Window,
    by: str,
    convert_to: str,
    currency: str | None = None,
) -> PlatformReport:
    """The P&L of ``window`` per ``by`` bucket and currency, and converted to ``convert_to``."""
    target = normalize_currency(convert_to)
    only = normalize_currency(currency) if currency is not None else None
    grid: Grid = defaultdict(_zero)
    _figures(session, grid, window, by)
    recorded = {key: _derive(sums) for key, sums in grid.items() if only in (None, key[1])}
    converted, rates, missing = _convert(session, recorded, target, by, window)
    return PlatformReport(window, by, target, recorded, converted, rates, missing)


def _ledger_figure(cell: Sums, code: str, amount: int) -> None:
    """A family sum (posted credits − debits; credits alone for tax) into its figure."""
    family = code.split(":")
    if code.startswith("platform:revenue:") and family[2] in STREAMS:
        cell[f"{family[2]}_platform"] += amount
    elif code.startswith("platform:coin_sales:"):
        cell["coin_sales"] += amount
    elif code.startswith("platform:refund_losses:"):
        cell["refund_losses"] -= amount
    elif code.startswith("tax:withholding:"):
        cell["tax_withheld"] += amount


def _figures(session: Session, grid: Grid, window: Window, by: str) -> None:
    """Every figure of every bucket and currency: one ``domain_sums`` statement."""
    shares = share_parts()
    ledger = [family_part(_NET_FAMILIES), family_part(_CREDIT_FAMILIES, credits_only=True)]
    refunds = Part(
        select()
        .select_from(REFUNDS.join(PURCHASES, PURCHASES.c.reference == REFUNDS.c.reference))
        .where(REFUNDS.c.status == "succeeded"),
        REFUNDS.c.created_at,
        PURCHASES.c.currency,
        REFUNDS.c.amount,
    )
    fees = Part(
        select().select_from(PAYOUTS).where(PAYOUTS.c.status == "paid"),
        PAYOUTS.c.updated_at,
        PAYOUTS.c.currency,
        PAYOUTS.c.fee,
    )
    cash = {len(shares): "refunds", len(shares) + 1: "gateway_fees"}
    parts = [*(share.part for share in shares), refunds, fees, *ledger]
    for index, bucket, currency, keys, amount in domain_sums(session, parts, window, by):
        cell = grid[(bucket, currency)]
        if index >= len(shares) + 2:
            _ledger_figure(cell, str(keys[0]), amount)
        elif index in cash:
            cell[cash[index]] += amount
        else:
            share = shares[index].share(bucket, currency, keys, amount)
            if share.stream in STREAMS:
                cell[f"{share.stream}_writers"] += amount


def _derive(sums: Sums) -> Sums:
    """The gross per stream and the sums over streams, from the writer and platform shares."""
    for stream in STREAMS:
        sums[stream] = sums[f"{stream}_writers"] + sums[f"{stream}_platform"]
    sums["writers_share"] = sum(sums[f"{s}_writers"] for s in STREAMS)
    sums["platform_share"] = sum(sums[f"{s}_platform"] for s in STREAMS)
    sums["revenue"] = sums["writers_share"] + sums["platform_share"]
    sums["net"] = sums["platform_share"] - sums["refund_losses"]
    return sums


def _convert(
    session: Session, recorded: Grid, target: str, by: str, window: Window
) -> tuple[dict[str, Sums | None], list[UsedRate], list[dict[str, str]]]:
    """Each bucket's figures summed in ``target``, each cell converted at the bucket's rate."""
    converted: dict[str, Sums | None] = {}
    rates: list[UsedRate] = []
    missing: list[dict[str, str]] = []
    ends = {bucket: bucket_end(bucket, by, window.end) for bucket, _ in recorded}
    latest = None if None in ends.values() else max(filter(None, ends.values()), default=None)
    books = {
        currency: RateBook.load(session, currency, target, latest)
        for currency in {currency for _, currency in recorded if currency != target}
    }
    for bucket, currency in sorted(recorded):
        into = converted.setdefault(bucket, _zero())
        sums = recorded[(bucket, currency)]
        if currency == target:
            if into is not None:
                _add(into, sums)
            continue
        rate = books[currency].in_force(bucket, ends[bucket])
        if rate is None:
            missing.append({"period": bucket, "from": currency, "to": target})
            converted[bucket] = None
            continue
        rates.append(rate)
        if into is not None:
            # each recorded cell rounded once; the sums over streams re-derived from them
            _add(into, _derive({name: rate.convert(value) for name, value in sums.items()}))
    return converted, rates, missing
