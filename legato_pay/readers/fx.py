"""Exchange rates: stored observations, freshness, and which currencies a purchase may use.

A rate row says ``rate`` units of ``quote`` per one unit of ``base``, as an exact decimal string
(never a float), with its ``source`` and ``as_of`` time. Conversions use the newest row for the
pair and record its id; a row older than ``rates.max_age_hours`` is refused (``STALE_RATE``)
rather than silently used, and a missing one is ``NO_RATE``; both exit 3.

``rates fetch`` reads ``rates.provider_url`` with one HTTP GET (outside any transaction) and
expects this JSON document::

    {"base": "USD", "as_of": "2026-01-31T12:00:00Z", "rates": {"NGN": "1550.25", "CAD": "1.37"}}

Rates may be JSON strings or numbers; numbers are read as their exact decimal text, never as
floats. ``as_of`` is optional (defaults to the time of the fetch). Quotes outside the configured
currencies are skipped; a pair whose newest row already has the same rate and ``as_of`` is left
unchanged, so fetching twice stores nothing twice.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal, localcontext
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from sqlalchemy import select
from sqlalchemy.orm import Session

from legato_pay.config import Settings
from legato_pay.errors import (
    ConfigError,
    GatewayError,
    GatewayUnavailable,
    InvalidAmount,
    InvalidCurrency,
    InvalidInput,
    InvalidTime,
)
from legato_pay.ledger.types import as_utc, utcnow
from legato_pay.money import normalize_currency
from legato_pay.store.tables import RATES

if TYPE_CHECKING:
    from legato_pay.context import AppContext

#: How far in the future an ``as_of`` may lie (clock skew between us and a provider).
FUTURE_SKEW = timedelta(minutes=5)
_RATE = re.compile(r"[0-9]{1,18}(?:\.[0-9]{1,18})?", re.ASCII)
#: The most a rate provider's answer may be: a few hundred quotes fit in far less.
MAX_PROVIDER_BYTES = 1024 * 1024


@dataclass(frozen=True, slots=True)
class RateView:
    id: int
    base: str
    quote: str
    rate: str
    source: str
    as_of: datetime
    created_at: datetime

    def age_seconds(self, now: datetime | None = None) -> int:
        return int(((now or utcnow()) - self.as_of).total_seconds())

    def is_stale(self, settings: Settings, now: datetime | None = None) -> bool:
        return (now or utcnow()) - self.as_of > timedelta(hours=settings.rates.max_age_hours)

    def as_json(
        self, settings: Settings | None = None, now: datetime | None = None
    ) -> dict[str, Any]:
        data: dict[str, Any] = {
            "id": self.id,
            "base": self.base,
            "quote": self.quote,
            "rate": self.rate,
            "source": self.source,
            "as_of": self.as_of.isoformat(),
            "created_at": self.created_at.isoformat(),
        }
        if settings is not None:
            data["age_seconds"] = self.age_seconds(now)
            data["stale"] = self.is_stale(settings, now)
        return data


# -- currencies ------------------------------------------------------------------------------


def configured_currency(settings: Settings, currency: str) -> str:
    """A currency code from the edge that the platform is configured for (not COIN)."""
    code = normalize_currency(currency)
    if code == "COIN" or code not in settings.currencies:
        raise InvalidCurrency(
            f"{code} is not one of the configured currencies ({', '.join(settings.currencies)})",
            details={"currency": code, "configured": list(settings.currencies)},
        )
    return code


def accepted_currency(settings: Settings, currency: str) -> str:
    """A currency a purchase may be priced in: only the base currency unless multi-currency."""
    code = configured_currency(settings, currency)
    if not settings.features.enable_multi_currency and code != settings.base_currency:
        raise InvalidCurrency(
            f"multi-currency is off (features.enable_multi_currency): only "
            f"{settings.base_currency} is accepted",
            details={"currency": code, "base_currency": settings.base_currency},
            code="MULTI_CURRENCY_DISABLED",
        )
    return code


def parse_rate(value: object) -> str:
    """A positive rate as a canonical decimal string ("1550.25"); floats are refused."""
    if isinstance(value, (bool, float)):
        raise InvalidAmount("exchange rates must be decimal strings, never float")
    raw = str(value).strip(" ")  # a newline or tab is refused, never trimmed away
    if not _RATE.fullmatch(raw):
        raise InvalidAmount(
            f"{raw!r} is not a plain positive decimal rate, e.g. 1550.25", details={"rate": raw}
        )
    with localcontext() as context:
        context.prec = 60
        number = Decimal(raw)
        if number <= 0:
            raise InvalidAmount("an exchange rate must be greater than zero", details={"rate": raw})
        return format(number.normalize(), "f")


def parse_time(value: str | datetime | None, *, field: str = "as_of") -> datetime | None:
    """ISO 8601 (``Z`` allowed) to an aware UTC time; a naive time is taken as UTC."""
    if value is None or isinstance(value, datetime):
        return as_utc(value)
    try:
        return as_utc(datetime.fromisoformat(str(value).strip().replace("Z", "+00:00")))
    except (ValueError, OverflowError):  # overflow: a time whose UTC lies outside years 1-9999
        raise InvalidTime(
            f"{field} must be an ISO 8601 time, e.g. 2026-01-31T12:00:00Z",
            details={field: str(value)[:100]},
        ) from None


def _pair(settings: Settings, base: str, quote: str) -> tuple[str, str]:
    base_code = configured_currency(settings, base)
    quote_code = configured_currency(settings, quote)
    if base_code == quote_code:
        raise InvalidInput("a rate needs two different currencies", details={"base": base_code})
    return base_code, quote_code


# -- storage ---------------------------------------------------------------------------------


def _row_to_view(row: Any) -> RateView:
    return RateView(
        id=row.id,
        base=row.base,
        quote=row.quote,
        rate=row.rate,
        source=row.source,
        as_of=as_utc(row.as_of),  # type: ignore[arg-type]
        created_at=as_utc(row.created_at),  # type: ignore[arg-type]
    )


def _insert(
    session: Session, base: str, quote: str, rate: str, source: str, as_of: datetime
) -> RateView:
    row = session.execute(
        RATES.insert()
        .values(base=base, quote=quote, rate=rate, source=source, as_of=as_of, created_at=utcnow())
        .returning(*RATES.c)
    ).one()
    return _row_to_view(row)


def set_rate(
    session: Session,
    settings: Settings,
    base: str,
    quote: str,
    rate: object,
    *,
    source: str = "manual",
    as_of: str | datetime | None = None,
    now: datetime | None = None,
) -> RateView:
    """Record one observed rate (a new row: rates are history, never edited)."""
    base_code, quote_code = _pair(settings, base, quote)
    text = parse_rate(rate)
    source = (source or "").strip()
    if not source or len(source) > 100 or not source.isprintable():
        raise InvalidInput(
            "source must be 1 to 100 printable characters", details={"source": source[:100]}
        )
    moment = now or utcnow()
    observed = parse_time(as_of) or moment
    if observed > moment + FUTURE_SKEW:
        raise InvalidTime("as_of lies in the future", details={"as_of": observed.isoformat()})
    return _insert(session, base_code, quote_code, text, source, observed)


def latest_rate(session: Session, base: str, quote: str) -> RateView | None:
    row = session.execute(
        select(RATES)
        .where(RATES.c.base == base, RATES.c.quote == quote)
        .order_by(RATES.c.as_of.desc(), RATES.c.id.desc())
        .limit(1)
    ).first()
    return _row_to_view(row) if row else None


def rate_for(
    session: Session, settings: Settings, base: str, quote: str, *, now: datetime | None = None
) -> RateView:
    """The newest rate for the pair, refusing a missing (NO_RATE) or stale (STALE_RATE) one."""
    found = latest_rate(session, base, quote)
    if found is None:
        raise InvalidInput(
            f"no {base}→{quote} rate: record one with `rates set {base} {quote} RATE` "
            "or `rates fetch`",
            details={"base": base, "quote": quote},
            code="NO_RATE",
        )
    if found.is_stale(settings, now):
        raise InvalidInput(
            f"the newest {base}→{quote} rate is from {found.as_of.isoformat()}, older than "
            f"{settings.rates.max_age_hours} hours; refresh it before converting",
            details={
                "base": base,
                "quote": quote,
                "rate_id": found.id,
                "as_of": found.as_of.isoformat(),
                "age_seconds": found.age_seconds(now),
                "max_age_hours": settings.rates.max_age_hours,
            },
            code="STALE_RATE",
        )
    return found


def get_rate(session: Session, rate_id: int) -> RateView | None:
    return get_rates(session, [rate_id]).get(rate_id)


def get_rates(session: Session, rate_ids: Iterable[int]) -> dict[int, RateView]:
    """Several rates by id in one query (absent ids are left out)."""
    wanted = sorted(set(rate_ids))
    if not wanted:
        return {}
    rows = session.execute(select(RATES).where(RATES.c.id.in_(wanted)))
    return {row.id: _row_to_view(row) for row in rows}


def list_rates(
    session: Session,
    *,
    base: str | None = None,
    quote: str | None = None,
    history: bool = False,
    limit: int = 1000,
) -> list[RateView]:
    """The newest rate of every pair (or, with ``history``, every row), newest first."""
    query = select(RATES).order_by(
        RATES.c.base, RATES.c.quote, RATES.c.as_of.desc(), RATES.c.id.desc()
    )
    if base:
        query = query.where(RATES.c.base == normalize_currency(base))
    if quote:
        query = query.where(RATES.c.quote == normalize_currency(quote))
    result: list[RateView] = []
    seen: set[tuple[str, str]] = set()
    for row in session.execute(query):
        if not history and (row.base, row.quote) in seen:
            continue
        seen.add((row.base, row.quote))
        result.append(_row_to_view(row))
        if len(result) >= limit:
            break
    return result


# -- fetching --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class FetchedRates:
    base: str
    as_of: datetime
    rates: dict[str, str]  # upper-cased code -> decimal text as the provider wrote it
    source: str
    url: str


@dataclass(frozen=True, slots=True)
class FetchResult:
    source: str
    base: str
    as_of: datetime
    stored: list[RateView]
    unchanged: list[str]
    skipped: list[str]

    def as_json(self, settings: Settings) -> dict[str, Any]:
        return {
            "source": self.source,
            "base": self.base,
            "as_of": self.as_of.isoformat(),
            "stored": [rate.as_json(settings) for rate in self.stored],
            "unchanged": self.unchanged,
            "skipped": self.skipped,
        }


def check_provider_url(url: str) -> str:
    """An http(s) URL with a host, at most 2,000 ASCII characters; anything else (a bad port, an
    unclosed IPv6 bracket, a control character) is VALIDATION_ERROR before any request."""
    problem = None
    if len(url) > 2000 or not url.isascii() or not url.isprintable():
        problem = "at most 2,000 printable ASCII characters"
    else:
        try:
            parts = urlsplit(url)
            _ = parts.port  # raises for a port that is not a number in range
        except ValueError:
            problem = "not a valid URL"
        else:
            if parts.scheme not in ("http", "https") or not parts.hostname:
                problem = "http or https, with a host"
    if problem is not None:
        raise InvalidInput(f"the rate provider URL must be {problem}", details={})
    return url


def _safe_url(url: str) -> str:
    """The URL without credentials or query string (provider keys often travel there)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    return f"{parts.scheme}://{host}{parts.path}"


