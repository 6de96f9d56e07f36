"""The application context a command or the webhook app works in: settings, database, actor."""

from __future__ import annotations

import getpass
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, TypeVar

from legato_pay.config import Settings, default_database_url, load_settings

if TYPE_CHECKING:
    from sqlalchemy import Engine
    from sqlalchemy.orm import Session

T = TypeVar("T")


def default_actor() -> str:
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
        from legato_pay.ledger.shaping import check_actor

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
