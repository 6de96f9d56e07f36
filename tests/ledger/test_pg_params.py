"""The posting statement's parameters for a batch of one entry (every single posting) are
written out directly; they must be the very literals the general path writes."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from legato_pay.ledger import EntrySpec, LegSpec, pg_params
from legato_pay.ledger.shaping import Prepared, prepare_entry
from legato_pay.ledger.types import Account

ACCOUNTS = {
    "alice": Account(1, "alice", "USD", "credit", no_overdraft=True, hot=False),
    "bob": Account(2, "bob", "USD", "credit", no_overdraft=False, hot=False),
}
LEGS = (LegSpec("alice", "debit", 120, "USD"), LegSpec("bob", "credit", 120, "USD"))
LATER = datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC)


def entries() -> list[Prepared]:
    plain = prepare_entry(EntrySpec(legs=LEGS), ACCOUNTS)
    keyed = prepare_entry(
        EntrySpec(
            legs=LEGS,
            idempotency_key='k "1" \\ é',
            reason='lunch, "with" {braces}',
            metadata={"b": 1, "a": ["x", None]},
            effective_at=LATER - timedelta(days=3),
        ),
        ACCOUNTS,
    )
    pending = prepare_entry(
        EntrySpec(
            legs=LEGS,
            pending=True,
            idempotency_key="p1",
            expires_at=LATER,
            post_at=LATER - timedelta(hours=1),
        ),
        ACCOUNTS,
    )
    resolving = replace(pending, kind="post_pending", target_entry_id=7, reverses_entry_id=None)
    reversal = replace(plain, kind="reversal", reverses_entry_id=9, key="r1")
    return [plain, keyed, pending, resolving, reversal]


@pytest.mark.parametrize("entry", entries(), ids=lambda entry: entry.kind)
@pytest.mark.parametrize("find", [True, False])
def test_one_entry_literals_are_the_general_ones(entry: Prepared, find: bool) -> None:
    keys = [entry.key] if find and entry.key is not None else []
    assert pg_params.entry_params([entry], keys) == pg_params._entries_params([entry], keys)
