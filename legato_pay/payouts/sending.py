"""``payouts run``: send approved payouts through their gateways, crash-safe and once.

For each gateway and currency (a Paystack bank method pays through Paystack, a Stripe method
through Stripe, a sandbox method through the sandbox), batches of at most ``BATCH`` payouts:

1. one transaction locks each payout, checks it is still ``approved`` and, if it needed
   approval, that its approvals are still valid (``approvals_still_valid``; if not it goes
   back to ``requested``), moves it to ``sending`` with its reference ``payout-<id>``, consumes
   its approvals, and COMMITS — before any gateway call;
2. the batch is sent (``sending_gateways``: Paystack bulk, Stripe one transfer each, sandbox);
3. each answer is applied in its own transaction (``sending_outcomes.apply_notice``): paid,
   failed, or still ``sending`` when the outcome is unknown (a timeout after the request left).

A payout already ``sending`` is never sent by a run again: ``payouts verify`` asks the
gateway by its reference and, only if the gateway has never seen it, sends it once more under
that same reference (which the gateway deduplicates). So a run killed at any point (``kill
-9``) and run again pays nobody twice and skips nobody (verify settles the ones it left
``sending``).

One run at a time: a second one exits 9 (``RUN_IN_PROGRESS``) — ``store.locks.job_claim``
(PostgreSQL session advisory lock ``PAYOUT_RUN``; SQLite ``flock`` on
``<database>.payouts.lock``). ``dry_run`` lists what would be sent and writes nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from legato_pay.context import AppContext
from legato_pay.errors import Busy, InvalidInput
from legato_pay.ledger.types import as_utc, utcnow
from legato_pay.money import format_amount
from legato_pay.payouts.approvals import approvals_still_valid, consume_payout_approvals
from legato_pay.payouts.methods import recipient_of
from legato_pay.payouts.sending_gateways import (
    Outgoing,
    Sender,
    SenderPool,
    check_gateway,
)
from legato_pay.payouts.sending_outcomes import apply_notice
from legato_pay.payouts.status import lock_payout, mark_unapproved, move
from legato_pay.payouts.vault import Vault
from legato_pay.store.locks import PAYOUT_RUN, job_claim
from legato_pay.store.tables import PAYOUT_METHODS, PAYOUTS

ACTOR = "system:payouts-run"
#: Payouts marked ``sending`` and sent per gateway call (Paystack's bulk limit).
BATCH = 100
MAX_LIMIT = 100_000

Progress = Callable[[int, int], None]


def reference_for(payout_id: int) -> str:
    """The one reference every attempt to send payout ``payout_id`` carries (Paystack's
    transfer reference rules: lowercase letters, digits, ``-``)."""
    return f"payout-{payout_id}"


@dataclass(frozen=True, slots=True)
class SendLine:
    """One payout in a run's report: where it went and how it stands."""

    payout_id: int
    writer: str
    gateway: str
    currency: str
    net: int
    reference: str
    status: str
    outcome: str
    message: str

    def as_json(self) -> dict[str, Any]:
        return {
            "payout": self.payout_id,
            "writer": self.writer,
            "gateway": self.gateway,
            "currency": self.currency,
            "net": {
                "amount": self.net,
                "currency": self.currency,
                "display": format_amount(self.net, self.currency),
            },
            "reference": self.reference,
            "status": self.status,
            "outcome": self.outcome,
            "message": self.message,
        }

    def as_row(self) -> dict[str, Any]:
        return {
            "payout": self.payout_id,
            "writer": self.writer,
            "gateway": self.gateway,
            "net": format_amount(self.net, self.currency),
            "net_minor": self.net,
            "currency": self.currency,
            "reference": self.reference,
            "status": self.status,
            "outcome": self.outcome,
        }


@dataclass(frozen=True, slots=True)
class RunReport:
    dry_run: bool
    lines: tuple[SendLine, ...]

    def totals(self) -> dict[str, dict[str, dict[str, int]]]:
        """Per status, per currency: how many payouts and their net."""
        totals: dict[str, dict[str, dict[str, int]]] = {}
        for line in self.lines:
            slot = totals.setdefault(line.status, {}).setdefault(
                line.currency, {"count": 0, "net_minor": 0}
            )
            slot["count"] += 1
            slot["net_minor"] += line.net
        return totals

    def as_json(self) -> dict[str, Any]:
        return {
            "dry_run": self.dry_run,
            "payouts": [line.as_json() for line in self.lines],
            "totals": self.totals(),
        }


def _busy() -> Busy:
    return Busy(
        "another payouts run is in progress: try again when it has finished",
        details={"why": "run_in_progress"},
    )


def _candidates(session: Session, gateway: str | None, limit: int) -> list[Any]:
    query = (
        select(
            PAYOUTS.c.id,
            PAYOUTS.c.writer_id,
            PAYOUTS.c.currency,
            PAYOUTS.c.net,
            PAYOUTS.c.gross,
            PAYOUTS.c.fee,
            PAYOUTS.c.tax,
            PAYOUTS.c.method_id,
            PAYOUTS.c.reference,
            PAYOUT_METHODS.c.provider.label("gateway"),
        )
        .join(PAYOUT_METHODS, PAYOUT_METHODS.c.id == PAYOUTS.c.method_id)
        .where(PAYOUTS.c.status == "approved")
        .order_by(PAYOUTS.c.id)
        .limit(limit)
    )
    if gateway is not None:
        query = query.where(PAYOUT_METHODS.c.provider == gateway)
    return list(session.execute(query).all())


