"""The pool run's basis, aggregated in SQL: who read whom for how long, and who paid what.

The rules, over the engagement table (never a Python object per row):

1. the engagement the run counts: the period's rows up to the run's watermark (the highest
   engagement id when the run starts) and *late* rows, those of earlier periods already run
   that were recorded after that period's run (they count toward the next run, never lost);
2. per subscriber and UTC day: a subscriber credited with more minutes in a day than
   ``revenue.fraud.max_minutes_per_day`` has each of that day's records scaled down to fit
   (minutes × cap ÷ the day's total, floored);
3. per subscriber and content: one piece taking more than ``content_share_percent`` of that
   subscriber's minutes, once past ``content_share_min_minutes``, is capped there;
4. minutes on writers who no longer exist (not a user any more) are left out.

What steps 2 and 3 took away is listed as suspected stream fraud; what step 4 left out, as
unattributed. Only subscribers of the pool's currency (a subscription in that period) count.

How, fast: steps 2 to 4 change nothing for most subscribers. A cap needs the subscriber's
minutes above the smaller threshold, step 4 needs a row on a missing writer, and a late row
needs an earlier period. Only the subscribers who have one of these (*exceptional*, found from
the totals the engagement triggers keep, migration 0026) are grouped per content and day
(``materialize``); the pool's sums per writer are one parallel pass over everyone's counted
rows (``pool_basis``), from which the exceptional subscribers' raw minutes are taken back and
their capped ones added. ``materialize(..., reference=True)`` makes every subscriber
exceptional: the plain algorithm, which tests compare against.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from legato_pay.config import Settings
from legato_pay.store.dialect import is_postgres

#: Suspected-fraud rows kept in a run's report (the count is always complete).
MAX_LISTED = 200


@dataclass(frozen=True, slots=True)
class Window:
    """Which engagement rows a run counts (see step 1)."""

    period: str
    watermark: int  # highest engagement id counted
    late_after: int | None  # rows of earlier, already-run periods with a higher id are late


@dataclass(slots=True)
class Basis:
    """One currency's pool basis."""

    currency: str
    minutes: dict[str, int] = field(default_factory=dict)  # writer -> counted minutes
    by_total: dict[str, dict[int, int]] = field(default_factory=dict)  # writer -> {M_u: Σfee·m}
    unengaged_fees: int = 0  # fees of subscribers with no counted minutes (user-centric only)
    fees: int = 0  # every subscriber's fees in the period
    subscribers: int = 0


def window(session: Session, period: str) -> Window:
    """The rows a run of ``period`` would count if it started now.

    On PostgreSQL the engagement table is locked in SHARE mode first, until the run's
    transaction ends: imports in flight finish before the highest id is read, and new ones wait.
    Otherwise a row that took a lower id but commits after this read would sit at or below the
    watermark unseen — counted neither by this run nor as late by the next. (SQLite's one
    writer at a time cannot interleave so.)"""
    if is_postgres(session):
        session.execute(text("LOCK TABLE engagement IN SHARE MODE"))
    watermark = session.execute(text("SELECT COALESCE(MAX(id), 0) FROM engagement")).scalar_one()
    late_after = session.execute(
        text(
            "SELECT MAX(engagement_watermark) FROM revenue_runs "
            "WHERE stream = 'subscription' AND period < :period"
        ),
        {"period": period},
    ).scalar_one()
    return Window(period, int(watermark), None if late_after is None else int(late_after))


def _day(session: Session) -> str:
    if is_postgres(session):
        return "CAST((e.recorded_at AT TIME ZONE 'UTC') AS DATE)"
    return "substr(e.recorded_at, 1, 10)"


#: Step 1's two halves, over ``engagement e``: the period's rows up to the watermark, and the
#: late rows (earlier periods already run, recorded after that run). Each reads its own index
#: (``(period, user_id)`` or ``(period, writer_id)``; ``(period, id)``) when queried apart.
_PERIOD_ROWS = "e.period = :period AND e.id <= :watermark"
_LATE_ROWS = """e.id <= :watermark AND e.id > :late_after AND e.period < :period
        AND e.period IN (SELECT r.period FROM revenue_runs r WHERE r.stream = 'subscription')"""
_COUNTED = f"(({_PERIOD_ROWS}) OR ({_LATE_ROWS}))"


#: The subscribers computed in detail (see the module doc): one ``user_id`` per row.
EXCEPTIONAL = "revenue_exceptional"