def _provider_error(message: str, url: str, **details: Any) -> GatewayError:
    return GatewayError(
        f"rate provider: {message}",
        details={"url": _safe_url(url), **details},
        code="RATE_PROVIDER_ERROR",
    )


def parse_provider_document(body: str, url: str, *, now: datetime | None = None) -> FetchedRates:
    """Read the provider's JSON exactly: numbers stay decimal text, never floats."""
    try:
        document = json.loads(body, parse_float=str, parse_int=str)
    except ValueError:
        raise _provider_error("the response is not JSON", url) from None
    if not isinstance(document, dict) or not isinstance(document.get("rates"), dict):
        raise _provider_error('the response needs a "rates" object', url)
    moment = now or utcnow()
    try:
        base = normalize_currency(str(document.get("base") or "USD"))
        as_of = parse_time(document.get("as_of")) or moment
    except InvalidInput as error:
        raise _provider_error(f"bad value in the response: {error.message}", url) from None
    if as_of > moment + FUTURE_SKEW:
        raise _provider_error("as_of lies in the future", url, as_of=as_of.isoformat())
    rates: dict[str, str] = {}
    for code, value in document["rates"].items():
        if not isinstance(value, str):  # a JSON object, list, bool or null: not a rate
            raise _provider_error("every rate must be a decimal", url, currency=str(code))
        rates[str(code).strip().upper()] = value
    return FetchedRates(
        base=base, as_of=as_of, rates=rates, source=f"fetch:{urlsplit(url).hostname}", url=url
    )


