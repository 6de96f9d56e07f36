"""The matcher on plain values: which pairing wins, what each status means, and the period's
edges (inclusive, with records just outside still pairing with items inside)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from legato_pay.reconcile.matcher import match
from legato_pay.reconcile.records import (
    BOUNDARY_SLACK,
    FAILED,
    IN_FLIGHT,
    REVERSED,
    SETTLED,
    GatewayRecord,
    LedgerItem,
)
from tests.reconcile.helpers import MID, NOV


def item(entry: int, amount: int, *, out: bool = False, at: Any = MID, **keys: Any) -> LedgerItem:
    return LedgerItem(
        entry_id=entry,
        direction="out" if out else "in",
        amount=amount,
        currency=keys.pop("currency", "USD"),
        occurred_at=at,
        kind="test",
        **{k: frozenset(v) for k, v in keys.items()},
    )


def record(
    gid: str, amount: int, *, out: bool = False, state: str = SETTLED, at: Any = MID, **keys: Any
) -> GatewayRecord:
    return GatewayRecord(
        gateway_id=gid,
        kind="refund" if out else "charge",
        direction="out" if out else "in",
        amount=amount,
        currency=keys.pop("currency", "USD"),
        state=state,
        raw_status=state,
        occurred_at=at,
        fee=keys.pop("fee", 0),
        **{k: frozenset(v) for k, v in keys.items()},
    )


def kinds(result: Any) -> list[tuple[str, int | None, str | None]]:
    return sorted(
        (f.kind, f.ledger.entry_id if f.ledger else None, f.record.gateway_id if f.record else None)
        for f in result.findings
    )


def test_gateway_ids_pair_before_shared_references() -> None:
    # Two partial refunds of one purchase share its reference; each has its own refund id.
    items = [
        item(1, 300, out=True, ids={"re_b"}, refs={"pur_1"}),
        item(2, 200, out=True, ids={"re_a"}, refs={"pur_1"}),
    ]
    records = [
        record("re_a", 200, out=True, refs={"pur_1"}),
        record("re_b", 300, out=True, refs={"pur_1"}),
    ]
    assert kinds(match(items, records, NOV)) == [("matched", 1, "re_b"), ("matched", 2, "re_a")]


def test_directions_never_pair_and_an_exact_amount_wins() -> None:
    items = [item(1, 500, refs={"r"}), item(2, 500, out=True, refs={"r"})]
    records = [record("g1", 400, refs={"r"}), record("g2", 500, refs={"r"})]
    assert kinds(match(items, records, NOV)) == sorted(
        [("matched", 1, "g2"), ("missing_at_gateway", 2, None), ("missing_in_ledger", None, "g1")]
    )


def test_what_each_gateway_status_means() -> None:
    items = [
        item(1, 100, refs={"failed"}),
        item(2, 100, refs={"pending-in"}),
        item(3, 100, out=True, ids={"pending-out"}),
        item(4, 100, refs={"refunded"}),
        item(5, 40, out=True, ids={"re_x"}, related={"refunded"}),
        item(6, 100, refs={"chargeback"}),
    ]
    records = [
        record("failed", 100, state=FAILED),
        record("pending-in", 100, state=IN_FLIGHT),
        record("pending-out", 100, out=True, state=IN_FLIGHT),
        record("refunded", 100, state=REVERSED),
        record("re_x", 40, out=True),
        record("chargeback", 100, state=REVERSED),
        record("abandoned", 100, state=FAILED),  # never booked, money never moved: skipped
    ]
    result = match(items, records, NOV)
    assert kinds(result) == sorted(
        [
            ("status_mismatch", 1, "failed"),
            ("status_mismatch", 2, "pending-in"),
            ("matched", 3, "pending-out"),
            ("matched", 4, "refunded"),
            ("matched", 5, "re_x"),
            ("status_mismatch", 6, "chargeback"),
        ]
    )
    assert result.skipped == 1


def test_the_period_is_inclusive_and_pairs_across_its_edges() -> None:
    start, end, just = NOV.start, NOV.end, timedelta(seconds=1)
    items = [
        item(1, 100, refs={"edge-start"}, at=start),
        item(2, 100, refs={"edge-end"}, at=end),
        item(3, 100, refs={"across"}, at=end),  # booked on the last second …
        item(4, 100, refs={"before"}, at=start - just),  # … outside, both sides: not reported
    ]
    records = [
        record("edge-start", 100, at=start, fee=3),
        record("edge-end", 100, at=end, fee=3),
        record("across", 100, at=end + just, fee=3),  # … paid at the gateway a second later
        record("before", 100, at=start - just, fee=3),
        record("late", 100, at=end + just),  # after the period, unbooked: not reported
    ]
    result = match(items, records, NOV)
    assert kinds(result) == [
        ("matched", 1, "edge-start"),
        ("matched", 2, "edge-end"),
        ("matched", 3, "across"),
    ]
    assert result.fees == {"USD": 6}  # fees of the records inside the period
    assert timedelta(days=1) <= BOUNDARY_SLACK
