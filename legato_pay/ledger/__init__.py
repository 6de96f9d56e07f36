"""The double-entry ledger everything else stands on.

Accounts hold one currency and running totals; journal entries of two or more legs balance per
currency and are never edited; pending entries are posted or voided by later entries; mistakes
are undone by reversals; a hash chain sealed after the fact makes tampering evident.
"""

from legato_pay.ledger.accounts import (
    AccountRequest,
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
from legato_pay.ledger.seal import seal
from legato_pay.ledger.types import (
    Account,
    Balance,
    EntrySpec,
    EntryView,
    LegSpec,
    transfer,
)
from legato_pay.ledger.verify import verify_ledger

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
