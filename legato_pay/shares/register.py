"""The share register: units issued to investors and transferred between them.

Every issue, transfer and cancel (units taken back by an escrow refund) is a row of
``share_movements``, never edited: the register at any
past time is a sum over that journal (``holders_at``). ``share_holdings`` keeps each holder's
current units; a transfer locks both holders' rows (in investor order, so crossing transfers
cannot deadlock; SQLite's write transaction is one lock already) and takes the units away with
a conditional update, so however many transfers from one holder race, no more units leave than
it holds. A priced transfer pays the seller from the buyer's ``investor:<i>:earnings:<CUR>``
in the same unit of work: the units move only if the money does, and the other way round.

With an idempotency key, a retry of the same request returns the first movement; the key for a
different request is IDEMPOTENCY_CONFLICT. The replay check runs after the locks are taken, so
a concurrent duplicate waits for the first and then finds its row.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import func, literal, select, union_all
from sqlalchemy.orm import Session

from legato_pay import chart
from legato_pay.errors import InsufficientFunds, InvalidInput
from legato_pay.idempotency import check_key, ensure_same_request
from legato_pay.ledger import post_entries, transfer
from legato_pay.ledger.types import as_utc, utcnow
from legato_pay.money import format_amount, normalize_currency, parse_amount
from legato_pay.readers.users import get_user
from legato_pay.shares.apps import lock_app, require_app
from legato_pay.store.dialect import for_update
from legato_pay.store.engine import insert_ignore
from legato_pay.store.paging import id_page
from legato_pay.store.tables import HOLDINGS, MOVEMENTS

#: Leaves room for the ``shares:`` prefix of the ledger key within its 200 characters.
MAX_KEY_LENGTH = 180
#: Units are whole numbers below 10**15 (a sum of many still fits 64 bits).
_UNITS = re.compile(r"\+?[0-9]{1,15}", re.ASCII)


@dataclass(frozen=True, slots=True)
class MovementView:
    """One issue or transfer as recorded."""

    id: int
    app: str
    kind: str
    from_investor: str | None
    to_investor: str
    units: int
    price: int | None
    currency: str | None
    entry_id: int | None
    key: str | None
    actor: str
    created_at: datetime
    replayed: bool = False

    def as_json(self) -> dict[str, Any]:
        price = None
        if self.price is not None and self.currency is not None:
            price = {
                "amount": self.price,
                "currency": self.currency,
                "display": format_amount(self.price, self.currency),
            }
        return {
            "id": self.id,
            "app": self.app,
            "kind": self.kind,
            "from": self.from_investor,
            "to": self.to_investor,
            "units": self.units,
            "price": price,
            "entry_id": self.entry_id,
            "key": self.key,
            "actor": self.actor,
            "created_at": self.created_at.isoformat(),
            "replayed": self.replayed,
        }


@dataclass(frozen=True, slots=True)
class Holder:
    investor: str
    units: int
    percent: str

    def as_json(self) -> dict[str, Any]:
        return {"investor": self.investor, "units": self.units, "percent": self.percent}


@dataclass(frozen=True, slots=True)
class RegisterView:
    app: str
    as_of: datetime | None
    holders: tuple[Holder, ...]

    @property
    def total_units(self) -> int:
        return sum(holder.units for holder in self.holders)

    def as_json(self) -> dict[str, Any]:
        return {
            "app": self.app,
            "as_of": self.as_of.isoformat() if self.as_of else None,
            "holders": [holder.as_json() for holder in self.holders],
            "total_units": self.total_units,
        }


@dataclass(frozen=True, slots=True)
class _Request:
    """What an idempotency key promises: the same movement, field for field."""

    app: str
    kind: str
    from_investor: str | None
    to_investor: str
    units: int
    price: int | None
    currency: str | None


def parse_units(value: object, *, field: str = "units") -> int:
    """A whole number of units greater than zero (INVALID_UNITS, exit 3, otherwise)."""
    raw = str(value).strip() if isinstance(value, str | int) and not isinstance(value, bool) else ""
    if not _UNITS.fullmatch(raw) or int(raw) <= 0:
        raise InvalidInput(
            f"{field} must be a whole number greater than zero (at most 15 digits)",
            details={field: str(value)[:40]},
            code="INVALID_UNITS",
        )
    return int(raw)


def require_investor(session: Session, investor: str) -> None:
    """USER_NOT_FOUND (5) for an unknown id; NOT_AN_INVESTOR (3) for a reader or writer."""
    user = get_user(session, investor)
    if user.kind != "investor":
        raise InvalidInput(
            f"{investor} is a {user.kind}, and only investors hold shares",
            details={"user": investor, "kind": user.kind},
            code="NOT_AN_INVESTOR",
        )


def issue_shares(
    session: Session,
    *,
    actor: str,
    app_id: str,
    to_investor: str,
    units: object,
    key: str | None = None,
    now: datetime | None = None,
) -> MovementView:
    """Issue new units of an app to an investor."""
    request = _Request(app_id, "issue", None, to_investor, parse_units(units), None, None)
    key = check_key(key, max_length=MAX_KEY_LENGTH)
    lock_app(session, app_id, exclusive=False)
    require_investor(session, to_investor)
    _, moment = _lock_holdings(session, app_id, [to_investor], now)
    replay = _replay(session, key, request)
    if replay is not None:
        return replay
    _add_units(session, app_id, to_investor, request.units, moment)
    return _record(session, request, key=key, entry_id=None, actor=actor, now=moment)


def transfer_shares(
    session: Session,
    *,
    actor: str,
    app_id: str,
    from_investor: str,
    to_investor: str,
    units: object,
    price: str | None = None,
    currency: str | None = None,
    key: str | None = None,
    now: datetime | None = None,
) -> MovementView:
    """Move units between investors; with ``price`` (the total paid, in major units of
    ``currency``) the buyer pays the seller in the same unit of work."""
    count = parse_units(units)
    price_minor, price_currency = _parse_price(price, currency)
    request = _Request(
        app_id, "transfer", from_investor, to_investor, count, price_minor, price_currency
    )
    key = check_key(key, max_length=MAX_KEY_LENGTH)
    if from_investor == to_investor:
        raise InvalidInput(
            "cannot transfer shares to the same investor",
            details={"investor": from_investor},
            code="SELF_TRANSFER",
        )
    lock_app(session, app_id, exclusive=False)
    require_investor(session, from_investor)
    require_investor(session, to_investor)
    held, moment = _lock_holdings(session, app_id, [from_investor, to_investor], now)
    replay = _replay(session, key, request)
    if replay is not None:
        return replay
    if held[from_investor] < count:
        raise InsufficientFunds(
            f"{from_investor} holds {held[from_investor]} units of {app_id}, cannot transfer "
            f"{count}",
            details={
                "app": app_id,
                "investor": from_investor,
                "held": held[from_investor],
                "requested": count,
            },
            code="INSUFFICIENT_UNITS",
        )
    entry_id = None
    if price_minor is not None and price_currency is not None:
        entry_id = _pay_seller(session, request, price_minor, price_currency, key, actor)
    _add_units(session, app_id, from_investor, -count, moment)
    _add_units(session, app_id, to_investor, count, moment)
    return _record(session, request, key=key, entry_id=entry_id, actor=actor, now=moment)


def cancel_units(
    session: Session,
    *,
    actor: str,
    app_id: str,
    investor: str,
    units: int,
    key: str | None = None,
    now: datetime | None = None,
) -> MovementView | None:
    """Cancel up to ``units`` of an investor's units (an escrow refund takes back the shares its
    deposit paid for): a ``cancel`` movement from and to the investor, counted only as units
    leaving them. Never below zero: units the investor no longer holds (transferred away) stay
    where they are. None when nothing was cancelled."""
    if units <= 0:
        return None
    key = check_key(key, max_length=MAX_KEY_LENGTH)
    lock_app(session, app_id, exclusive=False)
    holdings, moment = _lock_holdings(session, app_id, [investor], now)
    taken = min(units, holdings[investor])
    request = _Request(app_id, "cancel", investor, investor, taken, None, None)
    replay = _replay(session, key, request) if key is not None else None
    if replay is not None or taken == 0:
        return replay
    _add_units(session, app_id, investor, -taken, moment)
    return _record(session, request, key=key, entry_id=None, actor=actor, now=moment)


def holders_at(session: Session, app_id: str, as_of: datetime | None) -> list[tuple[str, int]]:
    """(investor, units) with units > 0, by investor id: the current holdings, or the sum of
    the register's movements up to ``as_of`` (inclusive), computed in SQL."""
    if as_of is None:
        query = (
            select(HOLDINGS.c.investor_id, HOLDINGS.c.units)
            .where(HOLDINGS.c.app_id == app_id, HOLDINGS.c.units > 0)
            .order_by(HOLDINGS.c.investor_id)
        )
        return [(row[0], int(row[1])) for row in session.execute(query)]
    window = (MOVEMENTS.c.app_id == app_id, MOVEMENTS.c.created_at <= as_utc(as_of))
    credits = select(
        MOVEMENTS.c.to_investor.label("investor"), MOVEMENTS.c.units.label("units")
    ).where(*window, MOVEMENTS.c.kind != "cancel")  # a cancel only takes units away
    debits = select(
        MOVEMENTS.c.from_investor.label("investor"), (literal(0) - MOVEMENTS.c.units).label("units")
    ).where(*window, MOVEMENTS.c.from_investor.is_not(None))
    moves = union_all(credits, debits).subquery()
    total = func.sum(moves.c.units)
    query = (
        select(moves.c.investor, total)
        .group_by(moves.c.investor)
        .having(total > 0)
        .order_by(moves.c.investor)
    )
    return [(row[0], int(row[1])) for row in session.execute(query)]