def _exceptional_sql(reference: bool) -> str:
    """Subscribers over the smaller cap threshold in the period, those with late rows, and
    those with a row on a writer who is no longer a user (``reference``: every subscriber with
    a counted row). Each part reads an index or the trigger-kept totals, not the whole table."""
    if reference:
        return f"SELECT DISTINCT e.user_id FROM engagement e WHERE {_COUNTED}"
    return f"""SELECT t.user_id FROM engagement_user_totals t
        WHERE t.period = :period AND t.minutes > :heavy
    UNION
    SELECT e.user_id FROM engagement e WHERE {_LATE_ROWS}
    UNION
    SELECT e.user_id FROM engagement e
        WHERE {_PERIOD_ROWS} AND e.writer_id IN (
            SELECT w.writer_id FROM engagement_writer_totals w
            WHERE w.period = :period AND w.writer_id NOT IN (SELECT id FROM users))"""


def _counted_rows_of(users: str) -> str:
    """Step 1's rows of the subscribers in ``users`` (a table of ``user_id``): the period's, then
    the late ones (the two halves of ``_COUNTED``, apart so each reads its index)."""
    return f"""(SELECT e.* FROM engagement e JOIN {users} u ON u.user_id = e.user_id
            WHERE {_PERIOD_ROWS}
        UNION ALL
        SELECT e.* FROM engagement e JOIN {users} u ON u.user_id = e.user_id
            WHERE {_LATE_ROWS})"""


def _raw_sql(any_exceptional: bool) -> str:
    """Step 1 for the exceptional subscribers: counted minutes per subscriber and content,
    before any cap (no rows at all when there is none: no scan)."""
    only = "" if any_exceptional else " WHERE 1 = 0"
    return f"""SELECT e.user_id, e.content_id, e.writer_id, CAST(SUM(e.minutes) AS BIGINT) AS raw
        FROM {_counted_rows_of(EXCEPTIONAL)} e{only}
        GROUP BY e.user_id, e.content_id, e.writer_id"""


def _over_days_sql(session: Session) -> str:
    """Step 2's subscriber-days over the cap, among the subscribers in ``HEAVY`` only."""
    day = _day(session)
    return f"""SELECT e.user_id, {day} AS day, CAST(SUM(e.minutes) AS BIGINT) AS dm
        FROM {_counted_rows_of(HEAVY)} e
        GROUP BY e.user_id, {day} HAVING SUM(e.minutes) > :max_day"""


def _cut_sql(session: Session) -> str:
    """What step 2 takes off each (subscriber, content): of each record on a day over the cap,
    minutes − minutes × cap ÷ the day's total (floored), summed."""
    return f"""SELECT e.user_id, e.content_id, e.writer_id,
               CAST(SUM(e.minutes - (e.minutes * :max_day) / o.dm) AS BIGINT) AS cut
        FROM {_counted_rows_of(HEAVY)} e
        JOIN {OVER} o ON o.user_id = e.user_id AND o.day = {_day(session)}
        GROUP BY e.user_id, e.content_id, e.writer_id"""


def _capped_sql(per_content: str) -> str:
    """Step 3 over ``per_content`` (``user_id, content_id, writer_id, raw, m``: the raw and the
    day-capped minutes per subscriber and content), ending in ``capped(user_id, content_id,
    writer_id, raw, um, paid)`` (``um``: the subscriber's day-capped minutes in all)."""
    return f"""WITH per_content AS ({per_content}),
    user_total AS (
        SELECT user_id, CAST(SUM(m) AS BIGINT) AS um FROM per_content GROUP BY user_id
    ),
    capped AS (
        SELECT p.user_id, p.content_id, p.writer_id, p.raw, u.um,
               CASE WHEN p.m > :min_minutes AND p.m * 1000000 > :share_scaled * u.um
                    THEN CASE WHEN (u.um * :share_scaled) / 1000000 > :min_minutes
                              THEN (u.um * :share_scaled) / 1000000 ELSE :min_minutes END
                    ELSE p.m END AS paid
        FROM per_content p JOIN user_total u ON u.user_id = p.user_id
    )
    SELECT * FROM capped"""


#: The exceptional subscribers' capped engagement (steps 1 to 3), one row per subscriber and
#: content; the other subscribers' minutes are all paid, as recorded.
CAPPED = "revenue_capped"


#: Per exceptional subscriber and (existing) writer: the paid minutes (user-centric only); per
#: exceptional subscriber: their paid total; among them, the subscribers with more counted
#: minutes than a day holds (only they can have a day over the cap), their subscriber-days over
#: it, and what those days' scaling takes off per content.
UW = "revenue_uw"
UT = "revenue_ut"
HEAVY = "revenue_heavy"
OVER = "revenue_over_days"
CUT = "revenue_cut"
_TEMPORARY = (UT, UW, CAPPED, CUT, OVER, HEAVY, f"{CAPPED}_raw", EXCEPTIONAL)


