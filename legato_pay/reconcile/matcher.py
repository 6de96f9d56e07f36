"""Pairing ledger items with gateway records: pure functions, no I/O.

A ledger item is paired with an unpaired gateway record of the same direction that shares one
of its gateway ids, else one of its references (ids first: two refunds of one purchase share
the purchase's reference but not their refund ids); among several, the one with the same
amount and currency wins. Then:

* currency differs → ``currency_mismatch``; amount differs → ``amount_mismatch``;
* the gateway says the money never moved (``failed``), or a payment in is still in flight, or
  it was given back (``reversed``) while the ledger books nothing in the other direction
  pointing at it (``refund_of``) → ``status_mismatch``; else ``matched``.

A ledger item the ledger reversed since (``reversed``) matches a record that says the money
came back or never moved (reversed, failed, in flight); against one that says it moved, the
record is ``missing_in_ledger`` (the ledger books nothing for it); without a record it is not
reported. The amount compared is what moved
the gateway's balance (``moved``: a Paystack transfer's fee is charged on top of it).

A ledger item with no record → ``missing_at_gateway``; a record of money that moved
(settled or reversed) with no ledger item → ``missing_in_ledger``. Records of money that did
not move (failed, abandoned, still pending) and no item books are skipped, not reported.
Everything is read a little past both ends of the period (``BOUNDARY_SLACK``); a finding is
reported when either of its sides falls inside the period.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence

from legato_pay.reconcile.records import (
    AMOUNT_MISMATCH,
    CURRENCY_MISMATCH,
    FAILED,
    IGNORED,
    IN_FLIGHT,
    MATCHED,
    MISSING_AT_GATEWAY,
    MISSING_IN_LEDGER,
    REVERSED,
    SETTLED,
    STATUS_MISMATCH,
    Finding,
    GatewayRecord,
    LedgerItem,
    Matching,
    Period,
)


class _Index:
    """Unpaired records by each of their keys."""

    def __init__(self, records: Sequence[GatewayRecord]) -> None:
        self.by_key: dict[str, list[int]] = defaultdict(list)
        for position, record in enumerate(records):
            if record.state == IGNORED:
                continue
            for key in record.keys:
                self.by_key[key].append(position)
        self.records = records
        self.paired: set[int] = set()

    def candidates(self, keys: Iterable[str], item: LedgerItem) -> list[int]:
        found = {
            position
            for key in keys
            for position in self.by_key.get(key, ())
            if position not in self.paired and self.records[position].direction == item.direction
        }
        return sorted(found)

    def pair(self, item: LedgerItem) -> GatewayRecord | None:
        for keys in (item.ids, item.refs):
            positions = self.candidates(keys, item)
            if positions:
                exact = [
                    p
                    for p in positions
                    if self.records[p].moved == item.amount
                    and self.records[p].currency == item.currency
                ]
                chosen = (exact or positions)[0]
                self.paired.add(chosen)
                return self.records[chosen]
        return None


def _given_back(record: GatewayRecord, items: Sequence[LedgerItem]) -> bool:
    """Whether the ledger books something in the other direction pointing at ``record``."""
    keys = record.keys | record.related
    return any(item.direction != record.direction and item.related & keys for item in items)


def _compare(item: LedgerItem, record: GatewayRecord, items: Sequence[LedgerItem]) -> Finding:
    if item.currency != record.currency:
        return Finding(CURRENCY_MISMATCH, item, record)
    if item.amount != record.moved:
        return Finding(AMOUNT_MISMATCH, item, record)
    if item.reversed:
        if record.state == SETTLED:  # the ledger books nothing for money that moved
            return Finding(MISSING_IN_LEDGER, record=record, note="reversed in the ledger")
        return Finding(MATCHED, item, record, "reversed on both sides")
    if record.state == FAILED:
        return Finding(STATUS_MISMATCH, item, record, "the gateway says it failed")
    if record.state == IN_FLIGHT and item.direction == "in":
        return Finding(STATUS_MISMATCH, item, record, "not paid at the gateway yet")
    if record.state == REVERSED and not _given_back(record, items):
        return Finding(
            STATUS_MISMATCH, item, record, "given back at the gateway, not in the ledger"
        )
    return Finding(MATCHED, item, record)


def _in_period(finding: Finding, period: Period) -> bool:
    return (finding.ledger is not None and period.holds(finding.ledger.occurred_at)) or (
        finding.record is not None and period.holds(finding.record.occurred_at)
    )


def match(
    items: Sequence[LedgerItem], records: Sequence[GatewayRecord], period: Period
) -> Matching:
    """Pair ``items`` with ``records`` (both read over the period and its slack)."""
    ordered = sorted(items, key=lambda i: (i.occurred_at, i.entry_id))
    index = _Index(sorted(records, key=lambda r: (r.occurred_at is None, r.occurred_at)))
    result = Matching()
    for item in ordered:
        record = index.pair(item)
        if record is None and item.reversed:
            continue  # nets to nothing and the gateway never saw it: nothing to report
        finding = _compare(item, record, ordered) if record else Finding(MISSING_AT_GATEWAY, item)
        if _in_period(finding, period):
            result.findings.append(finding)
    for position, record in enumerate(index.records):
        in_period = period.holds(record.occurred_at)
        if in_period and record.state in (SETTLED, REVERSED):
            result.fees[record.currency] = result.fees.get(record.currency, 0) + record.fee
        if position in index.paired or not in_period:
            continue
        if record.state in (SETTLED, REVERSED):
            result.findings.append(Finding(MISSING_IN_LEDGER, record=record))
        else:
            result.skipped += 1
    return result
