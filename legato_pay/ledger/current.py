"""Accounts' current totals in one statement of plain SQL: the one way the ledger reads them.

Ordinary accounts keep their totals on their row. Hot accounts keep the totals of their last
seal there and add the legs posted since (entries above the sealed watermark) in the same
statement, one snapshot, so a concurrent seal can never make a leg count twice or not at all.

Plain SQL with ``:name`` parameters (``store/lightread``) so the same statement serves the full
path (``get_balance`` through a session) and the light one (``ledger balance``, ``balances
show`` without SQLAlchemy).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from legato_pay.ledger.types import Account, Balance, Totals, balance_from_totals
from legato_pay.store.lightread import Deferred, Rows

_SUM = "SUM(CASE WHEN l.is_debit THEN {debit} ELSE {credit} END)"
_UNSEALED = (
    "SELECT l.account_id,"
    f" {_SUM.format(debit='l.amount', credit='0')} AS debits_posted,"
    f" {_SUM.format(debit='0', credit='l.amount')} AS credits_posted,"
    f" {_SUM.format(debit='l.pending_amount', credit='0')} AS debits_pending,"
    f" {_SUM.format(debit='0', credit='l.pending_amount')} AS credits_pending"
    " FROM ledger_legs l JOIN ledger_accounts h ON h.id = l.account_id"
    " WHERE h.hot AND h.code IN ({codes})"
    " AND l.entry_id > (SELECT COALESCE(MAX(s.to_entry_id), 0) FROM ledger_seals s)"
    " GROUP BY l.account_id"
)
_CURRENT = (
    "SELECT a.id, a.code, a.currency, a.normal_side, a.no_overdraft, a.hot,"
    " a.debits_posted, a.credits_posted, a.debits_pending, a.credits_pending,"
    " COALESCE(u.debits_posted, 0), COALESCE(u.credits_posted, 0),"
    " COALESCE(u.debits_pending, 0), COALESCE(u.credits_pending, 0)"
    " FROM ledger_accounts a LEFT JOIN ({unsealed}) u ON u.account_id = a.id"
    " WHERE a.code IN ({codes})"
)


def current_totals(rows: Rows, codes: Sequence[str]) -> dict[str, tuple[Account, Totals]]:
    """Each existing account of ``codes`` with its totals now (unknown codes are left out)."""
    if not codes:
        return {}
    names = [f"code{index}" for index in range(len(codes))]
    placeholders = ", ".join(f":{name}" for name in names)
    sql = _CURRENT.format(unsealed=_UNSEALED.format(codes=placeholders), codes=placeholders)
    found = {}
    for row in rows.all(sql, dict(zip(names, codes, strict=True))):
        account = Account(
            id=int(row[0]),
            code=row[1],
            currency=row[2],
            normal_side=row[3],
            no_overdraft=bool(row[4]),
            hot=bool(row[5]),
        )
        on_row = Totals(*(int(value) for value in row[6:10]))
        unsealed = Totals(*(int(value) for value in row[10:14]))
        found[account.code] = (account, on_row + unsealed if account.hot else on_row)
    return found


def current_balances(rows: Rows, codes: Sequence[str]) -> dict[str, Balance]:
    """Each existing account of ``codes`` with its balance now (unknown codes are left out)."""
    return {
        code: balance_from_totals(account, totals)
        for code, (account, totals) in current_totals(rows, codes).items()
    }


def current_balance(code: str) -> Callable[[Rows], Balance]:
    """A read of one account's balance now; an unknown code is ``Deferred`` (the full path's
    ``get_balance`` words the error, and opens ``world:<CUR>`` on first use)."""

    def read(rows: Rows) -> Balance:
        found = current_balances(rows, [code])
        if code not in found:
            raise Deferred(code)
        return found[code]

    return read