def materialize(
    session: Session,
    settings: Settings,
    win: Window,
    *,
    model: str = "user-centric",
    reference: bool = False,
) -> bool:
    """Find the exceptional subscribers and compute steps 1 to 4 for them into temporary tables
    (dropped at commit on PostgreSQL, and before the next run on either); ``pool_basis`` reads
    those. PostgreSQL gets the memory for its hash aggregates not to spill, and no JIT
    (compiling cost more than it saved on these one-off statements).

    The capped table is built from the raw minutes per (subscriber, content); only subscribers
    whose counted minutes exceed a day's cap (a day over it needs that many) are grouped per
    UTC day; if some day is over, the capped table is rebuilt from the raw one minus the cut
    (the same integers as scaling each record in one pass)."""
    for table in _TEMPORARY:
        session.execute(text(f"DROP TABLE IF EXISTS {table}"))
    postgres = is_postgres(session)
    if postgres:
        session.execute(text("SET LOCAL work_mem = '64MB'"))
        session.execute(text("SET LOCAL jit = off"))
    params = _params(settings, win)

    def create(table: str, select_sql: str) -> bool:
        """``CREATE TEMPORARY TABLE … AS``; whether it has a row."""
        suffix = " ON COMMIT DROP" if postgres else ""
        session.execute(text(f"CREATE TEMPORARY TABLE {table}{suffix} AS {select_sql}"), params)
        if postgres:
            session.execute(text(f"ANALYZE {table}"))  # autovacuum never sees temporary tables
        return session.execute(text(f"SELECT 1 FROM {table} LIMIT 1")).first() is not None

    any_exceptional = create(EXCEPTIONAL, _exceptional_sql(reference))
    raw_sql = _raw_sql(any_exceptional)
    create(CAPPED, _capped_sql(f"SELECT r.*, r.raw AS m FROM ({raw_sql}) r"))
    # before any day is capped, um is the subscriber's raw minutes: no filter on a sum here
    heavy = f"SELECT DISTINCT user_id FROM {CAPPED} WHERE um > :max_day"
    if (
        create(HEAVY, heavy)
        and create(OVER, _over_days_sql(session))
        and create(CUT, _cut_sql(session))
    ):
        raw = f"{CAPPED}_raw"
        session.execute(text(f"ALTER TABLE {CAPPED} RENAME TO {raw}"))
        create(
            CAPPED,
            _capped_sql(
                "SELECT r.user_id, r.content_id, r.writer_id, r.raw, "
                "r.raw - COALESCE(c.cut, 0) AS m "
                f"FROM {raw} r LEFT JOIN {CUT} c ON c.user_id = r.user_id "
                "AND c.content_id = r.content_id AND c.writer_id = r.writer_id"
            ),
        )
    paid = f"FROM {CAPPED} c JOIN users w ON w.id = c.writer_id WHERE c.paid > 0"
    if model != "pro-rata":  # pro-rata's sums per writer read the capped table itself
        create(
            UW,
            f"SELECT c.user_id, c.writer_id, CAST(SUM(c.paid) AS BIGINT) AS m {paid} "
            "GROUP BY c.user_id, c.writer_id",
        )
    create(UT, f"SELECT c.user_id, CAST(SUM(c.paid) AS BIGINT) AS mu {paid} GROUP BY c.user_id")
    return any_exceptional


def _window_params(win: Window) -> dict[str, Any]:
    return {
        "period": win.period,
        "watermark": win.watermark,
        # no earlier run: nothing is late (no id is both above the watermark and at most it)
        "late_after": win.watermark if win.late_after is None else win.late_after,
    }


def _params(settings: Settings, win: Window) -> dict[str, Any]:
    fraud = settings.revenue.fraud
    return {
        **_window_params(win),
        "max_day": fraud.max_minutes_per_day,
        "min_minutes": fraud.content_share_min_minutes,
        "share_scaled": int(Decimal(fraud.content_share_percent).scaleb(4)),
        # a subscriber at or under both thresholds can have no day or piece capped
        "heavy": min(fraud.max_minutes_per_day, fraud.content_share_min_minutes),
    }


_FEES = """fees AS (
        SELECT user_id, CAST(SUM(amount) AS BIGINT) AS fee FROM subscriptions
        WHERE period = :period AND currency = :currency GROUP BY user_id
    )"""

