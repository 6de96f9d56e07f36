"""The subscription pool run at scale on PostgreSQL, beside a raw SQL equivalent.

    .venv/bin/python bench/revenue_run.py --url postgresql+psycopg://postgres@127.0.0.1:5432/x
    .venv/bin/python bench/revenue_run.py --url … --rows 100000 --rows 1000000  # flatness

For each size: a fresh database (``<name>_bench_template``, dropped and created), 10,000 writers
with one chapter each, 100,000 subscribers paying into the 2026-01 USD pool, N engagement rows
(generated in SQL). Then ``--rounds`` (3) rounds, each on a fresh copy of it (``<name>_bench``):
in a process of its own, ``revenue run --period 2026-01`` (the library call the command makes)
with its wall time and peak memory (``ru_maxrss``); and, before and after it, the raw baseline:
one ``INSERT … SELECT`` computing the same per-writer pro-rata amounts (floors; no ledger, no
remainders, no caps) into a scratch table, the faster of the two kept. Each round's ratio is
its run over its own baseline; one JSON line per round, then one per size with the median
round's figures. The target is run ≤ 3 × raw and peak memory under 300 MB, flat across sizes.

The run reads the per-subscriber totals the engagement triggers keep (migration 0026), so part
of its work moved to the import: each size also prints the engagement ``INSERT``'s time with
those triggers (``insert_s``) and without them (``insert_plain_s``, the same statement with the
triggers disabled, rolled back). ``--heavy-percent P`` gives P % of the subscribers 700 to 1,000
minutes in the period (the default data gives each 10 to 300), over the 600 past which the run
groups a subscriber per content and day: the run's cost when many readers are heavy.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

PERIOD = "2026-01"

CHILD = r"""
import json, resource, sys, time
from datetime import UTC, datetime
from legato_pay.context import AppContext
from legato_pay.revenue.runs import run_revenue
app = AppContext.create(database_url=sys.argv[1], actor="bench")
app.engine
profiler = None
if len(sys.argv) > 4:
    import cProfile
    profiler = cProfile.Profile()
    profiler.enable()
started = time.perf_counter()
[view] = run_revenue(app, period=sys.argv[2], model=sys.argv[3], now=datetime(2026, 2, 3, tzinfo=UTC))
wall = time.perf_counter() - started
if profiler is not None:
    profiler.disable()
    profiler.dump_stats(sys.argv[4])
print(json.dumps({"wall_s": round(wall, 3), "peak_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
                  "lines": view.line_count, "totals": view.totals}))
