"""The settings' schema: every section of ``config/default.yaml`` as a strict pydantic model.

Unknown keys are refused and each value is checked (currencies, percentages, fee tiers, withholding
rates), so ``legato_pay.config`` can name the bad key of a file or a ``LEGATO_*`` variable. How the
sources are read, merged and cached is ``legato_pay.config``'s business; this module only says
what a valid configuration is.
"""

from __future__ import annotations

import itertools
from decimal import Decimal, InvalidOperation
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from legato_pay.money import CURRENCY_EXPONENTS


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _check_currency(code: str) -> str:
    if code not in CURRENCY_EXPONENTS:
        raise ValueError(f"unknown currency {code!r}")
    return code


def _check_percent(value: Any) -> str:
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        raise ValueError(f"{value!r} is not a decimal percentage") from None
    if not number.is_finite() or number < 0 or number > 100:
        raise ValueError(f"{value!r} must be between 0 and 100")
    return str(value)


class DatabaseSettings(_Strict):
    url: str | None = None
    sqlite_busy_timeout_ms: int = Field(30000, ge=0)
    max_retries: int = Field(20, ge=0)


class FeatureFlags(_Strict):
    enable_multi_currency: bool = True
    enable_automatic_releases: bool = False
    enable_dispute_resolution: bool = True


class CoinSettings(_Strict):
    value_minor: int = Field(1, gt=0)
    value_currency: str = "USD"
    spend_order: Literal["bonus_first", "paid_first"] = "bonus_first"
    bonus_rounding: Literal["floor"] = "floor"

    _currency = field_validator("value_currency")(_check_currency)


class PackageSettings(_Strict):
    id: str = Field(min_length=1)
    name: str
    coins: int = Field(gt=0)
    bonus_percent: str = "0"
    price_usd: int = Field(gt=0)
    prices: dict[str, int] = Field(default_factory=dict)

    _percent = field_validator("bonus_percent", mode="before")(_check_percent)


class ContentSettings(_Strict):
    default_prices: dict[Literal["chapter", "story", "exclusive"], int]
    refund_hold_days: int = Field(7, ge=0)


class TierSettings(_Strict):
    rank: int = Field(gt=0)
    prices: dict[str, int]


class SubscriptionSettings(_Strict):
    tiers: dict[str, TierSettings]
    period_days: int = Field(30, gt=0)


class SplitSettings(_Strict):
    writer_percent: str
    platform_percent: str

    _percent = field_validator("writer_percent", "platform_percent", mode="before")(_check_percent)

    @model_validator(mode="after")
    def _adds_to_100(self) -> SplitSettings:
        if Decimal(self.writer_percent) + Decimal(self.platform_percent) != 100:
            raise ValueError("writer_percent + platform_percent must equal 100")
        return self


class PoolSettings(_Strict):
    """What a subscription pool run does with a pool nobody engaged with."""

    no_engagement: Literal["carry", "platform"] = "carry"  # next period's pool | platform


class FraudSettings(_Strict):
    """Caps on implausible engagement (capped minutes are reported, never paid)."""

    max_minutes_per_day: int = Field(1440, ge=1, le=1440)  # one subscriber, one UTC day
    content_share_percent: str = "80"  # one content piece's share of a subscriber's minutes
    content_share_min_minutes: int = Field(600, ge=0)  # ... capped only past this many minutes

    _percent = field_validator("content_share_percent", mode="before")(_check_percent)

    @field_validator("content_share_percent")
    @classmethod
    def _positive(cls, value: str) -> str:
        if Decimal(value) <= 0:
            raise ValueError("content_share_percent must be greater than 0")
        return value


class RevenueSettings(_Strict):
    content: SplitSettings
    subscription: SplitSettings
    licensing: SplitSettings
    ads: SplitSettings
    tips: SplitSettings
    pool: PoolSettings = PoolSettings()
    fraud: FraudSettings = FraudSettings()


class RateSettings(_Strict):
    max_age_hours: int = Field(24, gt=0)
    provider_url: str | None = None