def share_register(session: Session, app_id: str, *, as_of: datetime | None = None) -> RegisterView:
    """Holders, units and percentage of the units outstanding, now or at ``as_of``."""
    require_app(session, app_id)
    rows = holders_at(session, app_id, as_of)
    total = sum(units for _, units in rows)
    holders = tuple(Holder(investor, units, _percent(units, total)) for investor, units in rows)
    return RegisterView(app_id, as_utc(as_of), holders)


def share_history(
    session: Session, app_id: str, *, after: int | None = None, limit: int = 100
) -> tuple[list[MovementView], int | None]:
    """The app's movements in order, a page at a time: (page, id to continue after or None)."""
    require_app(session, app_id)
    query = select(MOVEMENTS).where(MOVEMENTS.c.app_id == app_id).order_by(MOVEMENTS.c.id)
    return id_page(
        session,
        query,
        MOVEMENTS.c.id,
        after=after,
        limit=limit,
        view=lambda row: _view(dict(row._mapping)),
    )


def _percent(units: int, total: int) -> str:
    if total == 0:
        return "0.0000"
    return str((Decimal(units) * 100 / Decimal(total)).quantize(Decimal("0.0001")))


def _parse_price(price: str | None, currency: str | None) -> tuple[int | None, str | None]:
    if price is None and currency is None:
        return None, None
    if price is None or currency is None:
        raise InvalidInput(
            "--price and --currency go together", details={"price": price, "currency": currency}
        )
    code = normalize_currency(currency)
    return parse_amount(price, code, positive=True), code


