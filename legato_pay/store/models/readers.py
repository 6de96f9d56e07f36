"""Tables of the reader-facing side: users, coin packages, rates, purchases, content, unlocks,
subscriptions, engagement, tips and gifts, and the sandbox gateway's own book of payments.

Money lives in the ledger; these rows are the business records that point at ledger entries
(``entry_id``) and carry what the ledger does not (which package, which content, who tipped).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlmodel import Field, SQLModel

from legato_pay.store.columns import IdType


def _when(nullable: bool = False, index: bool = False) -> Column:  # type: ignore[type-arg]
    return Column(DateTime(timezone=True), nullable=nullable, index=index)


class User(SQLModel, table=True):
    __tablename__ = "users"

    id: str = Field(sa_column=Column(String(100), primary_key=True))
    kind: str = Field(sa_column=Column(String(10), nullable=False))  # reader | writer | investor
    email: str | None = Field(default=None, sa_column=Column(String(254), nullable=True))
    name: str | None = Field(default=None, sa_column=Column(String(200), nullable=True))
    created_at: datetime = Field(sa_column=_when())


class CoinPackage(SQLModel, table=True):
    __tablename__ = "coin_packages"

    id: str = Field(sa_column=Column(String(64), primary_key=True))
    name: str = Field(sa_column=Column(String(200), nullable=False))
    coins: int = Field(sa_column=Column(BigInteger, nullable=False))
    bonus_percent: str = Field(sa_column=Column(String(16), nullable=False))
    price_usd: int = Field(sa_column=Column(BigInteger, nullable=False))
    prices_json: str = Field(sa_column=Column(Text, nullable=False))  # {"NGN": 150000, ...}
    status: str = Field(sa_column=Column(String(10), nullable=False))  # active | archived
    created_at: datetime = Field(sa_column=_when())
    updated_at: datetime = Field(sa_column=_when())


class FxRate(SQLModel, table=True):
    """One observed rate: ``rate`` units of ``quote`` per unit of ``base``, as a decimal string."""

    __tablename__ = "fx_rates"
    __table_args__ = (Index("ix_fx_rates_pair_as_of", "base", "quote", "as_of"),)

    id: int | None = Field(default=None, sa_column=Column(IdType, primary_key=True))
    base: str = Field(sa_column=Column(String(8), nullable=False))
    quote: str = Field(sa_column=Column(String(8), nullable=False))
    rate: str = Field(sa_column=Column(String(40), nullable=False))
    source: str = Field(sa_column=Column(String(100), nullable=False))
    as_of: datetime = Field(sa_column=_when())
    created_at: datetime = Field(sa_column=_when())


class Purchase(SQLModel, table=True):
    __tablename__ = "purchases"

    reference: str = Field(sa_column=Column(String(100), primary_key=True))
    idempotency_key: str | None = Field(
        default=None, sa_column=Column(String(200), nullable=True, unique=True)
    )
    user_id: str = Field(
        sa_column=Column(String(100), ForeignKey("users.id"), nullable=False, index=True)
    )
    package_id: str = Field(
        sa_column=Column(String(64), ForeignKey("coin_packages.id"), nullable=False)
    )
    coins: int = Field(sa_column=Column(BigInteger, nullable=False))
    bonus_coins: int = Field(sa_column=Column(BigInteger, nullable=False))
    currency: str = Field(sa_column=Column(String(8), nullable=False))
    amount: int = Field(sa_column=Column(BigInteger, nullable=False))
    rate_id: int | None = Field(
        default=None, sa_column=Column(IdType, ForeignKey("fx_rates.id"), nullable=True)
    )
    gateway: str = Field(sa_column=Column(String(20), nullable=False))
    gateway_payment_id: str | None = Field(
        default=None, sa_column=Column(String(200), nullable=True)
    )
    client_secret: str | None = Field(default=None, sa_column=Column(String(300), nullable=True))
    payment_url: str | None = Field(default=None, sa_column=Column(String(500), nullable=True))
    payment_method: str | None = Field(default=None, sa_column=Column(String(100), nullable=True))
    # Paystack payment channels the payer may use, comma-separated ("card,ussd"); None = all.
    channels: str | None = Field(default=None, sa_column=Column(String(200), nullable=True))
    # pending | succeeded | failed | flagged | refunded | partially_refunded | cancelled
    status: str = Field(sa_column=Column(String(20), nullable=False, index=True))
    failure_reason: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    entry_id: int | None = Field(default=None, sa_column=Column(IdType, nullable=True))
    refunded_amount: int = Field(default=0, sa_column=Column(BigInteger, nullable=False))
    coins_clawed_back: int = Field(default=0, sa_column=Column(BigInteger, nullable=False))
    coins_lost: int = Field(default=0, sa_column=Column(BigInteger, nullable=False))
    created_at: datetime = Field(sa_column=_when(index=True))
    updated_at: datetime = Field(sa_column=_when())
    credited_at: datetime | None = Field(default=None, sa_column=_when(nullable=True))


class PurchaseRefund(SQLModel, table=True):
    __tablename__ = "purchase_refunds"

    id: int | None = Field(default=None, sa_column=Column(IdType, primary_key=True))
    reference: str = Field(
        sa_column=Column(String(100), ForeignKey("purchases.reference"), nullable=False, index=True)
    )
    idempotency_key: str = Field(sa_column=Column(String(200), nullable=False, unique=True))
    amount: int = Field(sa_column=Column(BigInteger, nullable=False))
    coins_clawed_back: int = Field(sa_column=Column(BigInteger, nullable=False))
    coins_lost: int = Field(sa_column=Column(BigInteger, nullable=False))
    gateway_refund_id: str | None = Field(
        default=None, sa_column=Column(String(200), nullable=True, index=True)
    )
    status: str = Field(sa_column=Column(String(20), nullable=False))
    entry_id: int | None = Field(default=None, sa_column=Column(IdType, nullable=True))
    created_at: datetime = Field(sa_column=_when())


class ContentItem(SQLModel, table=True):
    __tablename__ = "content_items"

    id: str = Field(sa_column=Column(String(100), primary_key=True))
    writer_id: str = Field(
        sa_column=Column(String(100), ForeignKey("users.id"), nullable=False, index=True)
    )
    type: str = Field(sa_column=Column(String(20), nullable=False))  # chapter | story | exclusive
    price_coins: int = Field(sa_column=Column(BigInteger, nullable=False))
    tier: str | None = Field(default=None, sa_column=Column(String(20), nullable=True))
    title: str | None = Field(default=None, sa_column=Column(String(300), nullable=True))
    created_at: datetime = Field(sa_column=_when())
    updated_at: datetime | None = Field(default=None, sa_column=_when(nullable=True))


class ContentUnlock(SQLModel, table=True):
    """A reader owns a piece of content: recorded once per reader and content."""

    __tablename__ = "content_unlocks"
    __table_args__ = (
        UniqueConstraint("user_id", "content_id", name="uq_content_unlocks_user_content"),
    )

    id: int | None = Field(default=None, sa_column=Column(IdType, primary_key=True))
    user_id: str = Field(sa_column=Column(String(100), ForeignKey("users.id"), nullable=False))
    content_id: str = Field(
        sa_column=Column(String(100), ForeignKey("content_items.id"), nullable=False, index=True)
    )
    writer_id: str = Field(sa_column=Column(String(100), nullable=False, index=True))
    coins: int = Field(sa_column=Column(BigInteger, nullable=False))
    bonus_coins_used: int = Field(sa_column=Column(BigInteger, nullable=False))
    paid_coins_used: int = Field(sa_column=Column(BigInteger, nullable=False))
    value_currency: str = Field(sa_column=Column(String(8), nullable=False))
    value: int = Field(sa_column=Column(BigInteger, nullable=False))
    writer_share: int = Field(sa_column=Column(BigInteger, nullable=False))
    platform_share: int = Field(sa_column=Column(BigInteger, nullable=False))
    entry_id: int | None = Field(default=None, sa_column=Column(IdType, nullable=True))
    writer_entry_id: int | None = Field(default=None, sa_column=Column(IdType, nullable=True))
    created_at: datetime = Field(sa_column=_when(index=True))


class Subscription(SQLModel, table=True):
    __tablename__ = "subscriptions"

    id: int | None = Field(default=None, sa_column=Column(IdType, primary_key=True))
    user_id: str = Field(
        sa_column=Column(String(100), ForeignKey("users.id"), nullable=False, index=True)
    )
    tier: str = Field(sa_column=Column(String(20), nullable=False))
    currency: str = Field(sa_column=Column(String(8), nullable=False))
    amount: int = Field(sa_column=Column(BigInteger, nullable=False))
    gateway: str = Field(sa_column=Column(String(20), nullable=False))
    gateway_payment_id: str | None = Field(
        default=None, sa_column=Column(String(200), nullable=True)
    )
    status: str = Field(
        sa_column=Column(String(20), nullable=False, index=True)
    )  # active | cancelled
    period: str = Field(
        sa_column=Column(String(7), nullable=False, index=True)
    )  # pool period YYYY-MM
    period_start: datetime = Field(sa_column=_when())
    period_end: datetime = Field(sa_column=_when())
    idempotency_key: str | None = Field(
        default=None, sa_column=Column(String(200), nullable=True, unique=True)
    )
    entry_id: int | None = Field(default=None, sa_column=Column(IdType, nullable=True))
    created_at: datetime = Field(sa_column=_when())
    cancelled_at: datetime | None = Field(default=None, sa_column=_when(nullable=True))


class Engagement(SQLModel, table=True):
    """Reading time, the basis of the subscription pool's split between writers. ``row_key``
    (the hash of user, content, recorded_at and minutes) makes a reading count once."""

    __tablename__ = "engagement"
    __table_args__ = (
        Index("ix_engagement_period_writer", "period", "writer_id"),
        Index("ix_engagement_period_id", "period", "id"),
        Index("ix_engagement_period_user", "period", "user_id"),
        Index("ux_engagement_row_key", "row_key", unique=True),
    )

    id: int | None = Field(default=None, sa_column=Column(IdType, primary_key=True))
    user_id: str = Field(sa_column=Column(String(100), ForeignKey("users.id"), nullable=False))
    content_id: str = Field(
        sa_column=Column(String(100), ForeignKey("content_items.id"), nullable=False)
    )
    writer_id: str = Field(sa_column=Column(String(100), nullable=False))
    minutes: int = Field(sa_column=Column(Integer, nullable=False))
    period: str = Field(sa_column=Column(String(7), nullable=False))
    idempotency_key: str | None = Field(
        default=None, sa_column=Column(String(200), nullable=True, unique=True)
    )
    row_key: str | None = Field(default=None, sa_column=Column(String(64), nullable=True))
    recorded_at: datetime = Field(sa_column=_when())


class EngagementUserTotal(SQLModel, table=True):
    """A subscriber's minutes in a period, all writers: kept by database triggers on every
    insert, update or delete of ``engagement`` (migration 0026), so the pool run finds the few
    subscribers whose minutes could be capped without grouping every engagement row."""

    __tablename__ = "engagement_user_totals"

    period: str = Field(sa_column=Column(String(7), primary_key=True))
    user_id: str = Field(sa_column=Column(String(100), primary_key=True))
    minutes: int = Field(sa_column=Column(BigInteger, nullable=False))


class EngagementWriterTotal(SQLModel, table=True):
    """A writer's minutes in a period, all subscribers: kept like ``EngagementUserTotal``; the
    pool run finds writers who are no longer users from it."""

    __tablename__ = "engagement_writer_totals"

    period: str = Field(sa_column=Column(String(7), primary_key=True))
    writer_id: str = Field(sa_column=Column(String(100), primary_key=True))
    minutes: int = Field(sa_column=Column(BigInteger, nullable=False))


class CoinTransfer(SQLModel, table=True):
    """A tip (reader → writer, split with the platform) or a gift (reader → reader, coins)."""

    __tablename__ = "coin_transfers"

    id: int | None = Field(default=None, sa_column=Column(IdType, primary_key=True))
    kind: str = Field(sa_column=Column(String(10), nullable=False, index=True))  # tip | gift
    from_user: str = Field(
        sa_column=Column(String(100), ForeignKey("users.id"), nullable=False, index=True)
    )
    to_user: str = Field(
        sa_column=Column(String(100), ForeignKey("users.id"), nullable=False, index=True)
    )
    coins: int = Field(sa_column=Column(BigInteger, nullable=False))
    content_id: str | None = Field(default=None, sa_column=Column(String(100), nullable=True))
    message: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    value_currency: str | None = Field(default=None, sa_column=Column(String(8), nullable=True))
    value: int = Field(default=0, sa_column=Column(BigInteger, nullable=False))
    writer_share: int = Field(default=0, sa_column=Column(BigInteger, nullable=False))
    platform_share: int = Field(default=0, sa_column=Column(BigInteger, nullable=False))
    idempotency_key: str | None = Field(
        default=None, sa_column=Column(String(200), nullable=True, unique=True)
    )
    entry_id: int | None = Field(default=None, sa_column=Column(IdType, nullable=True))
    writer_entry_id: int | None = Field(default=None, sa_column=Column(IdType, nullable=True))
    created_at: datetime = Field(sa_column=_when(index=True))


class SandboxPayment(SQLModel, table=True):
    """The offline sandbox gateway's own book: what a real provider would keep on its side."""

    __tablename__ = "sandbox_payments"

    id: str = Field(sa_column=Column(String(100), primary_key=True))
    kind: str = Field(sa_column=Column(String(10), nullable=False))  # payment | refund | payout
    reference: str = Field(sa_column=Column(String(200), nullable=False, unique=True))
    amount: int = Field(sa_column=Column(BigInteger, nullable=False))
    currency: str = Field(sa_column=Column(String(8), nullable=False))
    payment_method: str = Field(sa_column=Column(String(100), nullable=False))
    status: str = Field(sa_column=Column(String(20), nullable=False))
    paid_amount: int = Field(sa_column=Column(BigInteger, nullable=False))
    paid_currency: str = Field(sa_column=Column(String(8), nullable=False))
    created_at: datetime = Field(sa_column=_when())
