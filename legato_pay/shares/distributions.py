"""App revenue distributions: an app's revenue paid to its investors, pro rata by the units
each held at a record date.

The amount is split by largest remainder (``money.allocate``: the parts add up to the amount
to the minor unit, ties to the earlier investor id) and paid in ONE ledger entry: the app's
``app:<a>:funds:<CUR>`` debited once, a leg per investor credited into
``investor:<i>:earnings:<CUR>``. The distribution row and its lines (units, amount, remainder
unit) commit with that entry or not at all. A key makes it idempotent: the same request again
returns the first distribution and posts nothing; the key for a different request is
IDEMPOTENCY_CONFLICT. ``dry_run`` computes the same lines and writes nothing.

The record date must not be in the future (who holds what then is not known yet); units are
read from the register's journal, so transfers after the record date change nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from legato_pay import chart
from legato_pay.errors import InvalidState, InvalidTime
from legato_pay.idempotency import check_key, ensure_same_request
from legato_pay.ledger import EntrySpec, LegSpec, post_entries
from legato_pay.ledger.types import as_utc, utcnow
from legato_pay.money import allocate, format_amount, normalize_currency, parse_amount
from legato_pay.shares.apps import lock_app, require_app
from legato_pay.shares.register import holders_at
from legato_pay.store.tables import DISTRIBUTION_LINES, DISTRIBUTIONS

#: Leaves room for the ``distribution:`` prefix of the ledger key within its 200 characters.
MAX_KEY_LENGTH = 180


@dataclass(frozen=True, slots=True)
class DistributionLine:
    investor: str
    units: int
    amount: int
    remainder_units: int


@dataclass(frozen=True, slots=True)
class DistributionView:
    """A distribution as recorded (or, for a dry run, as it would be: no id, no entry)."""

    id: int | None
    app: str
    amount: int
    currency: str
    record_date: datetime
    total_units: int
    key: str | None
    entry_id: int | None
    actor: str
    created_at: datetime | None
    lines: tuple[DistributionLine, ...] = field(default=())
    dry_run: bool = False
    replayed: bool = False

    def as_json(self, *, with_lines: bool = True) -> dict[str, Any]:
        data: dict[str, Any] = {
            "id": self.id,
            "app": self.app,
            "amount_minor": self.amount,
            "currency": self.currency,
            "amount": format_amount(self.amount, self.currency),
            "record_date": self.record_date.isoformat(),
            "total_units": self.total_units,
            "holders": len(self.lines),
            "key": self.key,
            "entry_id": self.entry_id,
            "actor": self.actor,
            "created_at": self.created_at.isoformat() if self.created_at else None,
            "dry_run": self.dry_run,
            "replayed": self.replayed,
        }
        if with_lines:
            data["lines"] = [
                {
                    "investor": line.investor,
                    "account": chart.investor_earnings(line.investor, self.currency),
                    "units": line.units,
                    "amount_minor": line.amount,
                    "amount": format_amount(line.amount, self.currency),
                    "remainder_units": line.remainder_units,
                }
                for line in self.lines
            ]
        return data


def plan_lines(amount: int, holders: list[tuple[str, int]]) -> tuple[DistributionLine, ...]:
    """Pro rata by units, largest remainder; each line says whether it got a remainder unit."""
    total_units = sum(units for _, units in holders)
    parts = allocate(amount, [units for _, units in holders])
    return tuple(
        DistributionLine(investor, units, part, part - amount * units // total_units)
        for (investor, units), part in zip(holders, parts, strict=True)
    )


def distribute_revenue(
    session: Session,
    *,
    actor: str,
    app_id: str,
    amount: str,
    currency: str,
    record_date: datetime | None,
    key: str | None = None,
    dry_run: bool = False,
    now: datetime | None = None,
) -> DistributionView:
    """Distribute ``amount`` (major units of ``currency``) of an app's revenue to its holders
    at ``record_date`` (None: now, the moment of the first run for a retried key)."""
    code = normalize_currency(currency)
    minor = parse_amount(amount, code, positive=True)
    key = check_key(key, max_length=MAX_KEY_LENGTH)
    moment = as_utc(now) or utcnow()
    record = as_utc(record_date) or moment
    if record > moment:
        raise InvalidTime(
            "the record date is in the future: who holds what then is not known yet",
            details={"record_date": record.isoformat()},
        )
    if dry_run:
        require_app(session, app_id)
    else:
        lock_app(session, app_id, exclusive=True)
    wanted = {
        "app": app_id,
        "amount": minor,
        "currency": code,
        "record_date": record.isoformat(),
    }
    replay = _replay(session, key, wanted, record_now=record_date is None)
    if replay is not None:
        return replay
    holders = holders_at(session, app_id, record)
    if not holders:
        raise InvalidState(
            f"nobody held units of {app_id} at {record.isoformat()}: nothing to distribute to",
            details={"app": app_id, "record_date": record.isoformat()},
            code="NO_HOLDERS",
        )
    lines = plan_lines(minor, holders)
    total_units = sum(units for _, units in holders)
    if dry_run:
        return DistributionView(
            None, app_id, minor, code, record, total_units, key, None, actor, None, lines, True
        )
    entry_id = _post(session, app_id, minor, code, record, lines, key, actor)
    row: dict[str, Any] = {
        "app_id": app_id,
        "amount": minor,
        "currency": code,
        "record_date": record,
        "total_units": total_units,
        "idempotency_key": key,
        "entry_id": entry_id,
        "actor": actor,
        "created_at": moment,
    }
    distribution_id = session.execute(
        DISTRIBUTIONS.insert().values(**row).returning(DISTRIBUTIONS.c.id)
    ).scalar_one()
    session.execute(
        DISTRIBUTION_LINES.insert(),
        [
            {
                "distribution_id": distribution_id,
                "investor_id": line.investor,
                "units": line.units,
                "amount": line.amount,
                "remainder_units": line.remainder_units,
            }
            for line in lines
        ],
    )
    return DistributionView(
        distribution_id,
        app_id,
        minor,
        code,
        record,
        total_units,
        key,
        entry_id,
        actor,
        moment,
        lines,
    )


def list_distributions(
    session: Session, app_id: str, *, limit: int = 1000
) -> list[DistributionView]:
    """An app's distributions, newest first, each with its lines."""
    require_app(session, app_id)
    rows = list(
        session.execute(
            select(DISTRIBUTIONS)
            .where(DISTRIBUTIONS.c.app_id == app_id)
            .order_by(DISTRIBUTIONS.c.id.desc())
            .limit(limit)
        )
    )
    lines = _lines(session, [row.id for row in rows])
    return [_view(dict(row._mapping), lines.get(row.id, ())) for row in rows]