"""

RAW = """
CREATE TABLE bench_raw AS
WITH subs AS (SELECT DISTINCT user_id FROM subscriptions WHERE period = :period AND currency = 'USD'),
per_writer AS (
    SELECT e.writer_id, SUM(e.minutes) AS m FROM engagement e JOIN subs s ON s.user_id = e.user_id
    WHERE e.period = :period GROUP BY e.writer_id
),
total AS (SELECT SUM(m) AS t FROM per_writer)
SELECT p.writer_id, (:writers_part * p.m) / t.t AS amount FROM per_writer p CROSS JOIN total t
"""


def fresh_database(url: str, suffix: str = "_bench", template: str | None = None) -> str:
    """``<name><suffix>`` dropped and created afresh (a copy of ``template`` when given)."""
    import psycopg
    from psycopg import sql
    from sqlalchemy.engine import make_url

    from legato_pay.store.engine import dispose_engines

    dispose_engines()  # the previous round's connections, before its database is dropped
    base = make_url(url)
    name = f"{base.database}{suffix}"
    plain = base.set(drivername="postgresql").render_as_string(hide_password=False)
    create = sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name))
    if template is not None:
        create += sql.SQL(" TEMPLATE {}").format(sql.Identifier(make_url(template).database))
    with psycopg.connect(plain, autocommit=True) as connection:
        connection.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )
        connection.execute(create)
    return base.set(database=name).render_as_string(hide_password=False)


def data_params(rows: int, subscribers: int, writers: int, heavy_percent: int) -> dict[str, object]:
    return {
        "writers": writers,
        "subscribers": subscribers,
        "rows": rows,
        "period": PERIOD,
        "heavy": subscribers * heavy_percent // 100,
    }


ENGAGEMENT = (
    "INSERT INTO engagement (user_id, content_id, writer_id, minutes, period, recorded_at) "
    "SELECT 'r' || u, 'c' || w, 'w' || w, "
    "CASE WHEN u <= :heavy THEN 70 + g % 30 ELSE 1 + g % 30 END, "
    ":period, timestamptz '2026-01-01' + (g % 27) * interval '1 day' + interval '1 hour' "
    "FROM (SELECT g, 1 + ((g * 104729) % :writers) AS w, 1 + (g * 7919) % :subscribers AS u "
    "FROM generate_series(CAST(1 AS BIGINT), :rows) g) s"
)


def populate(
    url: str,
    *,
    rows: int,
    subscribers: int,
    writers: int,
    heavy_percent: int,
    timings: dict[str, float],
) -> int:
    """The period's data, generated in SQL; returns the pool. The engagement ``INSERT``'s time
    with and without the triggers goes into ``timings``."""
    from sqlalchemy import text

    from legato_pay import chart
    from legato_pay.ledger import post_entries, transfer
    from legato_pay.store.engine import get_engine, run_in_transaction
    from legato_pay.store.schema import upgrade

    engine = get_engine(url)
    upgrade(engine)
    statements = [
        "INSERT INTO users (id, kind, created_at) SELECT 'w' || g, 'writer', now() "
        "FROM generate_series(1, :writers) g",
        "INSERT INTO users (id, kind, created_at) SELECT 'r' || g, 'reader', now() "
        "FROM generate_series(1, :subscribers) g",
        "INSERT INTO content_items (id, writer_id, type, price_coins, title, created_at) "
        "SELECT 'c' || g, 'w' || g, 'chapter', 10, 'c' || g, now() "
        "FROM generate_series(1, :writers) g",
        "INSERT INTO subscriptions (user_id, tier, currency, amount, gateway, status, period, "
        "period_start, period_end, created_at) SELECT 'r' || g, 'basic', 'USD', "
        "499 + (g % 3) * 500, 'sandbox', 'active', :period, "
        "timestamptz '2026-01-05', timestamptz '2026-02-04', timestamptz '2026-01-05' "
        "FROM generate_series(1, :subscribers) g",
    ]
    params = data_params(rows, subscribers, writers, heavy_percent)
    with engine.begin() as connection:
        for statement in statements:
            connection.execute(text(statement), params)
    with engine.begin() as connection:
        started = time.perf_counter()
        connection.execute(text(ENGAGEMENT), params)
        timings["insert_s"] = round(time.perf_counter() - started, 2)
        pool = int(connection.execute(text("SELECT SUM(amount) FROM subscriptions")).scalar_one())
        connection.execute(text("ANALYZE"))

    def fund(session: object) -> None:
        cash, target = chart.gateway_cash("sandbox", "USD"), chart.subscription_pool(PERIOD, "USD")
        chart.open_accounts(
            session,  # type: ignore[arg-type]
            [
                chart.system_account(cash, "USD", debit_normal=True),
                chart.system_account(target, "USD"),
            ],
        )
        post_entries(session, [transfer(cash, target, pool, "USD")], actor="bench")  # type: ignore[arg-type]

    run_in_transaction(engine, fund)
    return pool


def insert_without_triggers(url: str, params: dict[str, object]) -> float:
    """The engagement ``INSERT`` again with the totals' triggers disabled, rolled back: the
    import's cost without them. Run after the measurements (the rolled-back rows stay behind
    as dead tuples until a vacuum, and would slow every scan after)."""
    from sqlalchemy import text

    from legato_pay.store.engine import get_engine

    with get_engine(url).connect() as connection, connection.begin() as rolled_back:
        for operation in ("insert", "update", "delete"):
            connection.execute(
                text(f"ALTER TABLE engagement DISABLE TRIGGER engagement_totals_{operation}")
            )
        started = time.perf_counter()
        connection.execute(text(ENGAGEMENT), params)
        wall = time.perf_counter() - started
        rolled_back.rollback()
    return wall


def raw_baseline(url: str, pool: int) -> float:
    from sqlalchemy import text

    from legato_pay.money import allocate_by_percent
    from legato_pay.store.engine import get_engine

    writers_part = allocate_by_percent(pool, ["65", "35"])[0]
    engine = get_engine(url)
    with engine.begin() as connection:
        started = time.perf_counter()
        connection.execute(text(RAW), {"period": PERIOD, "writers_part": writers_part})
        wall = time.perf_counter() - started
        connection.execute(text("DROP TABLE bench_raw"))
    return wall


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", required=True, help="a PostgreSQL URL (its <name>_bench is used)")
    parser.add_argument("--rows", type=int, action="append", help="engagement rows (repeatable)")
    parser.add_argument("--subscribers", type=int, default=100_000)
    parser.add_argument("--writers", type=int, default=10_000)
    parser.add_argument("--model", default="pro-rata")
    parser.add_argument("--rounds", type=int, default=3, help="runs on fresh copies (median)")
    parser.add_argument(
        "--setup-only", action="store_true", help="build the data and stop (to time runs by hand)"
    )
    parser.add_argument(
        "--heavy-percent", type=int, default=0, help="subscribers with 700+ minutes (0 to 100)"
    )
    parser.add_argument(
        "--profile", help="cProfile the run into this file (a prefix: <file>.<rows>)"
    )
    args = parser.parse_args()
    results = []
    print(json.dumps({"load_average": os.getloadavg()}), flush=True)
    for rows in args.rows or [1_000_000]:
        template = fresh_database(args.url, "_bench_template")
        started = time.perf_counter()
        timings: dict[str, float] = {}
        pool = populate(
            template,
            rows=rows,
            subscribers=args.subscribers,
            writers=args.writers,
            heavy_percent=args.heavy_percent,
            timings=timings,
        )
        setup = time.perf_counter() - started
        if args.setup_only:
            url = fresh_database(args.url, template=template)
            print(json.dumps({"database": url, **timings}), flush=True)
            continue
        rounds = []
        for number in range(args.rounds):
            url = fresh_database(args.url, template=template)  # the same data, never run
            raw = raw_baseline(url, pool)
            profile = [f"{args.profile}.{rows}.{number}"] if args.profile else []
            child = subprocess.run(
                [sys.executable, "-c", CHILD, url, PERIOD, args.model, *profile],
                capture_output=True, text=True, cwd=ROOT, check=False,
            )  # fmt: skip
            if child.returncode:
                print(child.stderr, file=sys.stderr)
                return 1
            run = json.loads(child.stdout)
            raw_best = min(raw, raw_baseline(url, pool))  # again after the run, on a warm cache
            rounds.append(
                {
                    "run_s": run["wall_s"],
                    "raw_s": round(raw_best, 3),
                    "ratio": round(run["wall_s"] / raw_best, 2),
                    "peak_mb": run["peak_mb"],
                    "lines": run["lines"],
                    "load": round(os.getloadavg()[0], 2),
                }
            )
            print(json.dumps({"round": number, **rounds[-1]}), flush=True)
        fresh_database(args.url, template=template)  # copies dropped: the template is free
        params = data_params(rows, args.subscribers, args.writers, args.heavy_percent)
        timings["insert_plain_s"] = round(insert_without_triggers(template, params), 2)
        middle = sorted(rounds, key=lambda r: r["ratio"])[len(rounds) // 2]
        result = {
            "rows": rows,
            "subscribers": args.subscribers,
            "writers": args.writers,
            "model": args.model,
            "heavy_percent": args.heavy_percent,
            **timings,
            "setup_s": round(setup, 1),
            "run_s": middle["run_s"],
            "raw_s": middle["raw_s"],
            "ratio": middle["ratio"],  # the median round's
            "ratios": [r["ratio"] for r in rounds],
            "peak_mb": max(r["peak_mb"] for r in rounds),
            "lines": middle["lines"],
        }
        results.append(result)
        print(json.dumps(result), flush=True)
        print(json.dumps({"load_average": os.getloadavg()}), flush=True)
    ok = all(r["ratio"] <= 3 and r["peak_mb"] < 300 for r in results)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
