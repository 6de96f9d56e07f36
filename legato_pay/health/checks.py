"""The checks that read the database: database reachability, webhook inbox, ledger integrity."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, text
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from legato_pay.config import HealthSettings
from legato_pay.health.records import read_record
from legato_pay.ledger.types import as_utc
from legato_pay.store.engine import connect
from legato_pay.store.tables import ENTRIES, EVENTS, SEALS

VERIFY_KEY = "ledger_verify"


@dataclass
class Check:
    """One check's outcome: ``problems`` are ``{"code", "message"}``; none means ok."""

    name: str
    facts: dict[str, Any] = field(default_factory=dict)
    problems: list[dict[str, str]] = field(default_factory=list)
    elapsed_ms: int = 0

    @property
    def ok(self) -> bool:
        return not self.problems

    def fail(self, code: str, message: str) -> None:
        self.problems.append({"code": code, "message": message})

    def as_json(self) -> dict[str, Any]:
        return {
            "check": self.name,
            "ok": self.ok,
            "elapsed_ms": self.elapsed_ms,
            **self.facts,
            "problems": self.problems,
        }


def _age(now: datetime, moment: Any) -> int | None:
    found = as_utc(moment)
    return None if found is None else max(0, int((now - found).total_seconds()))


def check_database(engine: Engine) -> Check:
    """``SELECT 1`` on a fresh connection, timed; an unreachable database is DATABASE_DOWN."""
    check = Check("database", {"dialect": engine.dialect.name})
    started = time.perf_counter()
    try:
        with connect(engine) as connection:
            connection.execute(text("SELECT 1"))
    except Exception as error:  # any failure to answer is the finding, never a traceback
        check.fail("DATABASE_DOWN", f"the database did not answer: {type(error).__name__}")
    check.elapsed_ms = round((time.perf_counter() - started) * 1000)
    return check


def check_inbox(session: Session, settings: HealthSettings, now: datetime) -> Check:
    """The oldest event received and not yet applied, and the count of failed events."""
    oldest = session.execute(
        select(func.min(EVENTS.c.received_at)).where(EVENTS.c.status == "received")
    ).scalar()
    failed = int(
        session.execute(
            select(func.count()).select_from(EVENTS).where(EVENTS.c.status == "failed")
        ).scalar()
        or 0
    )
    age = _age(now, oldest)
    check = Check("webhook_inbox", {"oldest_unapplied_seconds": age, "failed_events": failed})
    if age is not None and age > settings.inbox_max_age_seconds:
        check.fail(
            "INBOX_BACKLOG",
            f"an event has waited {age} s to be applied (limit {settings.inbox_max_age_seconds} s)",
        )
    if failed > settings.inbox_max_failed:
        check.fail(
            "INBOX_FAILED",
            f"{failed} webhook events failed (limit {settings.inbox_max_failed}); "
            "see `webhooks list --status failed` and replay them",
        )
    return check


def check_ledger(session: Session, settings: HealthSettings, now: datetime) -> Check:
    """The last seal, the oldest entry it does not cover yet, and the last ``ledger verify``."""
    last = session.execute(
        select(SEALS.c.to_entry_id, SEALS.c.sealed_at).order_by(SEALS.c.to_entry_id.desc()).limit(1)
    ).first()
    sealed_upto = int(last.to_entry_id) if last else 0
    oldest_unsealed = session.execute(
        select(func.min(ENTRIES.c.created_at)).where(ENTRIES.c.id > sealed_upto)
    ).scalar()
    verify = read_record(session, VERIFY_KEY)
    check = Check(
        "ledger",
        {
            "last_seal_age_seconds": _age(now, last.sealed_at) if last else None,
            "oldest_unsealed_seconds": _age(now, oldest_unsealed),
            "last_verify_ok": None if verify is None else verify.ok,
            "last_verify_age_seconds": None if verify is None else _age(now, verify.checked_at),
        },
    )
    unsealed = check.facts["oldest_unsealed_seconds"]
    if unsealed is not None and unsealed > settings.seal_max_age_hours * 3600:
        check.fail(
            "SEAL_STALE",
            f"entries have waited {unsealed // 3600} h to be sealed "
            f"(limit {settings.seal_max_age_hours} h); run `ledger seal`",
        )
    if verify is not None and not verify.ok:
        count = verify.detail.get("problem_count")
        check.fail("VERIFY_FAILED", f"the last `ledger verify` found {count} problems")
    age = check.facts["last_verify_age_seconds"]
    if age is not None and age > settings.verify_max_age_hours * 3600:
        check.fail(
            "VERIFY_STALE",
            f"the last `ledger verify` ran {age // 3600} h ago "
            f"(limit {settings.verify_max_age_hours} h)",
        )
    return check