#: The pass over everyone's counted rows (subscribers of the pool's currency): minutes per
#: writer (pro-rata), or per writer and subscriber total from the triggers' totals with the
#: fee-weighted sum (user-centric). Only plain tables: PostgreSQL runs it in parallel.
_PAYS = """EXISTS (SELECT 1 FROM subscriptions s WHERE s.user_id = {user}
        AND s.period = :period AND s.currency = :currency)"""
# pro-rata needs only whether a subscriber pays (a semi-join: no per-subscriber fee sums built
# in every parallel worker)
_PRO_RATA_PASS = f"""SELECT e.writer_id, 0, CAST(SUM(e.minutes) AS BIGINT), 0
    FROM engagement e WHERE {_COUNTED} AND {_PAYS.format(user="e.user_id")}
    GROUP BY e.writer_id"""
_USER_CENTRIC_PASS = f"""WITH {_FEES}, payers AS (
        SELECT f.user_id, f.fee, t.minutes AS um FROM fees f
        JOIN engagement_user_totals t ON t.period = :period AND t.user_id = f.user_id
    )
    SELECT e.writer_id, p.um, CAST(SUM(e.minutes) AS BIGINT),
           CAST(SUM(p.fee * e.minutes) AS BIGINT)
    FROM engagement e JOIN payers p ON p.user_id = e.user_id WHERE {_COUNTED}
    GROUP BY e.writer_id, p.um"""
#: What that pass counted for the exceptional subscribers (their raw minutes, grouped alike),
#: to take back; and their paid minutes, to add.
_PRO_RATA_TAKEN = f"""SELECT c.writer_id, 0, CAST(SUM(c.raw) AS BIGINT), 0
    FROM {CAPPED} c WHERE {_PAYS.format(user="c.user_id")} GROUP BY c.writer_id"""
_PRO_RATA_ADDED = f"""SELECT c.writer_id, 0, CAST(SUM(c.paid) AS BIGINT), 0
    FROM {CAPPED} c JOIN users w ON w.id = c.writer_id
    WHERE c.paid > 0 AND {_PAYS.format(user="c.user_id")} GROUP BY c.writer_id"""
_USER_CENTRIC_TAKEN = f"""WITH {_FEES}
    SELECT c.writer_id, t.minutes, CAST(SUM(c.raw) AS BIGINT), CAST(SUM(f.fee * c.raw) AS BIGINT)
    FROM {CAPPED} c JOIN fees f ON f.user_id = c.user_id
    JOIN engagement_user_totals t ON t.period = :period AND t.user_id = c.user_id
    GROUP BY c.writer_id, t.minutes"""
_USER_CENTRIC_ADDED = f"""WITH {_FEES}
    SELECT uw.writer_id, ut.mu, CAST(SUM(uw.m) AS BIGINT), CAST(SUM(f.fee * uw.m) AS BIGINT)
    FROM {UW} uw JOIN fees f ON f.user_id = uw.user_id JOIN {UT} ut ON ut.user_id = uw.user_id
    GROUP BY uw.writer_id, ut.mu"""
#: The fees of subscribers with no paid minutes (user-centric), as if every subscriber were
#: ordinary (none recorded in the period; summed over subscription rows: a subscriber's rows
#: share one answer); then, for the exceptional ones, the difference their real answer makes
#: (no minutes left after the caps: not in ``UT``).
_UNENGAGED = """SELECT
           CAST(COALESCE(SUM(CASE WHEN COALESCE(t.minutes, 0) <= 0 THEN s.amount ELSE 0 END), 0)
                AS BIGINT)
    FROM subscriptions s
    LEFT JOIN engagement_user_totals t ON t.period = s.period AND t.user_id = s.user_id
    WHERE s.period = :period AND s.currency = :currency"""
#: Subscribers and their fees (a hashed GROUP BY: COUNT(DISTINCT) would sort by collation).
_SUBSCRIBERS = """SELECT COUNT(*), CAST(COALESCE(SUM(g.fee), 0) AS BIGINT) FROM (
        SELECT s.user_id, SUM(s.amount) AS fee FROM subscriptions s
        WHERE s.period = :period AND s.currency = :currency GROUP BY s.user_id) g"""