def download_rates(url: str, *, timeout: float) -> FetchedRates:
    """One GET of the provider URL, read up to ``MAX_PROVIDER_BYTES``. Network trouble is
    GATEWAY_UNAVAILABLE (exit 7)."""
    import httpx

    try:
        with httpx.stream(
            "GET", url, timeout=timeout, headers={"accept": "application/json"}
        ) as response:
            if response.status_code != 200:
                raise _provider_error(
                    f"HTTP {response.status_code}", url, http_status=response.status_code
                )
            body = bytearray()
            for chunk in response.iter_bytes():
                body += chunk
                if len(body) > MAX_PROVIDER_BYTES:
                    raise _provider_error(
                        f"the response is larger than {MAX_PROVIDER_BYTES} bytes", url
                    )
    except httpx.HTTPError as error:
        raise GatewayUnavailable(
            f"rate provider unreachable: {type(error).__name__}",
            details={"url": _safe_url(url)},
            code="RATE_PROVIDER_UNAVAILABLE",
        ) from None
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise _provider_error("the response is not UTF-8 text", url) from None
    return parse_provider_document(text, url)


def store_fetched(session: Session, settings: Settings, fetched: FetchedRates) -> FetchResult:
    """Store the fetched quotes the platform is configured for, skipping unchanged ones."""
    if fetched.base not in settings.currencies:
        raise _provider_error(
            f"base currency {fetched.base} is not configured", fetched.url, base=fetched.base
        )
    base = fetched.base
    stored: list[RateView] = []
    unchanged: list[str] = []
    skipped: list[str] = []
    for quote, raw in sorted(fetched.rates.items()):
        if quote == base or quote not in settings.currencies:
            skipped.append(quote)  # unknown or unconfigured codes are not ours to keep
            continue
        try:
            rate = parse_rate(raw)
        except InvalidInput as error:
            raise _provider_error(error.message, fetched.url, currency=quote) from None
        newest = latest_rate(session, base, quote)
        if newest is not None and newest.rate == rate and newest.as_of == fetched.as_of:
            unchanged.append(quote)
            continue
        stored.append(_insert(session, base, quote, rate, fetched.source, fetched.as_of))
    return FetchResult(fetched.source, base, fetched.as_of, stored, unchanged, skipped)


def fetch_rates(app: AppContext, *, url: str | None = None) -> FetchResult:
    """``rates fetch``: download (no transaction held), then store in one transaction."""
    target = url or app.settings.rates.provider_url
    if not target:
        raise ConfigError(
            "rates.provider_url is not set (config file or LEGATO_RATES__PROVIDER_URL)",
            details={"key": "rates.provider_url"},
        )
    check_provider_url(target)
    fetched = download_rates(target, timeout=app.settings.gateways.timeout_seconds)
    return app.run(lambda session: store_fetched(session, app.settings, fetched))
