"""Releases: money from one deposit's escrow (``escrow:<d>:<CUR>``) to its app's funds
(``app:<a>:funds:<CUR>``) for a completed milestone of that app.

How much: ``--amount X`` exactly; ``--percentage P`` of the deposit rounded half-even to the
minor unit; by default the milestone's share of the deposit (``milestones.share_of_deposit``:
cumulative flooring, so an app's milestones at 100 % release exactly the deposit).

Below ``escrow.release_threshold[CUR]`` the release is one posted ledger entry (``posted``). At
or above it (or when the currency has no threshold) it is a *pending* entry expiring after
``escrow.approval_ttl_hours`` (``held``): already out of what can be released or refunded,
until ``escrow.required_approvers`` approvers sign it (``releases_approvals``). The deposit's
row is locked first and the ledger's no-overdraft check on the escrow account refuses anything
beyond what is available (INSUFFICIENT_FUNDS, exit 4), however many releases race.

Statuses: ``posted`` | ``held`` -> ``posted`` | ``rejected`` | ``expired``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from legato_pay import chart
from legato_pay.config import Settings
from legato_pay.errors import InsufficientFunds, InvalidAmount, InvalidState, NotFound, UsageError
from legato_pay.escrow.balances import lock_deposit, parse_deposit_id, require_confirmed
from legato_pay.escrow.disputes_guard import assert_not_in_dispute
from legato_pay.escrow.milestones import (
    FULL_BP,
    MilestoneView,
    get_milestone,
    parse_percent,
    share_of_deposit,
)
from legato_pay.escrow.timeline import record_escrow_event
from legato_pay.idempotency import check_key, ensure_same_request, request_hash
from legato_pay.ledger import get_balance, post_entries, transfer
from legato_pay.ledger.types import as_utc, utcnow
from legato_pay.money import format_amount, parse_amount
from legato_pay.payouts.methods import parse_id
from legato_pay.store.dialect import for_update
from legato_pay.store.paging import check_choice, id_page
from legato_pay.store.tables import ESCROW_DEPOSITS, ESCROW_MILESTONES, ESCROW_RELEASES

STATUSES = ("held", "posted", "rejected", "expired")
#: Leaves room for the ``escrow-release:`` prefix of the ledger key within 200 characters.
MAX_KEY_LENGTH = 180


@dataclass(frozen=True, slots=True)
class ReleaseView:
    id: int
    deposit: int
    app: str
    milestone: int | None
    milestone_name: str | None
    dispute: int | None
    currency: str
    amount: int
    status: str
    needs_approval: bool
    entry_id: int | None
    requested_by: str
    reason: str | None
    created_at: datetime
    expires_at: datetime | None
    resolved_at: datetime | None
    replayed: bool = False

    @property
    def source(self) -> str:
        return chart.escrow_account_code(self.deposit, self.currency)

    @property
    def destination(self) -> str:
        return chart.app_funds(self.app, self.currency)

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "deposit": self.deposit,
            "app": self.app,
            "milestone": self.milestone,
            "milestone_name": self.milestone_name,
            "dispute": self.dispute,
            "currency": self.currency,
            "amount_minor": self.amount,
            "amount": format_amount(self.amount, self.currency),
            "status": self.status,
            "needs_approval": self.needs_approval,
            "source": self.source,
            "destination": self.destination,
            "entry_id": self.entry_id,
            "requested_by": self.requested_by,
            "reason": self.reason,
            "created_at": self.created_at.isoformat(),
            "expires_at": self.expires_at.isoformat() if self.expires_at else None,
            "resolved_at": self.resolved_at.isoformat() if self.resolved_at else None,
            "replayed": self.replayed,
        }

    def as_row(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "deposit": self.deposit,
            "app": self.app,
            "milestone": self.milestone_name or (f"dispute {self.dispute}" if self.dispute else ""),
            "status": self.status,
            "currency": self.currency,
            "amount": format_amount(self.amount, self.currency),
            "amount_minor": self.amount,
            "requested_by": self.requested_by,
            "created_at": self.created_at.isoformat(),
            "expires_at": (
                self.expires_at.isoformat() if self.expires_at and self.status == "held" else ""
            ),
        }


def select_releases() -> Any:
    return (
        select(
            ESCROW_RELEASES,
            ESCROW_DEPOSITS.c.app_id,
            ESCROW_MILESTONES.c.name.label("milestone_name"),
        )
        .join(ESCROW_DEPOSITS, ESCROW_DEPOSITS.c.id == ESCROW_RELEASES.c.deposit_id)
        .outerjoin(ESCROW_MILESTONES, ESCROW_MILESTONES.c.id == ESCROW_RELEASES.c.milestone_id)
    )


def to_view(row: Any, *, replayed: bool = False) -> ReleaseView:
    return ReleaseView(
        id=row.id,
        deposit=row.deposit_id,
        app=row.app_id,
        milestone=row.milestone_id,
        milestone_name=row.milestone_name,
        dispute=row.dispute_id,
        currency=row.currency,
        amount=row.amount,
        status=row.status,
        needs_approval=bool(row.needs_approval),
        entry_id=row.entry_id,
        requested_by=row.requested_by,
        reason=row.reason,
        created_at=as_utc(row.created_at),  # type: ignore[arg-type]
        expires_at=as_utc(row.expires_at),
        resolved_at=as_utc(row.resolved_at),
        replayed=replayed,
    )


def parse_release_id(value: object) -> int:
    return parse_id(value, field="release")


def get_release(session: Session, release_id: int | str) -> ReleaseView:
    number = parse_release_id(release_id)
    row = session.execute(select_releases().where(ESCROW_RELEASES.c.id == number)).first()
    if row is None:
        raise NotFound(
            f"no escrow release {number}", details={"release": number}, code="RELEASE_NOT_FOUND"
        )
    return to_view(row)


def lock_release(session: Session, release_id: int) -> Any:
    """The release's row, locked (after its deposit's: the one lock order of escrow)."""
    row = session.execute(
        for_update(select(ESCROW_RELEASES).where(ESCROW_RELEASES.c.id == release_id), session)
    ).first()
    if row is None:
        raise NotFound(
            f"no escrow release {release_id}",
            details={"release": release_id},
            code="RELEASE_NOT_FOUND",
        )
    return row


def percent_of(amount: int, bp: int) -> int:
    """``bp`` hundredths of a percent of ``amount``, rounded half-even to the minor unit."""
    quotient, remainder = divmod(amount * bp, FULL_BP)
    if 2 * remainder > FULL_BP or (2 * remainder == FULL_BP and quotient % 2 == 1):
        quotient += 1
    return quotient


def needs_approval(settings: Settings, currency: str, amount: int) -> bool:
    """At or above ``escrow.release_threshold[CUR]``; always when CUR has no threshold."""
    threshold = settings.escrow.release_threshold.get(currency)
    return threshold is None or amount >= threshold


def _replay(session: Session, key: str | None, wanted: dict[str, Any]) -> ReleaseView | None:
    if key is None:
        return None
    row = session.execute(select_releases().where(ESCROW_RELEASES.c.idempotency_key == key)).first()
    if row is None:
        return None
    ensure_same_request(
        key,
        stored={"hash": row.request_hash},
        wanted={"hash": request_hash(wanted)},
        what="escrow release",
        details={"release": row.id},
    )
    return to_view(row, replayed=True)


def _check_milestone(milestone: MilestoneView) -> None:
    if milestone.status != "completed":
        raise InvalidState(
            f"milestone {milestone.name!r} of {milestone.app} is {milestone.status}: complete it "
            "(`escrow milestones complete`) before releasing for it",
            details={"milestone": milestone.id, "status": milestone.status},
            code="MILESTONE_NOT_COMPLETED",
        )


def request_release(
    session: Session,
    settings: Settings,
    *,
    deposit: int | str,
    milestone: str,
    percentage: str | None = None,
    amount: str | None = None,
    key: str | None = None,
    actor: str,
    now: datetime | None = None,
) -> ReleaseView:
    """Release part of a confirmed deposit for a completed milestone of its app (see the
    module docstring). Refused, with nothing changed: an unconfirmed deposit or an open
    milestone (INVALID_STATE), a deposit in dispute (DEPOSIT_IN_DISPUTE), more than is
    available (INSUFFICIENT_FUNDS)."""
    if percentage is not None and amount is not None:
        raise UsageError("pass at most one of --percentage and --amount", details={})
    key = check_key(key, max_length=MAX_KEY_LENGTH)
    number = parse_deposit_id(deposit)
    bp = parse_percent(percentage, "percentage") if percentage is not None else None
    row = lock_deposit(session, number)
    requested = parse_amount(amount, row.currency) if amount is not None else None
    target = get_milestone(session, row.app_id, milestone)
    wanted = {"deposit": row.id, "milestone": target.id, "bp": bp, "amount": requested}
    replay = _replay(session, key, wanted)
    if replay is not None:
        return replay
    moment = as_utc(now) or utcnow()
    require_confirmed(row, "released")
    assert_not_in_dispute(session, row.id)
    _check_milestone(target)
    if requested is not None:
        value = requested
    elif bp is not None:
        value = percent_of(row.amount, bp)
    else:
        value = share_of_deposit(session, target, row.amount)
    if value <= 0:
        raise InvalidAmount(
            "the release rounds to nothing: name a larger --percentage or an --amount",
            details={"deposit": row.id, "amount_minor": value},
        )
    from legato_pay.escrow.releases_approvals import expire_due_releases

    expire_due_releases(session, settings, deposit_id=row.id, now=moment)  # frees stale holds
    release_id = create_release(
        session,
        settings,
        deposit_row=row,
        milestone_id=target.id,
        amount=value,
        key=key,
        request=wanted,
        actor=actor,
        now=moment,
    )
    return get_release(session, release_id)


def available_in_escrow(session: Session, deposit_row: Any) -> int:
    return get_balance(
        session, chart.escrow_account_code(deposit_row.id, deposit_row.currency)
    ).available


def create_release(
    session: Session,
    settings: Settings,
    *,
    deposit_row: Any,
    milestone_id: int | None,
    amount: int,
    key: str | None,
    request: dict[str, Any],
    actor: str,
    now: datetime,
    dispute_id: int | None = None,
    approved: bool = False,
) -> int:
    """Post (or hold, when it needs approval and is not ``approved`` already) one release
    entry and record its row and timeline step, in the caller's unit of work (the deposit's row
    locked). INSUFFICIENT_FUNDS from the ledger when it exceeds what is available."""
    currency = deposit_row.currency
    held = not approved and needs_approval(settings, currency, amount)
    source = chart.escrow_account(deposit_row.id, currency)
    destination = chart.app_funds_account(deposit_row.app_id, currency)
    chart.open_accounts(session, [source, destination])
    expires_at = now + timedelta(hours=settings.escrow.approval_ttl_hours) if held else None
    try:
        entry = post_entries(
            session,
            [
                transfer(
                    source.code,
                    destination.code,
                    amount,
                    currency,
                    pending=held,
                    idempotency_key=f"escrow-release:{key}" if key else None,
                    reason=f"escrow release of deposit {deposit_row.id}",
                    metadata={"deposit": deposit_row.id, "milestone": milestone_id},
                    expires_at=expires_at,
                )
            ],
            actor=actor,
            now=now,
        )[0]
    except InsufficientFunds as exc:
        raise InsufficientFunds(
            f"insufficient funds in escrow: deposit {deposit_row.id} has "
            f"{format_amount(max(available_in_escrow(session, deposit_row), 0), currency)} "
            f"available, not {format_amount(amount, currency)}",
            details={
                "deposit": deposit_row.id,
                "available_minor": available_in_escrow(session, deposit_row),
                "requested_minor": amount,
                "currency": currency,
            },
        ) from exc
    release_id = session.execute(
        insert(ESCROW_RELEASES)
        .values(
            deposit_id=deposit_row.id,
            milestone_id=milestone_id,
            dispute_id=dispute_id,
            currency=currency,
            amount=amount,
            status="held" if held else "posted",
            needs_approval=held or approved,
            entry_id=entry.id,
            idempotency_key=key,
            request_hash=request_hash(request),
            requested_by=actor,
            created_at=now,
            expires_at=expires_at,
            resolved_at=None if held else now,
        )
        .returning(ESCROW_RELEASES.c.id)
    ).scalar_one()
    record_escrow_event(
        session,
        deposit_row.id,
        "release_held" if held else "released",
        actor,
        amount=amount,
        subject=f"release:{release_id}",
        details={
            "milestone": milestone_id,
            "dispute": dispute_id,
            "awaiting_approvals": settings.escrow.required_approvers if held else 0,
        },
        now=now,
    )
    return int(release_id)


def list_releases(
    session: Session,
    *,
    deposit: int | str | None = None,
    status: str | None = None,
    after: int | None = None,
    limit: int = 100,
) -> tuple[list[ReleaseView], int | None]:
    """A page of releases, oldest first, and the cursor of the next page (None at the end).
    DEPOSIT_NOT_FOUND for an unknown deposit, VALIDATION_ERROR for an unknown status."""
    from legato_pay.escrow.balances import get_deposit_row

    query = select_releases().order_by(ESCROW_RELEASES.c.id)
    if deposit is not None:
        number = get_deposit_row(session, deposit).id
        query = query.where(ESCROW_RELEASES.c.deposit_id == number)
    if status is not None:
        query = query.where(ESCROW_RELEASES.c.status == check_choice(status, STATUSES))
    return id_page(session, query, ESCROW_RELEASES.c.id, after=after, limit=limit, view=to_view)
