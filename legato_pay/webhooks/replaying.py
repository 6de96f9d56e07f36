"""``webhooks replay``: reapply stored events, one transaction each.

``--failed`` goes through every failed event even when some fail again (a handler still
raising, a purchase still missing): each outcome is reported, a renewed failure is counted on
its row with the reason, and the run as a whole then ends with ``REPLAY_FAILED`` (exit 6) so a
script sees that something is left.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sqlalchemy.orm import Session

from legato_pay.errors import Conflict
from legato_pay.webhooks import inbox

if TYPE_CHECKING:
    from legato_pay.context import AppContext


def replay_one(session: Session, event_id: int | str) -> dict[str, Any]:
    """Reapply one event (its errors are the command's)."""
    return inbox.replay(session, event_id)


@dataclass
class ReplayReport:
    results: list[dict[str, Any]] = field(default_factory=list)

    @property
    def failed(self) -> list[dict[str, Any]]:
        return [result for result in self.results if result["status"] == "failed"]

    def summary(self) -> str:
        return f"{len(self.results) - len(self.failed)} applied, {len(self.failed)} failed again"

    def raise_if_failed(self) -> None:
        if self.failed:
            raise Conflict(
                f"{len(self.failed)} of {len(self.results)} events failed again "
                "(kept as failed; see each one's error)",
                details={
                    "failed": [result["id"] for result in self.failed],
                    "results": self.results,
                },
                code="REPLAY_FAILED",
            )


def replay_failed(app: AppContext) -> ReplayReport:
    """Reapply every failed event, each in its own transaction; never stops at a failure."""
    report = ReplayReport()
    for number in app.run(inbox.failed_ids, write=False):
        report.results.append(_replay(app, number))
    return report


def _replay(app: AppContext, number: int) -> dict[str, Any]:
    try:
        return {**app.run(lambda s: inbox.replay(s, number)), "error": None}
    except Exception as error:  # reported and kept; the next event is still tried
        message = inbox.error_text(error)
    with contextlib.suppress(Exception):  # the database is gone: the report still says why
        app.run(lambda s: inbox.record_replay_failure(s, number, message))
    try:
        row = app.run(lambda s: inbox.show_event(s, number), write=False)
        provider, kind = row["provider"], row["type"]
    except Exception:
        provider, kind = None, None
    return {"id": number, "provider": provider, "type": kind, "status": "failed", "error": message}
