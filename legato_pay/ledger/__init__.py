"""The double-entry ledger everything else stands on.

Accounts hold one currency and running totals; journal entries of two or more legs balance per
currency and are never edited; pending entries are posted or voided by later entries; mistakes
are undone by reversals; a hash chain sealed after the fact makes tampering evident.

The names below are imported on first use (PEP 562), so a command that only reads (a balance,
an account) does not load the posting paths, pending entries or verification.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from legato_pay.ledger.accounts import (
        get_account,
        list_accounts,
        open_account,
        open_accounts,
        resolve_accounts,
    )
    from legato_pay.ledger.pending import (
        due_pending,
        expired_pending_ids,
        resolve_pending,
        reverse_entry,
    )
    from legato_pay.ledger.posting import post_entries, post_entry, post_entry_batches
    from legato_pay.ledger.queries import get_balance, get_entry, history, lock_balances
    from legato_pay.ledger.sealing import seal
    from legato_pay.ledger.types import (
        Account,
        AccountRequest,
        Balance,
        EntrySpec,
        EntryView,
        LegSpec,
        transfer,
    )
    from legato_pay.ledger.verify import verify_ledger

#: Each public name and the module that defines it.
_EXPORTS = {
    "Account": "legato_pay.ledger.types",
    "AccountRequest": "legato_pay.ledger.types",
    "Balance": "legato_pay.ledger.types",
    "EntrySpec": "legato_pay.ledger.types",
    "EntryView": "legato_pay.ledger.types",
    "LegSpec": "legato_pay.ledger.types",
    "due_pending": "legato_pay.ledger.pending",
    "expired_pending_ids": "legato_pay.ledger.pending",
    "get_account": "legato_pay.ledger.accounts",
    "get_balance": "legato_pay.ledger.queries",
    "get_entry": "legato_pay.ledger.queries",
    "history": "legato_pay.ledger.queries",
    "list_accounts": "legato_pay.ledger.accounts",
    "lock_balances": "legato_pay.ledger.queries",
    "open_account": "legato_pay.ledger.accounts",
    "open_accounts": "legato_pay.ledger.accounts",
    "post_entries": "legato_pay.ledger.posting",
    "post_entry": "legato_pay.ledger.posting",
    "post_entry_batches": "legato_pay.ledger.posting",
    "resolve_accounts": "legato_pay.ledger.accounts",
    "resolve_pending": "legato_pay.ledger.pending",
    "reverse_entry": "legato_pay.ledger.pending",
    "seal": "legato_pay.ledger.sealing",
    "transfer": "legato_pay.ledger.types",
    "verify_ledger": "legato_pay.ledger.verify",
}

__all__ = [
    "Account",
    "AccountRequest",
    "Balance",
    "EntrySpec",
    "EntryView",
    "LegSpec",
    "due_pending",
    "expired_pending_ids",
    "get_account",
    "get_balance",
    "get_entry",
    "history",
    "list_accounts",
    "lock_balances",
    "open_account",
    "open_accounts",
    "post_entries",
    "post_entry",
    "post_entry_batches",
    "resolve_accounts",
    "resolve_pending",
    "reverse_entry",
    "seal",
    "transfer",
    "verify_ledger",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(import_module(module), name)
    globals()[name] = value  # later lookups are plain attribute reads
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_EXPORTS])