class GatewaySettings(_Strict):
    default: Literal["sandbox", "stripe", "paystack", "auto"] = "sandbox"
    by_currency: dict[str, Literal["sandbox", "stripe", "paystack"]] = Field(default_factory=dict)
    mode: Literal["test", "live"] = "test"
    timeout_seconds: float = Field(10, gt=0)
    max_retries: int = Field(2, ge=0)


class FeeTier(_Strict):
    """A payout fee band: ``fee`` (minor units) for a gross up to ``up_to`` inclusive (None:
    no upper bound)."""

    up_to: int | None = Field(None, gt=0)
    fee: int = Field(ge=0)


def _check_tiers(tiers: list[FeeTier]) -> list[FeeTier]:
    bounds = [tier.up_to for tier in tiers]
    if not tiers or bounds[-1] is not None or None in bounds[:-1]:
        raise ValueError("fee tiers need ascending up_to bounds and a last tier with up_to: null")
    bounded = [bound for bound in bounds if bound is not None]
    if any(a >= b for a, b in itertools.pairwise(bounded)):
        raise ValueError("fee tiers' up_to bounds must be ascending")
    return tiers


class PayoutSettings(_Strict):
    """Payout rules: minimum and approval threshold per currency (minor units), the lock on
    recently changed payout methods, and fee tiers per method type and currency."""

    minimum: dict[str, int] = Field(default_factory=dict)
    approval_threshold: dict[str, int] = Field(default_factory=dict)
    method_change_lock_days: int = Field(5, ge=0, le=3650)
    #: Distinct approvers' valid signatures a payout needing approval must gather.
    required_approvals: int = Field(1, ge=1, le=20)
    fees: dict[Literal["bank", "stripe", "sandbox"], dict[str, list[FeeTier]]] = Field(
        default_factory=dict
    )
    #: The Paystack integration requires an OTP for transfers: send one at a time (no bulk)
    #: and wait for ``payouts finalize ID --otp CODE``.
    paystack_transfer_otp: bool = False
    #: ``payouts verify`` without an id checks ``sending`` payouts sent this long ago.
    verify_after_minutes: int = Field(30, ge=0, le=10080)

    @field_validator("minimum", "approval_threshold")
    @classmethod
    def _amounts(cls, value: dict[str, int]) -> dict[str, int]:
        for code, amount in value.items():
            _check_currency(code)
            if amount < 0:
                raise ValueError(f"{code}: amounts cannot be negative")
        return value

    @field_validator("fees")
    @classmethod
    def _fee_tiers(
        cls, value: dict[str, dict[str, list[FeeTier]]]
    ) -> dict[str, dict[str, list[FeeTier]]]:
        for by_currency in value.values():
            for code, tiers in by_currency.items():
                _check_currency(code)
                _check_tiers(tiers)
        return value


class EscrowSettings(_Strict):
    release_threshold: dict[str, int] = Field(default_factory=dict)
    required_approvers: int = Field(2, ge=1)
    approval_ttl_hours: int = Field(72, ge=1)
    deposit_ttl_hours: int = Field(72, ge=1, le=24 * 365)


class WithholdingRates(_Strict):
    """One country's withholding on writers' royalties: a percentage per payee type, multiplied
    for a payee without a TIN, the TIN's format, and the day of the next month remittance is
    due (Nigeria: 5 % individual, 10 % corporate, doubled without a TIN, due the 21st)."""

    individual: str = "0"
    corporate: str = "0"
    no_tin_multiplier: int = Field(1, ge=1, le=10)
    tin_pattern: str = r"[A-Za-z0-9-]{1,32}"
    remit_due_day: int = Field(21, ge=1, le=28)

    _percent = field_validator("individual", "corporate", mode="before")(_check_percent)

    @field_validator("tin_pattern")
    @classmethod
    def _compiles(cls, value: str) -> str:
        import re

        try:
            re.compile(value, re.ASCII)
        except re.error as exc:
            raise ValueError(f"not a regular expression: {exc}") from None
        return value

    @model_validator(mode="after")
    def _at_most_all(self) -> WithholdingRates:
        for payee_type in ("individual", "corporate"):
            if Decimal(getattr(self, payee_type)) * self.no_tin_multiplier > 100:
                raise ValueError(f"{payee_type} x no_tin_multiplier exceeds 100 %")
        return self