def send_line(row: Any, status: str, outcome: str, message: str) -> SendLine:
    """A report line for a payout row (``id``, ``writer_id``, ``gateway``, ``currency``,
    ``net``, ``reference``) as it stands now."""
    return SendLine(
        row.id,
        row.writer_id,
        row.gateway,
        row.currency,
        row.net,
        row.reference or reference_for(row.id),
        status,
        outcome,
        message,
    )


def _plan(session: Session, app: AppContext, gateway: str | None, limit: int) -> list[SendLine]:
    lines = []
    for row in _candidates(session, gateway, limit):
        if approvals_still_valid(session, app.settings, row.id):
            lines.append(send_line(row, "approved", "would_send", "would be sent"))
        else:
            lines.append(send_line(row, "approved", "needs_approval", "approvals no longer valid"))
    return lines


def _claim(
    session: Session,
    app: AppContext,
    rows: list[Any],
    vault: Vault | None,
    moment: datetime,
) -> tuple[list[tuple[Any, Outgoing]], list[SendLine]]:
    """Step 1 of the module docstring for a batch: the payouts to send, and the lines of
    those that may not be sent after all."""
    claimed: list[tuple[Any, Outgoing]] = []
    skipped: list[SendLine] = []
    for row in rows:
        locked = lock_payout(session, row.id)
        status = locked.status
        if status != "approved":
            skipped.append(send_line(row, status, "skipped", f"payout is {status} now"))
            continue
        if not approvals_still_valid(session, app.settings, row.id):
            why = "its approvals are no longer valid: it waits for approval again"
            mark_unapproved(session, row.id, actor=ACTOR, reason=why, now=moment)
            skipped.append(send_line(row, "requested", "requeued", why))
            continue
        if locked.net <= 0 or locked.net + locked.fee + locked.tax != locked.gross:
            why = "gross is not net + fee + tax: not sent, a person should look"
            skipped.append(send_line(row, status, "flagged", why))
            continue
        reference = reference_for(row.id)
        move(
            session,
            row.id,
            "sending",
            actor=app.actor,
            action="sending",
            reason=reference,
            now=moment,
        )
        session.execute(
            update(PAYOUTS)
            .where(PAYOUTS.c.id == row.id)
            .values(gateway=row.gateway, reference=reference, sent_at=moment)
        )
        consume_payout_approvals(session, row.id)
        recipient = recipient_of(session, locked.method_id, vault) if vault is not None else ""
        item = Outgoing(
            row.id, reference, locked.net, locked.currency, recipient, f"Payout {row.id}"
        )
        claimed.append((row, item))
    return claimed, skipped


def _groups(rows: list[Any]) -> dict[tuple[str, str], list[Any]]:
    groups: dict[tuple[str, str], list[Any]] = {}
    for row in rows:
        groups.setdefault((row.gateway, row.currency), []).append(row)
    return groups


def _send_batch(
    app: AppContext,
    sender: Sender,
    currency: str,
    rows: list[Any],
    vault: Vault | None,
    now: datetime | None,
) -> list[SendLine]:
    sent_at = as_utc(now) or utcnow()
    claimed, lines = app.run(lambda s: _claim(s, app, rows, vault, sent_at))
    if not claimed:
        return lines
    notices = sender.send(currency, [item for _, item in claimed])  # one by one, as they come
    for (row, item), notice in zip(claimed, notices, strict=True):
        answered_at = as_utc(now) or utcnow()
        applied = app.run(
            lambda s, item=item, notice=notice, at=answered_at: apply_notice(  # type: ignore[misc]
                s, item.payout_id, notice, actor=f"{ACTOR}:{sender.name}", now=at
            )
        )
        lines.append(send_line(row, applied.status, applied.outcome, applied.message))
    return lines


def run_payouts(
    app: AppContext,
    *,
    dry_run: bool = False,
    limit: int | None = None,
    gateway: str | None = None,
    senders: Mapping[str, Sender] | None = None,
    vault: Vault | None = None,
    progress: Progress | None = None,
    now: datetime | None = None,
) -> RunReport:
    """Send approved payouts (see the module docstring)."""
    chosen = check_gateway(gateway)
    if limit is not None and not 0 < limit <= MAX_LIMIT:
        raise InvalidInput(f"--limit must be between 1 and {MAX_LIMIT}", details={"limit": limit})
    most = limit or MAX_LIMIT
    if dry_run:
        return RunReport(True, tuple(app.run(lambda s: _plan(s, app, chosen, most), write=False)))
    lines: list[SendLine] = []
    with (
        job_claim(app.engine, PAYOUT_RUN, "payouts", _busy),
        SenderPool(app.settings, senders, engine=app.engine) as pool,
    ):
        rows = app.run(lambda s: _candidates(s, chosen, most), write=False)
        for (provider, currency), group in _groups(rows).items():
            sender = pool.get(provider)  # a missing key fails here, before anything is marked
            keys = None if provider == "sandbox" else (vault or Vault.from_env())
            for start in range(0, len(group), BATCH):
                batch = group[start : start + BATCH]
                lines += _send_batch(app, sender, currency, batch, keys, now)
                if progress is not None:
                    progress(len(lines), len(rows))
    return RunReport(False, tuple(lines))
