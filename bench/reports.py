"""``reports platform --period`` on a big ledger (PostgreSQL), beside a raw SQL aggregate.

    .venv/bin/python bench/reports.py --url postgresql+psycopg://postgres@127.0.0.1:5432/x
    .venv/bin/python bench/reports.py --url … --legs 100000      # a quick validation run

A fresh database (``<name>_bench``, dropped and created), then, generated in SQL: 20,000 readers,
2,000 writers with 5 chapters each, and a year (2026) of journal entries shaped as the services
post them — unlocks (a coins entry of 4 legs: wallet → ``platform:coins:redeemed``, and
``platform:coin_value:USD`` → ``platform:revenue:content:USD``; a writer entry of 2 legs into
``writer:<w>:earnings:USD``; and the ``content_unlocks`` row) and coin purchases (4 legs, one in
four in NGN) — until the ledger holds ``--legs`` legs. Then, in the same run, each timed as the
best of ``--repeat``:

- ``service``: ``platform_report`` for ``--period`` (2026-06), the function the command calls;
- ``raw``: one SQL statement computing the same figures (ledger family sums and writer shares
  per month and currency, refunds, fees) with no conversion and no Python;
- ``cli``: ``legato-pay --output json reports platform --period …`` once, as a process (its
  start-up included).

Both answers are compared (the service's platform shares, writer shares and coin sales must
equal the raw query's), and the load average is printed before and after. Target: service ≤ 2 ×
raw. Exit 1 if the target is missed or the figures differ.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.revenue_run import fresh_database  # noqa: E402

READERS = 20_000
WRITERS = 2_000
CHAPTERS = 5  # per writer

SETUP = [
    "INSERT INTO users (id, kind, created_at) SELECT 'w' || g, 'writer', now() "
    "FROM generate_series(1, :writers) g",
    "INSERT INTO users (id, kind, created_at) SELECT 'r' || g, 'reader', now() "
    "FROM generate_series(1, :readers) g",
    "INSERT INTO content_items (id, writer_id, type, price_coins, title, created_at) "
    "SELECT 'c' || g, 'w' || (1 + g % :writers), 'chapter', 10, 'c' || g, now() "
    "FROM generate_series(1, :writers * :chapters) g",
    # accounts: wallets, earnings, system (no_overdraft/hot as the chart opens them)
    "INSERT INTO ledger_accounts (code, currency, normal_side, no_overdraft, hot, created_at, "
    "debits_posted, credits_posted, debits_pending, credits_pending) "
    "SELECT 'user:r' || g || ':coins:' || b, 'COIN', 'credit', true, false, now(), 0, 0, 0, 0 "
    "FROM generate_series(1, :readers) g CROSS JOIN (VALUES ('paid'), ('bonus')) v(b)",
    "INSERT INTO ledger_accounts (code, currency, normal_side, no_overdraft, hot, created_at, "
    "debits_posted, credits_posted, debits_pending, credits_pending) "
    "SELECT 'writer:w' || g || ':earnings:USD', 'USD', 'credit', true, false, now(), 0, 0, 0, 0 "
    "FROM generate_series(1, :writers) g",
    "INSERT INTO ledger_accounts (code, currency, normal_side, no_overdraft, hot, created_at, "
    "debits_posted, credits_posted, debits_pending, credits_pending) "
    "SELECT code, cur, side, false, true, now(), 0, 0, 0, 0 FROM (VALUES "
    "('platform:coins:redeemed', 'COIN', 'credit'), ('platform:coins:issuance', 'COIN', 'credit'),"
    "('platform:coin_value:USD', 'USD', 'credit'), ('platform:revenue:content:USD', 'USD', 'credit'),"
    "('platform:coin_sales:USD', 'USD', 'credit'), ('platform:coin_sales:NGN', 'NGN', 'credit'),"
    "('gateway:sandbox:USD', 'USD', 'debit'), ('gateway:sandbox:NGN', 'NGN', 'debit')"
    ") v(code, cur, side)",
    # the plan: one row per leg (entry number, account code, currency, side, amount, time)
    "CREATE TEMP TABLE plan AS "
    "WITH unlocks AS (SELECT g, timestamptz '2026-01-01' + (g % 365) * interval '1 day' "
    "  + (g % 86400) * interval '1 second' AS at FROM generate_series(1, :unlocks) g), "
    "buys AS (SELECT g, timestamptz '2026-01-01' + (g % 365) * interval '1 day' "
    "  + ((g * 7) % 86400) * interval '1 second' AS at, "
    "  CASE WHEN g % 4 = 0 THEN 'NGN' ELSE 'USD' END AS cur FROM generate_series(1, :buys) g) "
    "SELECT 2 * g - 1 AS entry, 'user:r' || (1 + g % :readers) || ':coins:bonus' AS code, "
    "  'COIN' AS currency, true AS is_debit, 10 AS amount, at FROM unlocks "
    "UNION ALL SELECT 2 * g - 1, 'platform:coins:redeemed', 'COIN', false, 10, at FROM unlocks "
    "UNION ALL SELECT 2 * g - 1, 'platform:coin_value:USD', 'USD', true, 3, at FROM unlocks "
    "UNION ALL SELECT 2 * g - 1, 'platform:revenue:content:USD', 'USD', false, 3, at FROM unlocks "
    "UNION ALL SELECT 2 * g, 'platform:coin_value:USD', 'USD', true, 7, at FROM unlocks "
    "UNION ALL SELECT 2 * g, 'writer:w' || (1 + (1 + (g / :readers + g) % (:writers * :chapters)) "
    "  % :writers) || ':earnings:USD', 'USD', false, 7, at FROM unlocks "
    "UNION ALL SELECT 2 * :unlocks + g, 'gateway:sandbox:' || cur, cur, true, "
    "  CASE cur WHEN 'NGN' THEN 1500000 ELSE 999 END, at FROM buys "
    "UNION ALL SELECT 2 * :unlocks + g, 'platform:coin_sales:' || cur, cur, false, "
    "  CASE cur WHEN 'NGN' THEN 1500000 ELSE 999 END, at FROM buys "
    "UNION ALL SELECT 2 * :unlocks + g, 'platform:coins:issuance', 'COIN', true, 1000, at FROM buys "
    "UNION ALL SELECT 2 * :unlocks + g, 'user:r' || (1 + g % :readers) || ':coins:paid', 'COIN', "
    "  false, 1000, at FROM buys",
    "INSERT INTO ledger_entries (id, content_hash, kind, actor, created_at, effective_at) "
    "SELECT entry, 'bench', 'transfer', 'bench', MIN(at), MIN(at) FROM plan GROUP BY entry",
    "SELECT setval(pg_get_serial_sequence('ledger_entries', 'id'), "
    "(SELECT MAX(id) FROM ledger_entries))",
    "INSERT INTO ledger_legs (entry_id, account_id, currency, is_debit, amount, pending_amount, "
    "created_at) SELECT p.entry, a.id, p.currency, p.is_debit, p.amount, 0, p.at "
    "FROM plan p JOIN ledger_accounts a ON a.code = p.code ORDER BY p.entry",
    # the unlock rows: reader 1 + g % R, chapter 1 + (g / R + g) % C (unique pairs while
    # g < R × C), its writer 1 + chapter % W
    "INSERT INTO content_unlocks (user_id, content_id, writer_id, coins, bonus_coins_used, "
    "paid_coins_used, value_currency, value, writer_share, platform_share, entry_id, "
    "writer_entry_id, created_at) "
    "SELECT 'r' || (1 + g % :readers), 'c' || c, 'w' || (1 + c % :writers), 10, 10, 0, 'USD', 10, "
    "7, 3, 2 * g - 1, 2 * g, timestamptz '2026-01-01' + (g % 365) * interval '1 day' "
    "  + (g % 86400) * interval '1 second' "
    "FROM (SELECT g, 1 + (g / :readers + g) % (:writers * :chapters) AS c "
    "  FROM generate_series(1, :unlocks) g) s",
    "DROP TABLE plan",
    "ANALYZE",
]

#: The same figures as ``reports platform --period P`` (by month), in one statement.
RAW = """
WITH fam AS (
    SELECT to_char(timezone('UTC', l.created_at), 'YYYY-MM') AS b, a.code, l.currency,
        SUM(CASE WHEN l.is_debit THEN 0 ELSE l.amount END) AS cr,
        SUM(CASE WHEN l.is_debit THEN l.amount ELSE 0 END) AS db
    FROM ledger_legs l JOIN ledger_accounts a ON a.id = l.account_id
    WHERE (a.code LIKE 'platform:revenue:%' OR a.code LIKE 'platform:coin_sales:%'
        OR a.code LIKE 'platform:refund_losses:%' OR a.code LIKE 'tax:withholding:%')
        AND l.created_at >= :start AND l.created_at < :end
    GROUP BY 1, 2, 3
), shares AS (
    SELECT to_char(timezone('UTC', created_at), 'YYYY-MM') AS b, value_currency AS cur,
        'content' AS stream, SUM(writer_share) AS amount
    FROM content_unlocks WHERE created_at >= :start AND created_at < :end GROUP BY 1, 2
    UNION ALL
    SELECT to_char(timezone('UTC', created_at), 'YYYY-MM'), value_currency, 'tips',
        SUM(writer_share)
    FROM coin_transfers WHERE kind = 'tip' AND created_at >= :start AND created_at < :end
    GROUP BY 1, 2
    UNION ALL
    SELECT to_char(timezone('UTC', created_at), 'YYYY-MM'), currency, stream, SUM(writer_share)
    FROM revenue_receipts WHERE created_at >= :start AND created_at < :end GROUP BY 1, 2, 3
    UNION ALL
    SELECT to_char(timezone('UTC', r.created_at), 'YYYY-MM'), l.currency, l.stream,
        SUM(l.amount)
    FROM revenue_lines l JOIN revenue_runs r ON r.id = l.run_id
    WHERE l.kind <> 'deferred' AND r.created_at >= :start AND r.created_at < :end
    GROUP BY 1, 2, 3
), cash AS (
    SELECT to_char(timezone('UTC', f.created_at), 'YYYY-MM') AS b, p.currency AS cur,
        'refunds' AS what, SUM(f.amount) AS amount
    FROM purchase_refunds f JOIN purchases p ON p.reference = f.reference
    WHERE f.status = 'succeeded' AND f.created_at >= :start AND f.created_at < :end
    GROUP BY 1, 2
    UNION ALL
    SELECT to_char(timezone('UTC', updated_at), 'YYYY-MM'), currency, 'gateway_fees', SUM(fee)
    FROM payouts WHERE status = 'paid' AND updated_at >= :start AND updated_at < :end
    GROUP BY 1, 2
)
SELECT 'ledger', b, code, currency, cr - db FROM fam
UNION ALL SELECT 'writers', b, stream, cur, amount FROM shares
UNION ALL SELECT 'cash', b, what, cur, amount FROM cash
"""


def loadavg() -> str:
    one, five, fifteen = os.getloadavg()
    return f"{one:.2f} {five:.2f} {fifteen:.2f}"


def populate(url: str, legs: int) -> dict[str, int]:
    """Generate the ledger: unlocks carry 6 legs, purchases 4; about 80 % of legs in unlocks."""
    from sqlalchemy import text

    from legato_pay.store.engine import get_engine
    from legato_pay.store.schema import upgrade

    unlocks = legs * 8 // 10 // 6
    buys = (legs - 6 * unlocks) // 4
    engine = get_engine(url)
    upgrade(engine)
    params = {
        "readers": READERS,
        "writers": WRITERS,
        "chapters": CHAPTERS,
        "unlocks": unlocks,
        "buys": buys,
    }
    with engine.begin() as connection:
        for statement in SETUP:
            connection.execute(text(statement), params)
        count = int(connection.execute(text("SELECT COUNT(*) FROM ledger_legs")).scalar_one())
    return {"legs": count, "unlocks": unlocks, "purchases": buys}


def best(repeat: int, work: Any) -> tuple[float, Any]:
    """The fastest of ``repeat`` runs of ``work()`` and its (last) answer."""
    times, answer = [], None
    for _ in range(repeat):
        started = time.perf_counter()
        answer = work()
        times.append(time.perf_counter() - started)
    return min(times), answer


def time_service(url: str, period: str, repeat: int) -> tuple[float, dict[str, Any]]:
    from legato_pay.context import AppContext
    from legato_pay.reporting.periods import parse_period
    from legato_pay.reporting.platform import platform_report

    app = AppContext.create(database_url=url, actor="bench")
    window = parse_period(period)

    def work() -> dict[str, Any]:
        return app.run(  # type: ignore[no-any-return]
            lambda s: platform_report(s, window=window, by="month", convert_to="USD").as_json(),
            write=False,
        )

    return best(repeat, work)


def time_raw(url: str, period: str, repeat: int) -> tuple[float, list[Any]]:
    from sqlalchemy import text

    from legato_pay.reporting.periods import parse_period
    from legato_pay.store.engine import get_engine

    window = parse_period(period)
    engine = get_engine(url)

    def work() -> list[Any]:
        with engine.connect() as connection:
            params = {"start": window.start, "end": window.end}
            return list(connection.execute(text(RAW), params).all())

    return best(repeat, work)


def time_cli(url: str, period: str) -> tuple[float, dict[str, Any]]:
    command = [sys.executable, "-m", "commands.main", "--db", url, "--output", "json"]
    started = time.perf_counter()
    done = subprocess.run(
        [*command, "reports", "platform", "--period", period],
        capture_output=True, text=True, cwd=ROOT, check=True,
    )  # fmt: skip
    return time.perf_counter() - started, json.loads(done.stdout)


def same_figures(report: dict[str, Any], raw: list[Any]) -> bool:
    """The service's recorded rows against the raw rows: platform shares per stream, coin
    sales, writer shares per stream, refunds and fees, per month and currency."""
    expected: dict[tuple[str, str, str], int] = {}
    for source, bucket, name, currency, amount in raw:
        if source == "ledger":
            family = name.split(":")
            key = f"{family[2]}_platform" if family[1] == "revenue" else family[1]
            if family[0] == "tax" or family[1] == "refund_losses":
                continue  # the bench ledger has none
        else:
            key = f"{name}_writers" if source == "writers" else name
        expected[(bucket, currency, key)] = expected.get((bucket, currency, key), 0) + int(amount)
    for (bucket, currency, key), amount in expected.items():
        [row] = [
            r
            for r in report["rows"]
            if (r["period"], r["currency"], r["basis"]) == (bucket, currency, "recorded")
        ]
        if row[f"{key}_minor"] != amount:
            print(f"differs: {bucket} {currency} {key}: {row[f'{key}_minor']} != {amount}")
            return False
    return bool(expected)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", required=True, help="a PostgreSQL URL (its <name>_bench is used)")
    parser.add_argument("--legs", type=int, default=1_000_000)
    parser.add_argument("--period", default="2026-06")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    before = loadavg()
    url = fresh_database(args.url)
    started = time.perf_counter()
    built = populate(url, args.legs)
    setup = time.perf_counter() - started
    # one round each to warm the caches, then the timed rounds, interleaved
    time_raw(url, args.period, 1)
    time_service(url, args.period, 1)
    raw_s, raw = time_raw(url, args.period, args.repeat)
    service_s, report = time_service(url, args.period, args.repeat)
    cli_s, cli_report = time_cli(url, args.period)
    result = {
        **built,
        "period": args.period,
        "setup_s": round(setup, 1),
        "raw_s": round(raw_s, 4),
        "service_s": round(service_s, 4),
        "ratio": round(service_s / raw_s, 2),
        "cli_s": round(cli_s, 3),
        "same_figures": same_figures(report, raw) and cli_report["rows"] == report["rows"],
        "load_before": before,
        "load_after": loadavg(),
    }
    print(json.dumps(result), flush=True)
    return 0 if result["ratio"] <= 2 and result["same_figures"] else 1


if __name__ == "__main__":
    sys.exit(main())