def _post(
    session: Session,
    app_id: str,
    amount: int,
    currency: str,
    record: datetime,
    lines: tuple[DistributionLine, ...],
    key: str | None,
    actor: str,
) -> int:
    """The one entry: the app's funds debited, a leg per investor paid something."""
    paid = [line for line in lines if line.amount > 0]
    chart.open_accounts(
        session,
        [
            chart.app_funds_account(app_id, currency),
            *(chart.investor_earnings_account(line.investor, currency) for line in paid),
        ],
    )
    legs = (
        LegSpec(chart.app_funds(app_id, currency), "debit", amount, currency),
        *(
            LegSpec(
                chart.investor_earnings(line.investor, currency), "credit", line.amount, currency
            )
            for line in paid
        ),
    )
    entry = post_entries(
        session,
        [
            EntrySpec(
                legs=legs,
                idempotency_key=f"distribution:{key}" if key else None,
                reason=f"revenue distribution of {app_id} at {record.isoformat()}",
                metadata={
                    "kind": "app_distribution",
                    "app": app_id,
                    "record_date": record.isoformat(),
                },
            )
        ],
        actor=actor,
    )[0]
    return entry.id


def _replay(
    session: Session, key: str | None, wanted: dict[str, Any], *, record_now: bool
) -> DistributionView | None:
    """The distribution ``key`` first made, if any. A request whose record date is "now" is
    the same request whenever it is retried: it matches the record date of the first run."""
    if key is None:
        return None
    row = session.execute(
        select(DISTRIBUTIONS).where(DISTRIBUTIONS.c.idempotency_key == key)
    ).first()
    if row is None:
        return None
    stored = {
        "app": row.app_id,
        "amount": row.amount,
        "currency": row.currency,
        "record_date": as_utc(row.record_date).isoformat(),  # type: ignore[union-attr]
    }
    if record_now:
        wanted = {**wanted, "record_date": stored["record_date"]}
    ensure_same_request(
        key, stored=stored, wanted=wanted, what="distribution", details={"distribution": row.id}
    )
    lines = _lines(session, [row.id]).get(row.id, ())
    return _view(dict(row._mapping), lines, replayed=True)


def _lines(session: Session, ids: list[int]) -> dict[int, tuple[DistributionLine, ...]]:
    if not ids:
        return {}
    found: dict[int, list[DistributionLine]] = {}
    query = (
        select(DISTRIBUTION_LINES)
        .where(DISTRIBUTION_LINES.c.distribution_id.in_(ids))
        .order_by(DISTRIBUTION_LINES.c.distribution_id, DISTRIBUTION_LINES.c.investor_id)
    )
    for row in session.execute(query):
        found.setdefault(row.distribution_id, []).append(
            DistributionLine(row.investor_id, row.units, row.amount, row.remainder_units)
        )
    return {key: tuple(value) for key, value in found.items()}


def _view(
    row: dict[str, Any], lines: tuple[DistributionLine, ...], *, replayed: bool = False
) -> DistributionView:
    return DistributionView(
        id=row["id"],
        app=row["app_id"],
        amount=row["amount"],
        currency=row["currency"],
        record_date=as_utc(row["record_date"]),  # type: ignore[arg-type]
        total_units=row["total_units"],
        key=row["idempotency_key"],
        entry_id=row["entry_id"],
        actor=row["actor"],
        created_at=as_utc(row["created_at"]),
        lines=lines,
        replayed=replayed,
    )
