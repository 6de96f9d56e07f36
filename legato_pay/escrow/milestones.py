"""An app's milestones: stages of its plan, each worth a percentage of every deposit.

``percent_bp`` is in hundredths of a percent (12.5 % is 1250); an app's milestones never add up
to more than 100 % — ``add_milestone`` locks the app's row first, so two concurrent adds can not
both fit in what is left. A milestone is ``open`` until ``complete_milestone`` records its
evidence (``completed``, once; completing again is INVALID_STATE). Releases name a completed
milestone. With ``features.enable_automatic_releases`` completing one also releases its share
of every confirmed deposit of the app (``releases.auto_release_for_milestone``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import func, insert, select, update
from sqlalchemy.orm import Session

from legato_pay.errors import AlreadyExists, InvalidInput, InvalidState, NotFound
from legato_pay.ledger.types import as_utc, utcnow
from legato_pay.shares.apps import lock_app, require_app
from legato_pay.store.dialect import for_update
from legato_pay.store.tables import ESCROW_MILESTONES

FULL_BP = 10_000
#: A plain percentage: digits, at most two decimals (no sign, exponent, NaN).
_PERCENT = re.compile(r"[0-9]{1,3}(\.[0-9]{1,2})?", re.ASCII)
MAX_NAME = 200
MAX_EVIDENCE = 4000


@dataclass(frozen=True, slots=True)
class MilestoneView:
    id: int
    app: str
    name: str
    percent_bp: int
    due: date | None
    status: str
    evidence: str | None
    created_by: str
    completed_by: str | None
    created_at: datetime
    completed_at: datetime | None

    @property
    def percent(self) -> str:
        return format_bp(self.percent_bp)

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "app": self.app,
            "name": self.name,
            "percent": self.percent,
            "percent_bp": self.percent_bp,
            "due": self.due.isoformat() if self.due else None,
            "status": self.status,
            "evidence": self.evidence,
            "created_by": self.created_by,
            "completed_by": self.completed_by,
            "created_at": self.created_at.isoformat(),
            "completed_at": self.completed_at.isoformat() if self.completed_at else None,
        }


def format_bp(bp: int) -> str:
    """1250 -> "12.5", 10000 -> "100"."""
    text = str(Decimal(bp).scaleb(-2))
    return text.rstrip("0").rstrip(".") if "." in text else text


def parse_percent(value: str, field: str = "percent") -> int:
    """A percentage with at most two decimals, above 0 and at most 100, as basis points."""
    text = value.strip() if isinstance(value, str) else ""
    number = Decimal(text) if _PERCENT.fullmatch(text) else Decimal(0)
    if number <= 0 or number > 100:
        raise InvalidInput(
            f"--{field} is a percentage above 0 and at most 100 with at most two decimals",
            details={field: str(value)[:40]},
        )
    return int(number.scaleb(2))


def _parse_due(due: str | date | None) -> date | None:
    if due is None or isinstance(due, date):
        return due
    try:
        return date.fromisoformat(due)
    except ValueError:
        raise InvalidInput(
            "--due is a date as YYYY-MM-DD", details={"due": str(due)[:40]}, code="INVALID_TIME"
        ) from None


def _check_text(value: str, field: str, limit: int) -> str:
    if not isinstance(value, str) or not value.strip() or len(value) > limit:
        raise InvalidInput(f"--{field} is 1 to {limit} characters", details={"field": field})
    return value


def _view(row: Any) -> MilestoneView:
    return MilestoneView(
        id=row.id,
        app=row.app_id,
        name=row.name,
        percent_bp=row.percent_bp,
        due=row.due,
        status=row.status,
        evidence=row.evidence,
        created_by=row.created_by,
        completed_by=row.completed_by,
        created_at=as_utc(row.created_at),  # type: ignore[arg-type]
        completed_at=as_utc(row.completed_at),
    )


def add_milestone(
    session: Session,
    *,
    app: str,
    name: str,
    percent: str,
    due: str | date | None = None,
    actor: str,
    now: datetime | None = None,
) -> MilestoneView:
    """Add a milestone worth ``percent`` of every deposit of ``app``. VALIDATION_ERROR
    (``MILESTONES_OVER_100``) when the app's milestones would add up to more than 100 %,
    ALREADY_EXISTS for a name the app already has, APP_NOT_FOUND for an unknown app."""
    bp = parse_percent(percent)
    _check_text(name, "name", MAX_NAME)
    when = _parse_due(due)
    lock_app(session, app, exclusive=True)  # concurrent adds to one app take turns
    used = session.execute(
        select(func.coalesce(func.sum(ESCROW_MILESTONES.c.percent_bp), 0)).where(
            ESCROW_MILESTONES.c.app_id == app
        )
    ).scalar_one()
    if int(used) + bp > FULL_BP:
        raise InvalidInput(
            f"{app}'s milestones would add up to {format_bp(int(used) + bp)} %: at most 100 % "
            f"({format_bp(FULL_BP - int(used))} % is left)",
            details={"app": app, "used_percent": format_bp(int(used)), "percent": format_bp(bp)},
            code="MILESTONES_OVER_100",
        )
    exists = session.execute(
        select(ESCROW_MILESTONES.c.id).where(
            ESCROW_MILESTONES.c.app_id == app, ESCROW_MILESTONES.c.name == name
        )
    ).first()
    if exists is not None:
        raise AlreadyExists(
            f"{app} already has a milestone named {name!r}",
            details={"app": app, "milestone": exists.id},
        )
    moment = as_utc(now) or utcnow()
    milestone_id = session.execute(
        insert(ESCROW_MILESTONES)
        .values(
            app_id=app,
            name=name,
            percent_bp=bp,
            due=when,
            status="open",
            created_by=actor,
            created_at=moment,
        )
        .returning(ESCROW_MILESTONES.c.id)
    ).scalar_one()
    return get_milestone(session, app, str(milestone_id))


def _find(session: Session, app: str, milestone: str, *, lock: bool) -> Any:
    """The app's milestone by id (digits) or by name; MILESTONE_NOT_FOUND otherwise."""
    if not isinstance(milestone, str) or not milestone.strip() or len(milestone) > MAX_NAME:
        raise InvalidInput("--milestone is a milestone's id or name", details={"milestone": None})
    query = select(ESCROW_MILESTONES).where(ESCROW_MILESTONES.c.app_id == app)
    by_name = query.where(ESCROW_MILESTONES.c.name == milestone)
    row = session.execute(for_update(by_name, session) if lock else by_name).first()
    if row is None and milestone.isascii() and milestone.isdigit() and int(milestone) < 2**63:
        by_id = query.where(ESCROW_MILESTONES.c.id == int(milestone))
        row = session.execute(for_update(by_id, session) if lock else by_id).first()
    if row is None:
        raise NotFound(
            f"{app} has no milestone {milestone!r}",
            details={"app": app, "milestone": milestone[:100]},
            code="MILESTONE_NOT_FOUND",
        )
    return row


