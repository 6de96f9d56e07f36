"""The application context a command or the webhook app works in: settings, database, actor."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, TypeVar

from legato_pay.audit import check_actor
from legato_pay.config import Settings, default_database_url, load_settings

if TYPE_CHECKING:
    from sqlalchemy import Engine
    from sqlalchemy.orm import Session

    from legato_pay.store.lightread import Rows

T = TypeVar("T")


def default_actor() -> str:
    import getpass  # only when no actor was given (it loads termios)

    try:
        return f"cli:{getpass.getuser()}"
    except Exception:  # no user name in some containers
        return "cli:unknown"


@dataclass
class AppContext:
    settings: Settings
    database_url: str
    actor: str
    _engine: Engine | None = field(default=None, repr=False)

    @classmethod
    def create(
        cls,
        *,
        database_url: str | None = None,
        config_file: str | None = None,
        actor: str | None = None,
    ) -> AppContext:
        settings = load_settings(config_file)
        url = database_url or settings.database.url or default_database_url()
        return cls(
            settings=settings,
            database_url=url,
            # checked once here: every posting, seal and audit line stores it
            actor=check_actor(actor or os.environ.get("LEGATO_ACTOR") or default_actor()),
        )

    @property
    def engine(self) -> Engine:
        """The engine, with the schema created or checked on first use."""
        if self._engine is None:
            from legato_pay.store.engine import get_engine
            from legato_pay.store.schema import ensure_schema

            engine = get_engine(
                self.database_url, busy_timeout_ms=self.settings.database.sqlite_busy_timeout_ms
            )
            ensure_schema(engine)
            self._engine = engine
        return self._engine

    def run(self, work: Callable[[Session], T], *, write: bool = True) -> T:
        """Run one unit of work, retried from the start if it loses a race."""
        from legato_pay.store.engine import run_in_transaction

        return run_in_transaction(
            self.engine, work, write=write, max_retries=self.settings.database.max_retries
        )

    def read(self, work: Callable[[Rows], T], *, full: Callable[[Session], T] | None = None) -> T:
        """Run a read on the light path (no SQLAlchemy: a fast start) when it can serve it,
        else on the full path: ``full`` if given, otherwise ``work`` on the session's rows.

        The light path serves an existing SQLite file at this code's schema revision; a read
        that raises ``Deferred`` there, and every other case, runs again on the full path."""
        from legato_pay.store.lightread import (
            Deferred,
            LightPathUnavailable,
            SessionRows,
            sqlite_rows,
        )

        busy_ms = self.settings.database.sqlite_busy_timeout_ms
        try:
            with sqlite_rows(self.database_url, busy_timeout_ms=busy_ms) as rows:
                return work(rows)
        except (LightPathUnavailable, Deferred):
            pass
        if full is not None:
            return self.run(full, write=False)
        return self.run(lambda session: work(SessionRows(session)), write=False)