def _lock_holdings(
    session: Session, app_id: str, investors: list[str], now: datetime | None
) -> tuple[dict[str, int], datetime]:
    """Make sure each investor has a holding row, lock them in investor order and return the
    units held and the time to stamp a movement with: ``now`` (the real clock by default), or
    the holdings' last change if that is later, so that movements are stamped in the order they
    were made and ``holders_at`` never sees units leave before they came (a caller's earlier
    time, or two hosts' clocks). PostgreSQL locks the rows (and reads their latest committed
    state); SQLite's write transaction is already exclusive."""
    moment = as_utc(now) or utcnow()
    session.execute(
        insert_ignore(session, HOLDINGS, ["app_id", "investor_id"]),
        [
            {"app_id": app_id, "investor_id": investor, "units": 0, "updated_at": moment}
            for investor in sorted(investors)
        ],
    )
    query = (
        select(HOLDINGS.c.investor_id, HOLDINGS.c.units, HOLDINGS.c.updated_at)
        .where(HOLDINGS.c.app_id == app_id, HOLDINGS.c.investor_id.in_(investors))
        .order_by(HOLDINGS.c.investor_id)
    )
    rows = session.execute(for_update(query, session)).all()
    changed = [as_utc(row[2]) for row in rows]
    stamp = max([as_utc(now) or utcnow(), *(when for when in changed if when is not None)])
    return {row[0]: int(row[1]) for row in rows}, stamp


