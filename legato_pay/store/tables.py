"""Core table handles, one per table, for SQLAlchemy Core statements.

Services build statements on these instead of loading ORM objects (a posting or a bulk check
stays a handful of statements). Every handle comes from the one metadata that the models fill.
"""

from __future__ import annotations

from sqlalchemy import Table

from legato_pay.store.models import metadata


def _table(name: str) -> Table:
    return metadata.tables[name]


# ledger
ACCOUNTS = _table("ledger_accounts")
ENTRIES = _table("ledger_entries")
LEGS = _table("ledger_legs")
PENDING = _table("ledger_pending")
SEALS = _table("ledger_seals")
CHECKPOINTS = _table("ledger_checkpoints")

# readers
USERS = _table("users")
PACKAGES = _table("coin_packages")
RATES = _table("fx_rates")
PURCHASES = _table("purchases")
REFUNDS = _table("purchase_refunds")
CONTENT = _table("content_items")
UNLOCKS = _table("content_unlocks")
SUBSCRIPTIONS = _table("subscriptions")
ENGAGEMENT = _table("engagement")
TRANSFERS = _table("coin_transfers")

# gateways and webhooks
BOOK = _table("sandbox_payments")
EVENTS = _table("webhook_events")
