"""A run's watermark never passes over engagement still being imported: on PostgreSQL an import
that took a lower id but commits after the run read the highest id would otherwise sit at or
below the watermark, counted neither by this run nor as late by the next (SQLite's single
writer cannot interleave so)."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest
from sqlalchemy import text

from legato_pay.context import AppContext
from legato_pay.readers.engagement import engagement_input, import_engagement
from legato_pay.revenue.basis import window
from legato_pay.store.engine import session_scope
from tests.factories import make_users
from tests.revenue.helpers import IN_PERIOD, PERIOD, writers_with_content


@pytest.mark.postgres
def test_the_watermark_waits_for_an_import_in_flight(postgres_url: str) -> None:
    app = AppContext.create(database_url=postgres_url, actor="test")
    writers_with_content(app, "w1")
    make_users(app, "r1")
    inserted, go = threading.Event(), threading.Event()
    imported: dict[str, Any] = {}

    def slow_import() -> None:
        record = engagement_input("r1", "w1-ch", 30, recorded_at=IN_PERIOD, now=IN_PERIOD)
        with session_scope(app.engine) as session:
            imported["result"] = import_engagement(session, [record], now=IN_PERIOD)
            inserted.set()
            go.wait(30)  # the import's transaction stays open: its row has an id, uncommitted

    seen: dict[str, Any] = {}

    def run_window() -> None:
        seen["window"] = app.run(lambda s: window(s, PERIOD), write=False)

    importer = threading.Thread(target=slow_import)
    importer.start()
    assert inserted.wait(30)
    reader = threading.Thread(target=run_window)
    reader.start()
    time.sleep(0.5)
    assert reader.is_alive(), "the run read a watermark while an import was in flight"
    go.set()
    importer.join(30)
    reader.join(30)
    watermark = seen["window"].watermark
    counted = app.run(
        lambda s: s.execute(
            text("SELECT count(*) FROM engagement WHERE id <= :w"), {"w": watermark}
        ).scalar_one(),
        write=False,
    )
    assert counted == 1  # the imported row is at or below the watermark: this run counts it
