"""Core table handles, one per table, for SQLAlchemy Core statements.

Services build statements on these instead of loading ORM objects (a posting or a bulk check
stays a handful of statements). The handles come from ``store/models/core/``, the tables as
plain Core rendered from the SQLModel classes, so a command does not build those classes (their
pydantic fields and declarative mapping cost more CPU than the rest of our code together).
Should a model change without ``core/`` being rendered again, its fingerprint no longer
matches and the handles come from the models themselves: slower, never stale.
"""

from __future__ import annotations

from sqlalchemy import MetaData, Table

from legato_pay.store.models import core, render


def _metadata() -> MetaData:
    """The rendered Core tables while they match the models' source, else the models'."""
    if render.fingerprint() == core.FINGERPRINT:
        return core.metadata
    from legato_pay.store.models import metadata as models_metadata

    return models_metadata


metadata = _metadata()


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

# apps and shares
APPS = _table("apps")
HOLDINGS = _table("share_holdings")
MOVEMENTS = _table("share_movements")
DISTRIBUTIONS = _table("app_distributions")
DISTRIBUTION_LINES = _table("app_distribution_lines")

# revenue runs
RECEIPTS = _table("revenue_receipts")
RUNS = _table("revenue_runs")
LINES = _table("revenue_lines")

# approvals
APPROVERS = _table("approvers")
APPROVALS = _table("approvals")

# withholding tax
TAX_PROFILES = _table("tax_profiles")
TAX_REMITTANCES = _table("tax_remittances")
# payouts
PAYOUT_METHODS = _table("payout_methods")
PAYOUTS = _table("payouts")
PAYOUT_EVENTS = _table("payout_events")

# escrow
ESCROW_DEPOSITS = _table("escrow_deposits")
ESCROW_MILESTONES = _table("escrow_milestones")
ESCROW_RELEASES = _table("escrow_releases")
ESCROW_REFUNDS = _table("escrow_refunds")
ESCROW_DISPUTES = _table("escrow_disputes")
ESCROW_EVENTS = _table("escrow_events")

# reconciliation runs
RECONCILE_RUNS = _table("reconcile_runs")
RECONCILE_ITEMS = _table("reconcile_items")

# health
HEALTH_RECORDS = _table("health_records")
