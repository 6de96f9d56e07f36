"""Reading escrow: one deposit with its timeline and balances (``escrow show``), and pages of
deposits (``escrow list``)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from legato_pay.errors import InvalidInput
from legato_pay.escrow.balances import deposit_balances, get_deposit_row
from legato_pay.escrow.disputes import disputes_of
from legato_pay.escrow.releases import list_releases
from legato_pay.ledger.types import as_utc
from legato_pay.money import format_amount
from legato_pay.readers.users import get_user
from legato_pay.shares.apps import require_app
from legato_pay.store.tables import APPROVALS, ESCROW_DEPOSITS, ESCROW_EVENTS, ESCROW_RELEASES

DEPOSIT_STATUSES = ("pending", "confirmed", "flagged", "failed", "expired")
_BALANCES = ("deposited", "released", "refunded", "held", "available")


def _iso(moment: datetime | None) -> str | None:
    aware = as_utc(moment)
    return aware.isoformat() if aware is not None else None


def deposit_json(row: Any) -> dict[str, Any]:
    return {
        "id": row.id,
        "app": row.app_id,
        "investor": row.investor_id,
        "currency": row.currency,
        "amount_minor": row.amount,
        "amount": format_amount(row.amount, row.currency),
        "units": row.units,
        "gateway": row.gateway,
        "reference": row.reference,
        "status": row.status,
        "created_at": _iso(row.created_at),
        "confirmed_at": _iso(row.confirmed_at),
    }


def deposit_row_cells(row: Any) -> dict[str, Any]:
    data = deposit_json(row)
    return {key: data[key] for key in ("id", "app", "investor", "status", "currency", "amount")} | {
        "amount_minor": row.amount,
        "created_at": data["created_at"],
    }


@dataclass(frozen=True, slots=True)
class Step:
    at: datetime
    action: str
    actor: str
    subject: str | None
    amount: str | None
    details: dict[str, Any] | None

    def as_json(self) -> dict[str, Any]:
        return {
            "at": self.at.isoformat(),
            "action": self.action,
            "actor": self.actor,
            "subject": self.subject,
            "amount": self.amount,
            "details": self.details,
        }


def timeline(session: Session, deposit_row: Any) -> list[Step]:
    """Escrow events, then every signature on its releases and disputes, in time order."""
    currency = deposit_row.currency
    steps = [
        Step(
            as_utc(row.created_at),  # type: ignore[arg-type]
            row.action,
            row.actor,
            row.subject,
            format_amount(row.amount, currency) if row.amount is not None else None,
            json.loads(row.details) if row.details else None,
        )
        for row in session.execute(
            select(ESCROW_EVENTS)
            .where(ESCROW_EVENTS.c.deposit_id == deposit_row.id)
            .order_by(ESCROW_EVENTS.c.id)
        )
    ]
    release_ids = [
        str(i)
        for i in session.execute(
            select(ESCROW_RELEASES.c.id).where(ESCROW_RELEASES.c.deposit_id == deposit_row.id)
        ).scalars()
    ]
    dispute_ids = [str(d.id) for d in disputes_of(session, deposit_row.id)]
    subjects = [
        APPROVALS.c.subject_kind.like("escrow_release%") & APPROVALS.c.subject_id.in_(release_ids)
    ]
    subjects.append(
        APPROVALS.c.subject_kind.like("escrow_dispute%") & APPROVALS.c.subject_id.in_(dispute_ids)
    )
    for row in session.execute(select(APPROVALS).where(or_(*subjects)).order_by(APPROVALS.c.id)):
        kind = "rejection" if row.subject_kind.endswith("_rejection") else "signature"
        subject = row.subject_kind.removeprefix("escrow_").removesuffix("_rejection")
        state = "voided" if row.voided_at else "consumed" if row.consumed_at else "pending"
        steps.append(
            Step(
                as_utc(row.created_at),  # type: ignore[arg-type]
                kind,
                row.actor,
                f"{subject}:{row.subject_id}",
                None,
                {"approver": row.approver_name, "state": state},
            )
        )
    return sorted(steps, key=lambda step: step.at)


def show_deposit(session: Session, deposit: int | str) -> dict[str, Any]:
    """The deposit, its balances, releases, disputes and timeline."""
    row = get_deposit_row(session, deposit)
    balances = deposit_balances(session, row.id)
    releases, _ = list_releases(session, deposit=row.id, limit=1000)
    return deposit_json(row) | {
        "balances": {name: balances[name] for name in _BALANCES}
        | {f"{name}_display": format_amount(balances[name], row.currency) for name in _BALANCES},
        "releases": [release.as_json() for release in releases],
        "disputes": [dispute.as_json() for dispute in disputes_of(session, row.id)],
        "timeline": [step.as_json() for step in timeline(session, row)],
    }


def list_deposits(
    session: Session,
    *,
    app: str | None = None,
    investor: str | None = None,
    status: str | None = None,
    after: int | None = None,
    limit: int = 100,
) -> tuple[list[Any], int | None]:
    """A page of deposit rows, oldest first, and the next cursor. APP_NOT_FOUND or
    USER_NOT_FOUND for an unknown filter subject, VALIDATION_ERROR for an unknown status."""
    query = select(ESCROW_DEPOSITS).order_by(ESCROW_DEPOSITS.c.id)
    if app is not None:
        require_app(session, app)
        query = query.where(ESCROW_DEPOSITS.c.app_id == app)
    if investor is not None:
        get_user(session, investor)
        query = query.where(ESCROW_DEPOSITS.c.investor_id == investor)
    if status is not None:
        if status not in DEPOSIT_STATUSES:
            raise InvalidInput(
                f"--status must be one of {', '.join(DEPOSIT_STATUSES)}",
                details={"status": str(status)[:40]},
            )
        query = query.where(ESCROW_DEPOSITS.c.status == status)
    if after is not None:
        query = query.where(ESCROW_DEPOSITS.c.id > after)
    rows = session.execute(query.limit(limit + 1)).all()
    page = rows[:limit]
    return list(page), (page[-1].id if len(rows) > limit else None)
