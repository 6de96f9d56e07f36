"""The posting statement's parameters for a batch of one entry (every single posting) are
written out directly; they must be the very literals the general path writes. The mid-batch
no-overdraft checks folded into the accounts' update must refuse exactly what they refused."""

from __future__ import annotations

import random
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from legato_pay.ledger import EntrySpec, LegSpec, pg_params
from legato_pay.ledger.shaping import Prepared, batch_deltas, prepare_entry
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


# --- mid-batch no-overdraft checks folded into the accounts' update ----------------------------


def _params(
    prepared: list[Prepared], fold: bool
) -> tuple[list[tuple[int, bool, int, int, int, int]], dict[int, str | None], dict[int, list[int]]]:
    """(check rows, limit per account, deltas) as the statement would receive them."""
    accounts, deltas = batch_deltas(prepared)
    legs, folded = pg_params.leg_params(prepared, accounts, deltas, fold=fold)
    order = sorted(deltas)
    limits = pg_params.account_params(accounts, deltas, order, folded)["acct_limit"]
    names = ("check_account", "check_credit", "check_sdp", "check_scp", "check_sdpe", "check_scpe")
    columns = [legs[name].strip("{}").split(",") if legs[name] != "{}" else [] for name in names]
    rows = [
        (int(a), c == "t", int(dp), int(cp), int(dpe), int(cpe))
        for a, c, dp, cp, dpe, cpe in zip(*columns, strict=True)
    ]
    kinds = [None if k == "NULL" else k.strip('"') for k in limits.strip("{}").split(",")]
    return rows, dict(zip(order, kinds, strict=True)), deltas


def _available(totals: list[int], credit: bool) -> int:
    dp, cp, dpe, cpe = totals
    return cp - dp - dpe if credit else dp - cp - cpe


def _refused(prepared: list[Prepared], start: dict[int, list[int]], fold: bool) -> bool:
    """Whether the posting statement refuses the batch (its update's limits, then its checks)."""
    rows, limits, deltas = _params(prepared, fold)
    new = {a: [s + d for s, d in zip(start[a], deltas[a], strict=True)] for a in deltas}
    if any(
        kind is not None and _available(new[a], kind == "credit") < 0 for a, kind in limits.items()
    ):
        return True
    return any(
        _available([n - r for n, r in zip(new[a], rest, strict=True)], credit) < 0
        for a, credit, *rest in rows
    )


def test_a_batch_paying_accounts_sends_no_checks_and_limits_them_in_the_update() -> None:
    pool = Account(10, "pool", "USD", "credit", no_overdraft=True, hot=False)
    writers = [
        Account(20 + n, f"w{n}", "USD", "credit", no_overdraft=True, hot=False) for n in range(3)
    ]
    accounts = {a.code: a for a in [pool, *writers]}
    prepared = [
        prepare_entry(
            EntrySpec(legs=(LegSpec("pool", "debit", 3), LegSpec(w.code, "credit", 3))), accounts
        )
        for w in writers
    ]
    rows, limits, _ = _params(prepared, fold=True)
    assert rows == []
    assert limits == dict.fromkeys([10, 20, 21, 22], "credit")
    unfolded, plain_limits, _ = _params(prepared, fold=False)
    assert len(unfolded) == 6 and plain_limits == {10: "credit", 20: None, 21: None, 22: None}


def test_folding_refuses_exactly_the_batches_the_checks_refuse() -> None:
    rng = random.Random(7)
    accounts = {
        "a": Account(1, "a", "USD", "credit", no_overdraft=True, hot=False),
        "b": Account(2, "b", "USD", "debit", no_overdraft=True, hot=False),
        "c": Account(3, "c", "USD", "credit", no_overdraft=True, hot=False),
        "d": Account(4, "d", "USD", "credit", no_overdraft=False, hot=False),
        "h": Account(5, "h", "USD", "credit", no_overdraft=False, hot=True),
    }
    refusals = 0
    for _ in range(400):
        prepared = []
        for _ in range(rng.randint(1, 4)):
            source, target = rng.sample(sorted(accounts), 2)
            spec = EntrySpec(
                legs=(
                    LegSpec(source, "debit", amount := rng.randint(1, 9)),
                    LegSpec(target, "credit", amount),
                ),
                pending=rng.random() < 0.3,
            )
            prepared.append(prepare_entry(spec, accounts))
        start = {}
        for account in accounts.values():  # every limit holds before the batch
            dp, dpe, cpe = rng.randint(0, 9), rng.randint(0, 5), rng.randint(0, 5)
            cp = dp + dpe + rng.randint(0, 9)
            start[account.id] = (
                [dp, cp, dpe, cpe] if account.normal_side == "credit" else [cp, dp, cpe, dpe]
            )
        folded, checked = _refused(prepared, start, True), _refused(prepared, start, False)
        assert folded == checked, (prepared, start)
        refusals += checked
    assert 50 < refusals < 350  # both outcomes were exercised
