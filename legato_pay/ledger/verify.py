"""``ledger verify``: recompute every total from the journal and check every invariant.

Problem codes (also listed in README):

- ``ENTRY_UNBALANCED``   an entry's debits and credits differ in some currency
- ``ENTRY_TOO_FEW_LEGS`` an entry has fewer than two legs
- ``LEG_CURRENCY``       a leg's currency differs from its account's
- ``TOTALS_MISMATCH``    an account's stored totals differ from the sum of its legs
- ``RUNNING_TOTALS``     a leg's running totals differ from the sum of the legs before it
- ``LEG_CLOCK``          a leg of a non-hot account is stamped before a leg posted before it
                         on that account (its balance as of a time between them is wrong)
- ``OVERDRAWN``          a no-overdraft account has a negative available balance
- ``PENDING_STATE``      a pending entry's state disagrees with the entries that resolve it
- ``REVERSAL``           a reversal does not mirror the posted legs of the entry it reverses
- ``SEAL_CHAIN``         a seal's hash, count or link does not match the journal (entries and,
                         from seal version 2, account definitions: code, currency, side,
                         limits; an account changed, swapped or deleted after it was sealed)
- ``LEG_ACCOUNT``        a leg points at an account that does not exist (a deleted row)
- ``RESERVED_ACCOUNT``   an account in a namespace the services own (``chart``) has another
                         currency, side or limit than the chart opens it with
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sqlalchemy import case, func, select, text
from sqlalchemy.orm import Session

from legato_pay.ledger.accounts import _row_to_account
from legato_pay.ledger.queries import leg_sums
from legato_pay.ledger.sealing import GENESIS_HASH, account_digest_lines, chain, entry_digest_lines
from legato_pay.ledger.types import Totals, as_utc, balance_from_totals
from legato_pay.store.dialect import is_postgres
from legato_pay.store.tables import ACCOUNTS, ENTRIES, LEGS, PENDING, SEALS

if TYPE_CHECKING:
    from legato_pay.ledger.types import AccountRequest

MAX_LISTED_PROBLEMS = 200

#: The shape the chart opens a code with, or None (``chart.expected_account``).
ExpectedAccount = Callable[[str], "AccountRequest | None"]


@dataclass
class VerifyReport:
    accounts: int = 0
    entries: int = 0
    sealed_entries: int = 0
    problems: list[dict[str, Any]] = field(default_factory=list)
    problem_count: int = 0

    @property
    def ok(self) -> bool:
        return self.problem_count == 0

    def add(self, code: str, message: str, **details: Any) -> None:
        self.problem_count += 1
        if len(self.problems) < MAX_LISTED_PROBLEMS:
            self.problems.append({"code": code, "message": message, "details": details})

    def as_json(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "accounts": self.accounts,
            "entries": self.entries,
            "sealed_entries": self.sealed_entries,
            "problem_count": self.problem_count,
            "problems": self.problems,
        }


def verify_ledger(
    session: Session, *, expected_account: ExpectedAccount | None = None
) -> VerifyReport:
    """Every check below; ``expected_account`` (the chart's rules, passed in because the chart
    sits above the ledger) adds ``RESERVED_ACCOUNT`` for accounts of the wrong shape."""
    if is_postgres(session):
        session.execute(text("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ"))
    report = VerifyReport()
    report.accounts = session.execute(select(func.count()).select_from(ACCOUNTS)).scalar_one()
    report.entries = session.execute(select(func.count()).select_from(ENTRIES)).scalar_one()
    _check_entries(session, report)
    sealed_to = _check_seals(session, report)
    _check_totals(session, report, sealed_to, expected_account)
    _check_running_totals(session, report)
    _check_pending(session, report)
    _check_reversals(session, report)
    return report


def _signed(column: Any) -> Any:
    return func.sum(case((LEGS.c.is_debit, column), else_=-column))


def _check_entries(session: Session, report: VerifyReport) -> None:
    for row in session.execute(
        select(
            LEGS.c.entry_id, LEGS.c.currency, _signed(LEGS.c.amount), _signed(LEGS.c.pending_amount)
        )
        .group_by(LEGS.c.entry_id, LEGS.c.currency)
        .having((_signed(LEGS.c.amount) != 0) | (_signed(LEGS.c.pending_amount) != 0))
    ):
        report.add(
            "ENTRY_UNBALANCED",
            f"entry {row[0]} does not balance in {row[1]}",
            entry_id=row[0],
            currency=row[1],
            posted_difference=int(row[2]),
            pending_difference=int(row[3]),
        )
    counts = (
        select(LEGS.c.entry_id, func.count().label("legs")).group_by(LEGS.c.entry_id).subquery()
    )
    for row in session.execute(
        select(ENTRIES.c.id, counts.c.legs)
        .outerjoin(counts, counts.c.entry_id == ENTRIES.c.id)
        .where((counts.c.legs.is_(None)) | (counts.c.legs < 2))
    ):
        report.add(
            "ENTRY_TOO_FEW_LEGS", f"entry {row.id} has {row.legs or 0} legs", entry_id=row.id
        )
    for row in session.execute(
        select(LEGS.c.id, LEGS.c.entry_id, LEGS.c.account_id)
        .outerjoin(ACCOUNTS, ACCOUNTS.c.id == LEGS.c.account_id)
        .where(ACCOUNTS.c.id.is_(None))
    ):
        report.add(
            "LEG_ACCOUNT",
            f"leg {row.id} of entry {row.entry_id} is on account id {row.account_id}, "
            "which does not exist",
            entry_id=row.entry_id,
            account_id=row.account_id,
        )
    for row in session.execute(
        select(LEGS.c.id, LEGS.c.entry_id, LEGS.c.currency, ACCOUNTS.c.code, ACCOUNTS.c.currency)
        .join(ACCOUNTS, ACCOUNTS.c.id == LEGS.c.account_id)
        .where(LEGS.c.currency != ACCOUNTS.c.currency)
    ):
        report.add(
            "LEG_CURRENCY",
            f"leg {row[0]} of entry {row[1]} is in {row[2]} but {row[3]} holds {row[4]}",
            entry_id=row[1],
            account=row[3],
        )


def _check_totals(
    session: Session,
    report: VerifyReport,
    sealed_to: int,
    expected_account: ExpectedAccount | None,
) -> None:
    all_sums = {
        row[0]: Totals(*(int(v) for v in row[1:]))
        for row in session.execute(
            select(LEGS.c.account_id, *leg_sums()).group_by(LEGS.c.account_id)
        )
    }
    sealed_sums = {
        row[0]: Totals(*(int(v) for v in row[1:]))
        for row in session.execute(
            select(LEGS.c.account_id, *leg_sums())
            .join(ACCOUNTS, ACCOUNTS.c.id == LEGS.c.account_id)
            .where(ACCOUNTS.c.hot.is_(True), LEGS.c.entry_id <= sealed_to)
            .group_by(LEGS.c.account_id)
        )
    }
    for row in session.execute(select(ACCOUNTS)):
        account = _row_to_account(row)
        stored = Totals(
            row.debits_posted, row.credits_posted, row.debits_pending, row.credits_pending
        )
        expected = (sealed_sums if account.hot else all_sums).get(account.id, Totals())
        if stored != expected:
            report.add(
                "TOTALS_MISMATCH",
                f"account {account.code} totals differ from its legs",
                account=account.code,
                stored=_totals_json(stored),
                from_legs=_totals_json(expected),
            )
        if expected_account is not None:
            _check_shape(report, account, expected_account(account.code))
        current = all_sums.get(account.id, Totals())
        if account.no_overdraft and balance_from_totals(account, current).available < 0:
            report.add(
                "OVERDRAWN",
                f"no-overdraft account {account.code} is overdrawn",
                account=account.code,
                available=balance_from_totals(account, current).available,
            )


def _check_shape(report: VerifyReport, account: Any, expected: AccountRequest | None) -> None:
    if expected is None:
        return
    found = (account.currency, account.normal_side, account.no_overdraft, account.hot)
    wanted = (expected.currency, expected.normal_side, expected.no_overdraft, expected.hot)
    if found != wanted:
        names = ("currency", "normal_side", "no_overdraft", "hot")
        report.add(
            "RESERVED_ACCOUNT",
            f"account {account.code} is not what the services open under that code",
            account=account.code,
            found=dict(zip(names, found, strict=True)),
            expected=dict(zip(names, wanted, strict=True)),
        )


def _totals_json(totals: Totals) -> dict[str, int]:
    return {
        "debits_posted": totals.debits_posted,
        "credits_posted": totals.credits_posted,
        "debits_pending": totals.debits_pending,
        "credits_pending": totals.credits_pending,
    }


def _check_running_totals(session: Session, report: VerifyReport) -> None:
    """Every leg of a non-hot account carries the cumulative totals up to and including it, and
    is stamped no earlier than the leg before it (as-of balances read the last leg by a time)."""
    order = (LEGS.c.entry_id, LEGS.c.id)

    def cumulative(column: Any, debit: bool) -> Any:
        value = (
            case((LEGS.c.is_debit, column), else_=0)
            if debit
            else case((LEGS.c.is_debit, 0), else_=column)
        )
        return func.sum(value).over(partition_by=LEGS.c.account_id, order_by=order)

    running = (
        select(
            LEGS.c.id,
            LEGS.c.entry_id,
            LEGS.c.account_id,
            LEGS.c.debits_posted_after,
            LEGS.c.credits_posted_after,
            LEGS.c.debits_pending_after,
            LEGS.c.credits_pending_after,
            cumulative(LEGS.c.amount, True).label("dp"),
            cumulative(LEGS.c.amount, False).label("cp"),
            cumulative(LEGS.c.pending_amount, True).label("dpe"),
            cumulative(LEGS.c.pending_amount, False).label("cpe"),
            LEGS.c.created_at,
            func.lag(LEGS.c.created_at, type_=LEGS.c.created_at.type)
            .over(partition_by=LEGS.c.account_id, order_by=order)
            .label("before"),
        )
        .join(ACCOUNTS, ACCOUNTS.c.id == LEGS.c.account_id)
        .where(ACCOUNTS.c.hot.is_(False))
        .subquery()
    )
    for row in session.execute(
        select(running, ACCOUNTS.c.code)
        .join(ACCOUNTS, ACCOUNTS.c.id == running.c.account_id)
        .where(
            (running.c.debits_posted_after.is_(None))
            | (running.c.debits_posted_after != running.c.dp)
            | (running.c.credits_posted_after != running.c.cp)
            | (running.c.debits_pending_after != running.c.dpe)
            | (running.c.credits_pending_after != running.c.cpe)
            | (running.c.created_at < running.c.before)
        )
    ):
        if row.before is not None and row.created_at < row.before:
            report.add(
                "LEG_CLOCK",
                f"leg {row.id} of entry {row.entry_id} on {row.code} is stamped before the leg"
                " posted before it",
                entry_id=row.entry_id,
                account=row.code,
                created_at=as_utc(row.created_at).isoformat(),  # type: ignore[union-attr]
                previous_created_at=as_utc(row.before).isoformat(),  # type: ignore[union-attr]
            )
        if (
            row.debits_posted_after,
            row.credits_posted_after,
            row.debits_pending_after,
            row.credits_pending_after,
        ) == (row.dp, row.cp, row.dpe, row.cpe):
            continue
        report.add(
            "RUNNING_TOTALS",
            f"leg {row.id} of entry {row.entry_id} on {row.code} has wrong running totals",
            entry_id=row.entry_id,
            account=row.code,
        )


def _check_pending(session: Session, report: VerifyReport) -> None:
    pending_entries = {
        row.id: row
        for row in session.execute(
            select(ENTRIES.c.id, PENDING.c.status, PENDING.c.resolved_entry_id)
            .outerjoin(PENDING, PENDING.c.entry_id == ENTRIES.c.id)
            .where(ENTRIES.c.kind == "pending")
        )
    }
    resolutions: dict[int, list[tuple[int, str]]] = {}
    for row in session.execute(
        select(ENTRIES.c.id, ENTRIES.c.kind, ENTRIES.c.target_entry_id).where(
            ENTRIES.c.kind.in_(["post_pending", "void_pending"])
        )
    ):
        resolutions.setdefault(row.target_entry_id, []).append((row.id, row.kind))
    expected_kind = {"posted": "post_pending", "voided": "void_pending"}
    for entry_id, row in pending_entries.items():
        resolved = resolutions.pop(entry_id, [])
        if row.status is None:
            report.add("PENDING_STATE", f"pending entry {entry_id} has no state", entry_id=entry_id)
        elif row.status == "pending" and resolved:
            report.add(
                "PENDING_STATE", f"entry {entry_id} is open but was resolved", entry_id=entry_id
            )
        elif row.status in expected_kind and (
            len(resolved) != 1 or resolved[0] != (row.resolved_entry_id, expected_kind[row.status])
        ):
            report.add(
                "PENDING_STATE",
                f"entry {entry_id} is {row.status} but its resolution does not match",
                entry_id=entry_id,
            )
    for target, resolved in resolutions.items():
        report.add(
            "PENDING_STATE",
            f"entries {[r[0] for r in resolved]} resolve {target}, which is not pending",
            entry_id=target,
        )


def _check_reversals(session: Session, report: VerifyReport) -> None:
    reversals = session.execute(
        select(ENTRIES.c.id, ENTRIES.c.reverses_entry_id).where(ENTRIES.c.kind == "reversal")
    ).all()
    if not reversals:
        return
    legs: dict[int, list[tuple[int, bool, int]]] = {}
    ids = {r.id for r in reversals} | {r.reverses_entry_id for r in reversals}
    id_list = list(ids)
    for start in range(0, len(id_list), 500):
        for row in session.execute(
            select(LEGS.c.entry_id, LEGS.c.account_id, LEGS.c.is_debit, LEGS.c.amount).where(
                LEGS.c.entry_id.in_(id_list[start : start + 500])
            )
        ):
            if row.amount:
                legs.setdefault(row.entry_id, []).append((row.account_id, row.is_debit, row.amount))
    for reversal in reversals:
        mirrored = sorted(
            (a, not d, amount) for a, d, amount in legs.get(reversal.reverses_entry_id, [])
        )
        if sorted(legs.get(reversal.id, [])) != mirrored:
            report.add(
                "REVERSAL",
                f"entry {reversal.id} does not mirror entry {reversal.reverses_entry_id}",
                entry_id=reversal.id,
            )


def _check_seals(session: Session, report: VerifyReport) -> int:
    """Recompute every seal's hash; returns the last sealed entry id."""
    previous_to, previous_hash, accounts_to, newest_version = 0, GENESIS_HASH, 0, 1
    for seal in session.execute(select(SEALS).order_by(SEALS.c.to_entry_id)):
        version = seal.version or 1
        if seal.prev_hash != previous_hash:
            report.add(
                "SEAL_CHAIN", f"seal {seal.id} does not link to the previous seal", seal_id=seal.id
            )
        if version < newest_version or version not in (1, 2):
            report.add(
                "SEAL_CHAIN",
                f"seal {seal.id} has version {version} after a version {newest_version} seal",
                seal_id=seal.id,
            )
        newest_version = max(newest_version, version)
        digest, count, accounts = previous_hash, 0, 0
        if version >= 2:
            account_upto = seal.account_upto if seal.account_upto is not None else accounts_to
            for _, canonical in account_digest_lines(session, accounts_to, account_upto):
                digest = chain(digest, canonical)
                accounts += 1
            if accounts != seal.account_count:
                report.add(
                    "SEAL_CHAIN",
                    f"accounts {accounts_to + 1}..{account_upto} do not match seal {seal.id}",
                    seal_id=seal.id,
                    expected_accounts=seal.account_count,
                    found_accounts=accounts,
                )
            accounts_to = max(accounts_to, account_upto)
        for _, canonical, _ in entry_digest_lines(
            session, previous_to, seal.to_entry_id, version=min(version, 2)
        ):
            digest = chain(digest, canonical)
            count += 1
        if count != seal.entry_count or digest != seal.hash:
            report.add(
                "SEAL_CHAIN",
                f"entries {previous_to + 1}..{seal.to_entry_id} "
                + (f"and accounts up to {accounts_to} " if version >= 2 else "")
                + f"do not match seal {seal.id}",
                seal_id=seal.id,
                expected_entries=seal.entry_count,
                found_entries=count,
            )
        report.sealed_entries += count
        previous_to, previous_hash = seal.to_entry_id, seal.hash
    return previous_to