class TaxSettings(_Strict):
    """Withholding tables by ISO 3166 country code; a country not listed withholds 0 %.
    Amounts round half-up to the minor unit (``rounding``: the one documented rule)."""

    rounding: Literal["half_up"] = "half_up"
    withholding: dict[str, WithholdingRates] = Field(default_factory=dict)
    #: Who deducts the tax, as named on withholding-tax certificates (``tax certificate``).
    payer_name: str = Field("Legato", min_length=1, max_length=200)
    payer_tin: str | None = Field(None, min_length=1, max_length=32)

    @field_validator("payer_name", "payer_tin")
    @classmethod
    def _printable(cls, value: str | None) -> str | None:
        if value is not None and (not value.strip() or not value.isprintable()):
            raise ValueError("must be printable text, not blank")
        return value

    @field_validator("withholding")
    @classmethod
    def _countries(cls, value: dict[str, WithholdingRates]) -> dict[str, WithholdingRates]:
        import re

        for country in value:
            if not re.fullmatch(r"[A-Z]{2}", country, flags=re.ASCII):
                raise ValueError(f"{country!r} is not an ISO 3166 alpha-2 country code (NG)")
        return value


class WebhookRateLimitSettings(_Strict):
    """Refused requests (bad signature, too large, unknown endpoint) per source address:
    ``max_refusals`` per ``window_seconds``, then 429 with Retry-After. Valid events are never
    limited."""

    enabled: bool = True
    max_refusals: int = Field(20, ge=1, le=1_000_000)
    window_seconds: float = Field(60, gt=0, le=86_400)


class WebhookSettings(_Strict):
    max_body_bytes: int = Field(1_048_576, gt=0)
    stripe_tolerance_seconds: int = Field(300, gt=0)
    graceful_shutdown_seconds: int = Field(30, ge=0)
    max_batch_events: int = Field(200, ge=1, le=5000)
    concurrent_batches: int = Field(2, ge=1, le=32)
    batch_linger_ms: float = Field(5.0, ge=0, le=1000)
    rate_limit: WebhookRateLimitSettings = WebhookRateLimitSettings()


class LedgerSettings(_Strict):
    seal_batch_size: int = Field(50000, gt=0)


class ReportSettings(_Strict):
    #: ``reports coins``: wallets with no movement for this many days count as breakage.
    breakage_inactive_days: int = Field(365, ge=1, le=36500)


class HealthSettings(_Strict):
    """``legato-pay health`` thresholds and caches (``/readyz?deep=1`` and ``/metrics`` too)."""

    gateways: list[Literal["sandbox", "stripe", "paystack"]] | None = None  # None: as configured
    gateway_cache_seconds: int = Field(60, ge=1, le=86_400)
    inbox_max_age_seconds: int = Field(900, ge=1)
    inbox_max_failed: int = Field(0, ge=0)
    seal_max_age_hours: int = Field(48, ge=1)
    verify_max_age_hours: int = Field(168, ge=1)
    metrics_cache_seconds: int = Field(30, ge=1, le=3600)
    metrics_window_hours: int = Field(24, ge=1, le=24 * 366)


class Settings(_Strict):
    database: DatabaseSettings = DatabaseSettings()
    base_currency: str = "USD"
    currencies: list[str]
    features: FeatureFlags = FeatureFlags()
    coins: CoinSettings = CoinSettings()
    packages: list[PackageSettings]
    content: ContentSettings
    subscriptions: SubscriptionSettings
    revenue: RevenueSettings
    rates: RateSettings = RateSettings()
    gateways: GatewaySettings = GatewaySettings()
    payouts: PayoutSettings = PayoutSettings()
    escrow: EscrowSettings = EscrowSettings()
    tax: TaxSettings = TaxSettings()
    ledger: LedgerSettings = LedgerSettings()
    reports: ReportSettings = ReportSettings()
    webhooks: WebhookSettings = WebhookSettings()
    health: HealthSettings = HealthSettings()

    _base = field_validator("base_currency")(_check_currency)

    @field_validator("currencies")
    @classmethod
    def _known_currencies(cls, value: list[str]) -> list[str]:
        for code in value:
            _check_currency(code)
        return value