def get_milestone(session: Session, app: str, milestone: str) -> MilestoneView:
    require_app(session, app)
    return _view(_find(session, app, milestone, lock=False))


def milestone_by_id(session: Session, milestone_id: int) -> MilestoneView:
    row = session.execute(
        select(ESCROW_MILESTONES).where(ESCROW_MILESTONES.c.id == milestone_id)
    ).one()
    return _view(row)


def list_milestones(session: Session, *, app: str) -> list[MilestoneView]:
    """The app's milestones in the order they were added (APP_NOT_FOUND if unknown)."""
    require_app(session, app)
    rows = session.execute(
        select(ESCROW_MILESTONES)
        .where(ESCROW_MILESTONES.c.app_id == app)
        .order_by(ESCROW_MILESTONES.c.id)
    )
    return [_view(row) for row in rows]


def mark_completed(
    session: Session, *, app: str, milestone: str, evidence: str, actor: str, now: datetime
) -> MilestoneView:
    """Record the evidence and mark the milestone completed (INVALID_STATE if it already is)."""
    _check_text(evidence, "evidence", MAX_EVIDENCE)
    require_app(session, app)
    row = _find(session, app, milestone, lock=True)
    if row.status != "open":
        raise InvalidState(
            f"milestone {row.name!r} of {app} is already {row.status}",
            details={"app": app, "milestone": row.id, "status": row.status},
        )
    session.execute(
        update(ESCROW_MILESTONES)
        .where(ESCROW_MILESTONES.c.id == row.id)
        .values(status="completed", evidence=evidence, completed_by=actor, completed_at=now)
    )
    return get_milestone(session, app, str(row.id))


def share_of_deposit(session: Session, milestone: MilestoneView, deposit_amount: int) -> int:
    """The milestone's share of a deposit, rounded so an app's milestones add up exactly:
    cumulative flooring in the order milestones were added — share = floor(D x (sum of bp up
    to and including this one) / 10000) - floor(D x (sum before it) / 10000). A later
    milestone never changes an earlier one's share; 100 % in total releases exactly D."""
    before = session.execute(
        select(func.coalesce(func.sum(ESCROW_MILESTONES.c.percent_bp), 0)).where(
            ESCROW_MILESTONES.c.app_id == milestone.app, ESCROW_MILESTONES.c.id < milestone.id
        )
    ).scalar_one()
    upto = int(before) + milestone.percent_bp
    return deposit_amount * upto // FULL_BP - deposit_amount * int(before) // FULL_BP
