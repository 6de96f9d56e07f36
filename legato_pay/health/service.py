"""Run every health check; record what ``ledger verify`` found."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy.orm import Session

from legato_pay.health.checks import VERIFY_KEY, Check, check_database, check_inbox, check_ledger
from legato_pay.health.gateways import Probe, check_gateway, configured_gateways, probe_gateway
from legato_pay.health.records import Record, write_record
from legato_pay.ledger.types import utcnow

if TYPE_CHECKING:
    from legato_pay.context import AppContext
    from legato_pay.ledger.verify import VerifyReport


@dataclass(frozen=True)
class HealthReport:
    checked_at: datetime
    checks: list[Check]

    @property
    def ok(self) -> bool:
        return all(check.ok for check in self.checks)

    @property
    def failing(self) -> list[str]:
        return [check.name for check in self.checks if not check.ok]

    def as_json(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "checked_at": self.checked_at.isoformat(),
            "failing": self.failing,
            "checks": [check.as_json() for check in self.checks],
        }


def check_health(
    app: AppContext, *, deep: bool = True, probe: Probe = probe_gateway, now: datetime | None = None
) -> HealthReport:
    """The database check always; with ``deep`` also gateways, inbox and ledger. When the
    database does not answer, the checks that need it are reported as skipped failures."""
    moment = now or utcnow()
    database = check_database(app.engine)
    checks = [database]
    if not deep:
        return HealthReport(moment, checks)
    settings = app.settings.health
    if not database.ok:
        for name in [
            *(f"gateway:{g}" for g in configured_gateways(app)),
            "webhook_inbox",
            "ledger",
        ]:
            skipped = Check(name, {"skipped": True})
            skipped.fail("SKIPPED", "not checked: the database did not answer")
            checks.append(skipped)
        return HealthReport(moment, checks)
    checks.extend(check_gateway(app, name, moment, probe) for name in configured_gateways(app))
    checks.append(app.run(lambda s: check_inbox(s, settings, moment), write=False))
    checks.append(app.run(lambda s: check_ledger(s, settings, moment), write=False))
    return HealthReport(moment, checks)


def record_verify(session: Session, report: VerifyReport, elapsed_ms: int = 0) -> None:
    """Keep what ``ledger verify`` found, for the ledger check (``VERIFY_FAILED``/``_STALE``)."""
    codes = sorted({str(problem.get("code")) for problem in report.problems})
    detail = {
        "problem_count": report.problem_count,
        "codes": codes,
        "accounts": report.accounts,
        "entries": report.entries,
    }
    write_record(session, Record(VERIFY_KEY, report.ok, detail, elapsed_ms, utcnow()))