def _add_units(session: Session, app_id: str, investor: str, units: int, now: datetime) -> None:
    """Change a locked holding; the ``units >= …`` guard is the last line against overselling."""
    statement = (
        HOLDINGS.update()
        .where(HOLDINGS.c.app_id == app_id, HOLDINGS.c.investor_id == investor)
        .values(units=HOLDINGS.c.units + units, updated_at=now)
    )
    if units < 0:
        statement = statement.where(HOLDINGS.c.units >= -units)
    changed = session.execute(statement.returning(HOLDINGS.c.units)).first()
    if changed is None:
        raise InsufficientFunds(
            f"{investor} no longer holds {-units} units of {app_id}",
            details={"app": app_id, "investor": investor, "requested": -units},
            code="INSUFFICIENT_UNITS",
        )


def _pay_seller(
    session: Session,
    request: _Request,
    price: int,
    currency: str,
    key: str | None,
    actor: str,
) -> int:
    """The buyer's money to the seller (INSUFFICIENT_FUNDS if the buyer has too little)."""
    buyer, seller = request.to_investor, request.from_investor
    assert seller is not None
    chart.open_accounts(
        session,
        [
            chart.investor_earnings_account(buyer, currency),
            chart.investor_earnings_account(seller, currency),
        ],
    )
    entry = post_entries(
        session,
        [
            transfer(
                chart.investor_earnings(buyer, currency),
                chart.investor_earnings(seller, currency),
                price,
                currency,
                idempotency_key=f"shares:{key}" if key else None,
                reason=f"{request.units} units of {request.app} from {seller} to {buyer}",
                metadata={
                    "kind": "share_transfer",
                    "app": request.app,
                    "from": seller,
                    "to": buyer,
                    "units": request.units,
                },
            )
        ],
        actor=actor,
    )[0]
    return entry.id


def _replay(session: Session, key: str | None, request: _Request) -> MovementView | None:
    if key is None:
        return None
    row = session.execute(select(MOVEMENTS).where(MOVEMENTS.c.idempotency_key == key)).first()
    if row is None:
        return None
    stored = _Request(
        row.app_id, row.kind, row.from_investor, row.to_investor, row.units, row.price, row.currency
    )
    ensure_same_request(
        key,
        stored=asdict(stored),
        wanted=asdict(request),
        what=f"share {row.kind}",
        details={"movement_id": row.id},
    )
    return _view(dict(row._mapping), replayed=True)


def _record(
    session: Session,
    request: _Request,
    *,
    key: str | None,
    entry_id: int | None,
    actor: str,
    now: datetime,
) -> MovementView:
    row: dict[str, Any] = {
        "app_id": request.app,
        "kind": request.kind,
        "from_investor": request.from_investor,
        "to_investor": request.to_investor,
        "units": request.units,
        "price": request.price,
        "currency": request.currency,
        "entry_id": entry_id,
        "idempotency_key": key,
        "actor": actor,
        "created_at": now,
    }
    row["id"] = session.execute(
        MOVEMENTS.insert().values(**row).returning(MOVEMENTS.c.id)
    ).scalar_one()
    return _view(row)


def _view(row: dict[str, Any], *, replayed: bool = False) -> MovementView:
    return MovementView(
        id=row["id"],
        app=row["app_id"],
        kind=row["kind"],
        from_investor=row["from_investor"],
        to_investor=row["to_investor"],
        units=row["units"],
        price=row["price"],
        currency=row["currency"],
        entry_id=row["entry_id"],
        key=row["idempotency_key"],
        actor=row["actor"],
        created_at=as_utc(row["created_at"]),  # type: ignore[arg-type]
        replayed=replayed,
    )