_EXCEPTIONAL_UNENGAGED = f"""SELECT CAST(COALESCE(SUM(
        CASE WHEN ut.user_id IS NULL THEN s.amount ELSE 0 END
        - CASE WHEN COALESCE(t.minutes, 0) <= 0 THEN s.amount ELSE 0 END), 0) AS BIGINT)
    FROM {EXCEPTIONAL} x
    JOIN subscriptions s ON s.user_id = x.user_id AND s.period = :period
        AND s.currency = :currency
    LEFT JOIN {UT} ut ON ut.user_id = x.user_id
    LEFT JOIN engagement_user_totals t ON t.period = :period AND t.user_id = x.user_id"""


def pool_basis(
    session: Session,
    win: Window,
    currency: str,
    *,
    model: str = "user-centric",
    exceptional: bool = True,
) -> Basis:
    """Minutes per writer, fees, and (``user-centric`` only) the fee-weighted sums per writer
    and subscriber total: the pass over everyone, minus what it counted for the exceptional
    subscribers, plus their paid minutes (``materialize`` first). Each (writer, total) sum is
    kept only while minutes remain in it, so it holds exactly the subscribers the plain
    algorithm would group there. ``exceptional``: whether ``materialize`` found any (without,
    there is nothing to take back or add). The fees of subscribers with no paid minutes only
    weigh under user-centric: pro-rata does not compute them."""
    params = {**_window_params(win), "currency": currency}
    statements: list[tuple[str, int]] = (
        [(_PRO_RATA_PASS, 1), (_PRO_RATA_TAKEN, -1), (_PRO_RATA_ADDED, 1)]
        if model == "pro-rata"
        else [(_USER_CENTRIC_PASS, 1), (_USER_CENTRIC_TAKEN, -1), (_USER_CENTRIC_ADDED, 1)]
    )
    if not exceptional:
        statements = statements[:1]
    sums: dict[tuple[str, int], list[int]] = {}  # (writer, subscriber total) -> [minutes, Σfee·m]
    for sql, sign in statements:
        for writer, total, minutes, weighted in session.execute(text(sql), params).all():
            found = sums.setdefault((str(writer), int(total)), [0, 0])
            found[0] += sign * int(minutes)
            found[1] += sign * int(weighted)
    basis = Basis(currency)
    for (writer, total), (minutes, weighted) in sorted(sums.items()):
        if minutes <= 0:
            continue
        basis.minutes[writer] = basis.minutes.get(writer, 0) + minutes
        if model != "pro-rata":
            basis.by_total.setdefault(writer, {})[total] = weighted
    subscribers, fees = session.execute(text(_SUBSCRIBERS), params).one()
    basis.subscribers, basis.fees = int(subscribers), int(fees)
    if model != "pro-rata":
        unengaged = session.execute(text(_UNENGAGED), params).scalar_one()
        if exceptional:
            unengaged += session.execute(text(_EXCEPTIONAL_UNENGAGED), params).scalar_one()
        basis.unengaged_fees = int(unengaged)
    return basis


def suspects(session: Session) -> tuple[int, list[dict[str, Any]]]:
    """Engagement capped as implausible: how many minutes in all, and the largest cuts."""
    total = session.execute(
        text(f"SELECT CAST(COALESCE(SUM(raw - paid), 0) AS BIGINT) FROM {CAPPED}")
    ).scalar_one()
    rows = session.execute(
        text(
            f"SELECT user_id, content_id, writer_id, raw, paid FROM {CAPPED} "
            "WHERE raw > paid ORDER BY raw - paid DESC, user_id, content_id LIMIT :listed"
        ),
        {"listed": MAX_LISTED},
    )
    listed = [
        {
            "user": row.user_id,
            "content": row.content_id,
            "writer": row.writer_id,
            "minutes": int(row.raw),
            "paid_minutes": int(row.paid),
            "capped_minutes": int(row.raw) - int(row.paid),
        }
        for row in rows
    ]
    return int(total), listed


def unattributed(session: Session) -> dict[str, int]:
    """Counted minutes on writers who are no longer users: left out of every pool."""
    rows = session.execute(
        text(
            f"SELECT writer_id, CAST(SUM(paid) AS BIGINT) FROM {CAPPED} "
            "WHERE writer_id NOT IN (SELECT id FROM users) GROUP BY writer_id ORDER BY writer_id"
        )
    )
    return {str(writer): int(minutes) for writer, minutes in rows}


def late_minutes(session: Session, win: Window) -> int:
    """Minutes of earlier periods this run counts because they came after their period's run."""
    if win.late_after is None:
        return 0
    return int(
        session.execute(
            text(
                "SELECT CAST(COALESCE(SUM(e.minutes), 0) AS BIGINT) FROM engagement e "
                f"WHERE {_LATE_ROWS}"
            ),
            _window_params(win),
        ).scalar_one()
    )
