"""The pool basis's fast path against the plain algorithm, and the totals the triggers keep.

``materialize`` groups per content and day only the *exceptional* subscribers (over the smaller
cap threshold, with late rows, or reading a writer who is no longer a user) and sums everyone
else's rows per writer in one pass; ``reference=True`` makes every subscriber exceptional, which
is the plain algorithm. Seeded periods with every kind of subscriber must give the same basis,
fraud report and unattributed minutes either way, under both models and in two currencies."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import text

from legato_pay.revenue import basis as basis_sql
from legato_pay.revenue.runs import run_revenue
from legato_pay.store.tables import ENGAGEMENT
from tests.factories import make_users
from tests.revenue.helpers import PERIOD, subscribe, writers_with_content

WRITERS = ["a", "b", "c", "d"]
START = datetime(2026, 1, 1, tzinfo=UTC)


def _row(user: str, writer: str, minutes: int, when: datetime, period: str = PERIOD) -> dict:
    content = "a-ch" if writer == "ghost" else f"{writer}-ch"
    return {
        "user_id": user,
        "content_id": content,
        "writer_id": writer,
        "minutes": minutes,
        "period": period,
        "recorded_at": when,
    }


def _period(app: Any, seed: int) -> None:
    """Subscribers of every kind: light ones, heavy ones (over 600 minutes), ones with a day
    over 1,440, some on a writer who is not a user, some paying in CAD or in both currencies,
    readers who pay nothing, subscribers who read nothing, and late rows of December (run
    before they were recorded)."""
    rng = random.Random(seed)
    writers_with_content(app, *WRITERS)
    users = [f"u{n}" for n in range(40)]
    make_users(app, *users)
    subscribe(app, "u0", 700, period="2025-12")
    run_revenue(app, period="2025-12", now=datetime(2026, 1, 2, tzinfo=UTC))
    for n, user in enumerate(users):
        if n % 7 != 6:  # every seventh reads without paying
            subscribe(app, user, rng.choice([499, 999, 1499, 1]))
        if n % 5 == 0:
            subscribe(app, user, rng.choice([650, 1300]), currency="CAD")
    rows = []
    for n, user in enumerate(users):
        if n % 11 == 10:
            continue  # pays, reads nothing
        kind = n % 4
        for _ in range(rng.randint(1, 6)):
            writer = rng.choice(WRITERS)
            day = START + timedelta(days=rng.randint(0, 27), hours=rng.randint(0, 23))
            minutes = {0: rng.randint(1, 40), 1: rng.randint(100, 900), 2: 0, 3: 0}[kind]
            if kind >= 2:  # many records on one or two days: days over the cap
                minutes = rng.randint(200, 1000)
                day = START + timedelta(days=rng.randint(0, 1), hours=rng.randint(0, 23))
            rows.append(_row(user, writer, minutes, day))
        if (
            n % 9 == 1
        ):  # some light readers among them: only the missing writer makes them exceptional
            rows.append(_row(user, "ghost", rng.randint(1, 30), START + timedelta(days=5)))
        if n % 6 == 0:  # late: December reading recorded after December's run
            rows.append(_row(user, rng.choice(WRITERS), rng.randint(1, 300), START, "2025-12"))
    app.run(lambda s: s.execute(ENGAGEMENT.insert(), rows))


def _everything(session: Any, settings: Any, *, reference: bool) -> dict[str, Any]:
    win = basis_sql.window(session, PERIOD)
    found: dict[str, Any] = {}
    for model in ("pro-rata", "user-centric"):
        exceptional = basis_sql.materialize(
            session, settings, win, model=model, reference=reference
        )
        for currency in ("USD", "CAD"):
            found[f"{model}:{currency}"] = basis_sql.pool_basis(
                session, win, currency, model=model, exceptional=exceptional
            )
        found[f"{model}:suspects"] = basis_sql.suspects(session)
        found[f"{model}:unattributed"] = basis_sql.unattributed(session)
    found["late"] = basis_sql.late_minutes(session, win)
    exceptional = f"SELECT COUNT(*) FROM {basis_sql.EXCEPTIONAL}"
    found["exceptional"] = session.execute(text(exceptional)).scalar_one()
    return found


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_the_fast_basis_equals_the_plain_algorithm(app: Any, seed: int) -> None:
    _period(app, seed)

    def both(session: Any) -> tuple[dict[str, Any], dict[str, Any]]:
        return (
            _everything(session, app.settings, reference=False),
            _everything(session, app.settings, reference=True),
        )

    fast, plain = app.run(both)
    assert 0 < fast.pop("exceptional") < plain.pop("exceptional")  # the fast path was taken
    assert fast == plain
    # the seeds reach every branch: caps, a writer who is not a user, late minutes, CAD
    capped, listed = plain["pro-rata:suspects"]
    assert capped > 0 and listed
    assert plain["pro-rata:unattributed"]
    assert plain["late"] > 0
    assert plain["user-centric:CAD"].minutes and plain["user-centric:USD"].unengaged_fees


def _totals_match(app: Any) -> None:
    def read(session: Any) -> tuple[Any, ...]:
        def rows(sql: str) -> set[tuple[str, str, int]]:
            return {(str(a), str(b), int(c)) for a, b, c in session.execute(text(sql))}

        return (
            rows("SELECT period, user_id, minutes FROM engagement_user_totals WHERE minutes <> 0"),
            rows(
                "SELECT period, user_id, SUM(minutes) FROM engagement GROUP BY period, user_id "
                "HAVING SUM(minutes) <> 0"
            ),
            rows(
                "SELECT period, writer_id, minutes FROM engagement_writer_totals WHERE minutes <> 0"
            ),
            rows(
                "SELECT period, writer_id, SUM(minutes) FROM engagement "
                "GROUP BY period, writer_id HAVING SUM(minutes) <> 0"
            ),
        )

    users, users_expected, writers, writers_expected = app.run(read)
    assert users == users_expected and users
    assert writers == writers_expected and writers


def test_the_triggers_keep_the_totals_through_inserts_updates_and_deletes(app: Any) -> None:
    writers_with_content(app, "a", "b")
    make_users(app, "r1", "r2")
    when = START + timedelta(days=3)
    rows = [_row("r1", "a", 10, when), _row("r1", "b", 5, when), _row("r2", "a", 7, when)]
    app.run(lambda s: s.execute(ENGAGEMENT.insert(), rows))  # one statement, several rows
    app.run(lambda s: s.execute(ENGAGEMENT.insert().values(**_row("r2", "b", 3, when))))
    _totals_match(app)
    app.run(
        lambda s: s.execute(
            ENGAGEMENT.update().where(ENGAGEMENT.c.user_id == "r1").values(minutes=20)
        )
    )
    app.run(
        lambda s: s.execute(
            ENGAGEMENT.update()
            .where(ENGAGEMENT.c.user_id == "r2", ENGAGEMENT.c.writer_id == "a")
            .values(period="2026-02", user_id="r1", writer_id="b")
        )
    )
    _totals_match(app)
    app.run(lambda s: s.execute(ENGAGEMENT.delete().where(ENGAGEMENT.c.writer_id == "b")))
    app.run(lambda s: s.execute(ENGAGEMENT.insert().values(**_row("r2", "a", 4, when))))
    _totals_match(app)
