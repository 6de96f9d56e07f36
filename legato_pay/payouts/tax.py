"""Withholding tax on writers' payouts: tax profiles, the rate and amount withheld, remittances.

The payouts engine calls ``withholding_for`` when a payout is requested and credits the tax to
``tax:withholding:<country>:<CUR>`` (a liability: owed to that country's tax authority); ``tax
remit`` later moves one month of it to ``platform:cash:tax:<CUR>``, the account the authority is
paid from, once per country, period and currency.

Arithmetic is exact: ``tax = gross x rate / 100`` computed on integers and rounded half-up to
the minor unit (a half kobo or cent and more rounds up), so ``net = gross - tax`` always holds
and ``0 <= tax <= gross``.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from fractions import Fraction
from typing import Any

from sqlalchemy import case, func, select, update
from sqlalchemy.orm import Session

from legato_pay import chart
from legato_pay.config import Settings, WithholdingRates
from legato_pay.errors import AlreadyExists, InvalidInput, InvalidState, NotFound
from legato_pay.ledger.types import LegSpec, as_utc, utcnow
from legato_pay.money import CURRENCY_EXPONENTS
from legato_pay.store.engine import insert_if_absent
from legato_pay.store.tables import ACCOUNTS, ENTRIES, LEGS, TAX_PROFILES, TAX_REMITTANCES

PAYEE_TYPES = ("individual", "corporate")
_COUNTRY = re.compile(r"[A-Z]{2}", re.ASCII)
_PERIOD = re.compile(r"(?P<year>[0-9]{4})-(?P<month>0[1-9]|1[0-2])", re.ASCII)
_REFERENCE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_\-./:]{0,99}", re.ASCII)
#: Withholding for a country that has no table in the configuration.
_UNCONFIGURED = WithholdingRates()


# -- pure arithmetic ---------------------------------------------------------------------------


def withhold(gross_minor: int, rate_percent: Decimal) -> int:
    """``gross x rate / 100`` in minor units, rounded half-up; exact (no floats)."""
    if isinstance(gross_minor, bool) or not isinstance(gross_minor, int) or gross_minor < 0:
        raise InvalidInput("a gross amount is a non-negative integer of minor units")
    share = Fraction(rate_percent) / 100
    if not 0 <= share <= 1:
        raise InvalidInput(f"a withholding rate is 0 to 100 %, not {rate_percent}")
    # half-up: floor(x + 1/2) for x = gross * share >= 0
    return (2 * gross_minor * share.numerator + share.denominator) // (2 * share.denominator)


def rates_for(settings: Settings, country: str) -> WithholdingRates:
    return settings.tax.withholding.get(country, _UNCONFIGURED)


def rate_for(settings: Settings, country: str, payee_type: str, has_tin: bool) -> Decimal:
    """The percentage withheld: the country's rate for the payee type, times the configured
    multiplier when the payee has no TIN; 0 for a country without a table."""
    rates = rates_for(settings, country)
    rate = Decimal(getattr(rates, payee_type))
    return rate if has_tin else rate * rates.no_tin_multiplier


# -- validation --------------------------------------------------------------------------------


def validate_country(country: str) -> str:
    if not isinstance(country, str) or not _COUNTRY.fullmatch(country):
        raise InvalidInput(
            f"{str(country)[:20]!r} is not an ISO 3166 alpha-2 country code (e.g. NG)",
            details={"country": str(country)[:20]},
        )
    return country


def validate_payee_type(payee_type: str) -> str:
    if payee_type not in PAYEE_TYPES:
        raise InvalidInput(
            f"--type is individual or corporate, not {str(payee_type)[:40]!r}",
            details={"type": str(payee_type)[:40]},
        )
    return payee_type


def validate_tin(settings: Settings, country: str, tin: str) -> str:
    pattern = rates_for(settings, country).tin_pattern
    if not isinstance(tin, str) or not re.fullmatch(pattern, tin, flags=re.ASCII):
        raise InvalidInput(
            f"{tin[:40]!r} is not a valid {country} TIN",
            details={"country": country, "pattern": pattern},
            code="INVALID_TIN",
        )
    return tin


def parse_period(period: str) -> tuple[datetime, datetime]:
    """``YYYY-MM`` as [first instant, first instant of the next month) in UTC."""
    match = _PERIOD.fullmatch(period) if isinstance(period, str) else None
    if match is None or int(match["year"]) < 1970:
        raise InvalidInput(
            f"{str(period)[:20]!r} is not a period: YYYY-MM", details={"period": str(period)[:20]}
        )
    year, month = int(match["year"]), int(match["month"])
    start = datetime(year, month, 1, tzinfo=UTC)
    end = datetime(year + month // 12, month % 12 + 1, 1, tzinfo=UTC)
    return start, end


def due_date(settings: Settings, country: str, period: str) -> date:
    """When a period's withholding must reach the authority: the configured day of the next
    month (Nigeria: the 21st)."""
    _, end = parse_period(period)
    day = rates_for(settings, country).remit_due_day
    return date(end.year, end.month, min(day, calendar.monthrange(end.year, end.month)[1]))


# -- profiles ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TaxProfileView:
    writer: str
    country: str
    payee_type: str
    tin: str | None
    rate: Decimal
    updated_at: datetime

    def as_json(self) -> dict[str, Any]:
        return {
            "writer": self.writer,
            "country": self.country,
            "type": self.payee_type,
            "tin": self.tin,
            "rate_percent": str(self.rate),
            "updated_at": self.updated_at.isoformat(),
        }


def _profile_view(settings: Settings, row: Any) -> TaxProfileView:
    return TaxProfileView(
        writer=row.writer_id,
        country=row.country,
        payee_type=row.payee_type,
        tin=row.tin,
        rate=rate_for(settings, row.country, row.payee_type, row.tin is not None),
        updated_at=as_utc(row.updated_at),  # type: ignore[arg-type]
    )


def set_tax_profile(
    session: Session,
    settings: Settings,
    *,
    writer: str,
    country: str,
    payee_type: str,
    tin: str | None,
    actor: str,
) -> TaxProfileView:
    """Create or replace a writer's tax profile (the TIN checked against the country's
    format: INVALID_TIN, exit 3)."""
    from legato_pay.readers.users import get_user

    validate_country(country)
    validate_payee_type(payee_type)
    if tin is not None:
        validate_tin(settings, country, tin)
    get_user(session, writer, kind="writer")
    values = {
        "country": country,
        "payee_type": payee_type,
        "tin": tin,
        "actor": actor,
        "updated_at": utcnow(),
    }
    if not insert_if_absent(session, TAX_PROFILES, ["writer_id"], writer_id=writer, **values):
        session.execute(
            update(TAX_PROFILES).where(TAX_PROFILES.c.writer_id == writer).values(**values)
        )
    return get_tax_profile(session, settings, writer)


def _profile_row(session: Session, writer: str) -> Any:
    return session.execute(select(TAX_PROFILES).where(TAX_PROFILES.c.writer_id == writer)).first()


def get_tax_profile(session: Session, settings: Settings, writer: str) -> TaxProfileView:
    """A writer's profile; USER_NOT_FOUND for an unknown writer, TAX_PROFILE_NOT_FOUND (5)
    for a writer without one."""
    from legato_pay.readers.users import get_user

    get_user(session, writer)
    row = _profile_row(session, writer)
    if row is None:
        raise NotFound(
            f"writer {writer} has no tax profile",
            details={"writer": writer},
            code="TAX_PROFILE_NOT_FOUND",
        )
    return _profile_view(settings, row)


def list_tax_profiles(
    session: Session, settings: Settings, *, country: str | None = None, limit: int = 1000
) -> list[TaxProfileView]:
    query = select(TAX_PROFILES).order_by(TAX_PROFILES.c.writer_id).limit(limit)
    if country is not None:
        query = query.where(TAX_PROFILES.c.country == validate_country(country))
    return [_profile_view(settings, row) for row in session.execute(query)]


def withholding_for(
    session: Session, settings: Settings, writer: str, gross_minor: int, currency: str
) -> tuple[int, Decimal, str | None]:
    """``(tax_minor, rate_percent, country)`` to withhold from a payout of ``gross_minor``.

    By the writer's tax profile; a writer without one, or in a country without a table,
    has nothing withheld (rate 0; country None without a profile). The tax goes to
    ``chart.tax_withholding(country, currency)``."""
    if currency not in CURRENCY_EXPONENTS:
        raise InvalidInput(f"unknown currency {str(currency)[:8]!r}", code="INVALID_CURRENCY")
    row = _profile_row(session, writer)
    if row is None:
        withhold(gross_minor, Decimal(0))  # validates the amount all the same
        return 0, Decimal(0), None
    rate = rate_for(settings, row.country, row.payee_type, row.tin is not None)
    return withhold(gross_minor, rate), rate, row.country


# -- remittances -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RemittanceView:
    id: int
    country: str
    period: str
    currency: str
    amount: int
    reference: str
    due_date: date
    entry_id: int | None
    actor: str
    created_at: datetime

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "country": self.country,
            "period": self.period,
            "currency": self.currency,
            "amount_minor": self.amount,
            "reference": self.reference,
            "due_date": self.due_date.isoformat(),
            "late": self.created_at.date() > self.due_date,
            "entry_id": self.entry_id,
            "actor": self.actor,
            "created_at": self.created_at.isoformat(),
        }


def _remittance_view(row: Any) -> RemittanceView:
    due = row.due_date if isinstance(row.due_date, date) else date.fromisoformat(row.due_date)
    return RemittanceView(
        id=row.id,
        country=row.country,
        period=row.period,
        currency=row.currency,
        amount=int(row.amount),
        reference=row.reference,
        due_date=due,
        entry_id=row.entry_id,
        actor=row.actor,
        created_at=as_utc(row.created_at),  # type: ignore[arg-type]
    )


def withheld_in_period(session: Session, country: str, currency: str, period: str) -> int:
    """Tax withheld for ``country`` in ``currency`` by entries effective in ``period``, net of
    any reversal in it, remittance entries excluded."""
    start, end = parse_period(period)
    signed = func.sum(case((LEGS.c.is_debit, -LEGS.c.amount), else_=LEGS.c.amount))
    remitted_entries = select(TAX_REMITTANCES.c.entry_id).where(
        TAX_REMITTANCES.c.entry_id.is_not(None)
    )
    total = session.execute(
        select(signed)
        .select_from(LEGS)
        .join(ACCOUNTS, ACCOUNTS.c.id == LEGS.c.account_id)
        .join(ENTRIES, ENTRIES.c.id == LEGS.c.entry_id)
        .where(
            ACCOUNTS.c.code == chart.tax_withholding(country, currency),
            ENTRIES.c.effective_at >= start,
            ENTRIES.c.effective_at < end,
            LEGS.c.entry_id.not_in(remitted_entries),
        )
    ).scalar_one()
    return int(total or 0)


def _withholding_currencies(session: Session, country: str) -> list[str]:
    prefix = chart.tax_withholding(country, "")
    rows = session.execute(
        select(ACCOUNTS.c.currency)
        .where(ACCOUNTS.c.code.startswith(prefix, autoescape=True))
        .order_by(ACCOUNTS.c.currency)
    )
    return [row.currency for row in rows]


def _remitted(session: Session, country: str, period: str) -> dict[str, Any]:
    rows = session.execute(
        select(TAX_REMITTANCES).where(
            TAX_REMITTANCES.c.country == country, TAX_REMITTANCES.c.period == period
        )
    )
    return {row.currency: row for row in rows}


def remit_tax(
    session: Session,
    settings: Settings,
    *,
    country: str,
    period: str,
    reference: str,
    actor: str,
    currency: str | None = None,
    now: datetime | None = None,
) -> list[RemittanceView]:
    """Record that ``period``'s withholding for ``country`` was paid to the authority: per
    currency (``currency``, or each one with tax withheld), one ledger entry moving it from
    ``tax:withholding:<country>:<CUR>`` to ``platform:cash:tax:<CUR>``, and one remittance row.

    Refused, with nothing written: a period not over yet (PERIOD_OPEN, 6), a period (and
    currency) remitted before (ALREADY_EXISTS, 6), nothing withheld to remit
    (NOTHING_TO_REMIT, 6)."""
    from legato_pay.ledger import EntrySpec, post_entries

    validate_country(country)
    _, end = parse_period(period)
    if not isinstance(reference, str) or not _REFERENCE.fullmatch(reference):
        raise InvalidInput(
            "--reference is the authority's receipt number (letters, digits, _ - . / :)",
            details={"reference": str(reference)[:100]},
        )
    if currency is not None and currency not in CURRENCY_EXPONENTS:
        raise InvalidInput(f"unknown currency {currency[:8]!r}", code="INVALID_CURRENCY")
    moment = as_utc(now) or utcnow()
    if moment < end:
        raise InvalidState(
            f"{period} is not over yet: remit it from {end.date().isoformat()}",
            details={"period": period},
            code="PERIOD_OPEN",
        )
    done = _remitted(session, country, period)
    currencies = [currency] if currency is not None else _withholding_currencies(session, country)
    if any(code in done for code in currencies) and (
        currency is not None or all(code in done for code in currencies)
    ):
        first = done[next(code for code in currencies if code in done)]
        raise AlreadyExists(
            f"{country} {period} was already remitted (reference {first.reference})",
            details={"country": country, "period": period, "reference": first.reference},
        )
    amounts = {
        code: withheld_in_period(session, country, code, period)
        for code in currencies
        if code not in done
    }
    amounts = {code: amount for code, amount in amounts.items() if amount > 0}
    if not amounts:
        raise InvalidState(
            f"nothing was withheld for {country} in {period}",
            details={"country": country, "period": period},
            code="NOTHING_TO_REMIT",
        )
    due = due_date(settings, country, period)
    views = []
    for code, amount in amounts.items():
        liability, cash = chart.tax_withholding(country, code), chart.tax_cash(code)
        chart.open_accounts(
            session, [chart.tax_withholding_account(country, code), chart.tax_cash_account(code)]
        )
        entry = post_entries(
            session,
            [
                EntrySpec(
                    legs=(
                        LegSpec(liability, "debit", amount, code),
                        LegSpec(cash, "credit", amount, code),
                    ),
                    idempotency_key=f"tax-remit:{country}:{period}:{code}",
                    reason=f"{country} withholding tax {period} remitted, reference {reference}",
                    metadata={"country": country, "period": period, "reference": reference},
                )
            ],
            actor=actor,
            now=moment,
        )[0]
        inserted = insert_if_absent(
            session,
            TAX_REMITTANCES,
            ["country", "period", "currency"],
            country=country,
            period=period,
            currency=code,
            amount=amount,
            reference=reference,
            due_date=due,
            entry_id=entry.id,
            actor=actor,
            created_at=moment,
        )
        if not inserted or entry.replayed:
            raise AlreadyExists(
                f"{country} {period} {code} was already remitted",
                details={"country": country, "period": period, "currency": code},
            )
        views.append(_remittance_view(_remitted(session, country, period)[code]))
    return views


def list_remittances(
    session: Session, *, country: str | None = None, limit: int = 1000
) -> list[RemittanceView]:
    query = (
        select(TAX_REMITTANCES)
        .order_by(TAX_REMITTANCES.c.period.desc(), TAX_REMITTANCES.c.country)
        .limit(limit)
    )
    if country is not None:
        query = query.where(TAX_REMITTANCES.c.country == validate_country(country))
    return [_remittance_view(row) for row in session.execute(query)]
