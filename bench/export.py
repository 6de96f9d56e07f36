"""``ledger export`` over a large ledger on PostgreSQL: legs per second and peak memory.

    .venv/bin/python bench/export.py --url postgresql+psycopg://postgres@127.0.0.1:5432/x
    .venv/bin/python bench/export.py --url … --legs 100000 --legs 1000000   # flatness

For each size: a fresh database (``<name>_bench``, dropped and created, as
``bench/revenue_run.py`` makes it), 10,000 readers' coin wallets, gateway cash and coin sales in
USD, NGN and CAD, and N legs generated in SQL: entries of two legs over 30 days, half coin issues
(``platform:coins:issuance`` → a reader's wallet, COIN) and half purchases (``gateway:sandbox``
→ ``platform:coin_sales``). Then, in a process of its own, the library call the command makes
(``export_ledger`` in one read-only transaction) writes the books to a file, with its wall time,
legs per second, CPU time and peak memory (``ru_maxrss``). Prints the load average before and after and
one JSON line per size; the target is ≥ 50,000 legs/s and peak memory under 300 MB, flat
across sizes. Run the 1,000,000-leg size once, on a quiet machine (load < 2).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from revenue_run import ROOT, fresh_database  # bench/ is not a package: its own directory

READERS = 10_000
CURRENCIES = ("USD", "NGN", "CAD")

CHILD = r"""
import json, resource, sys, time
from legato_pay.context import AppContext
from legato_pay.ledger.export import export_ledger
app = AppContext.create(database_url=sys.argv[1], actor="bench")
app.engine
started = time.perf_counter()
def work(session):
    with open(sys.argv[3], "w", encoding="utf-8") as out:
        return export_ledger(session, out, format=sys.argv[2])
summary = app.run(work, write=False)
wall = time.perf_counter() - started
usage = resource.getrusage(resource.RUSAGE_SELF)
print(json.dumps({"wall_s": round(wall, 3), "cpu_s": round(usage.ru_utime + usage.ru_stime, 3), "legs": summary.legs, "entries": summary.entries,
                  "accounts": summary.accounts,
                  "peak_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)}))
"""

#: Entries and their two legs, generated in SQL: entry g is a coin issue when odd, else a
#: purchase in one of the three currencies. Account ids come from the ``bench_accounts`` map.
ENTRIES = """
INSERT INTO ledger_entries (id, content_hash, kind, actor, reason, created_at, effective_at)
SELECT g, 'bench', 'posted', 'bench', CASE WHEN g % 2 = 1 THEN 'coins issued' ELSE 'purchase' END,
       timestamptz '2026-01-01' + g * interval '2 seconds',
       timestamptz '2026-01-01' + g * interval '2 seconds'
FROM generate_series(CAST(:low AS BIGINT), :high) g
"""
LEGS = """
INSERT INTO ledger_legs (entry_id, account_id, currency, is_debit, amount, pending_amount,
                         created_at)
SELECT g, a.id, a.currency, side.is_debit, 100 + g % 900, 0,
       timestamptz '2026-01-01' + g * interval '2 seconds'
FROM generate_series(CAST(:low AS BIGINT), :high) g
CROSS JOIN (VALUES (true), (false)) AS side(is_debit)
JOIN ledger_accounts a ON a.code = CASE
    WHEN g % 2 = 1 AND side.is_debit THEN 'platform:coins:issuance'
    WHEN g % 2 = 1 THEN 'user:r' || (1 + (g * 7919) % :readers) || ':coins:paid'
    WHEN side.is_debit THEN 'gateway:sandbox:' || (ARRAY['USD','NGN','CAD'])[1 + (g / 2) % 3]
    ELSE 'platform:coin_sales:' || (ARRAY['USD','NGN','CAD'])[1 + (g / 2) % 3]
END
"""


def populate(url: str, *, legs: int) -> None:
    from sqlalchemy import text

    from legato_pay import chart
    from legato_pay.store.engine import get_engine, run_in_transaction
    from legato_pay.store.schema import upgrade

    engine = get_engine(url)
    upgrade(engine)

    def accounts(session: object) -> None:
        requests = [chart.system_account(chart.COIN_ISSUANCE, chart.COIN)]
        for currency in CURRENCIES:
            requests.append(
                chart.system_account(
                    chart.gateway_cash("sandbox", currency), currency, debit_normal=True
                )
            )
            requests.append(chart.system_account(chart.coin_sales(currency), currency))
        for reader in range(1, READERS + 1):
            requests.extend(chart.wallet_accounts(f"r{reader}"))
        chart.open_accounts(session, requests)  # type: ignore[arg-type]

    run_in_transaction(engine, accounts)
    entries, chunk = legs // 2, 100_000
    for low in range(1, entries + 1, chunk):
        params = {"low": low, "high": min(entries, low + chunk - 1), "readers": READERS}
        with engine.begin() as connection:
            connection.execute(text(ENTRIES), params)
            connection.execute(text(LEGS), params)
    with engine.begin() as connection:
        connection.execute(text("ANALYZE"))


def load() -> str:
    return " ".join(f"{value:.2f}" for value in os.getloadavg())


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--url", required=True, help="a PostgreSQL URL (its <name>_bench is used)")
    parser.add_argument("--legs", type=int, action="append", help="legs to export (repeatable)")
    parser.add_argument("--format", default="beancount", choices=["beancount", "hledger", "csv"])
    args = parser.parse_args()
    print(f"load before: {load()}", flush=True)
    results = []
    for legs in args.legs or [100_000]:
        url = fresh_database(args.url)
        started = time.perf_counter()
        populate(url, legs=legs)
        setup = time.perf_counter() - started
        with tempfile.TemporaryDirectory() as scratch:
            target = str(Path(scratch) / f"books.{args.format}")
            child = subprocess.run(
                [sys.executable, "-c", CHILD, url, args.format, target],
                capture_output=True, text=True, cwd=ROOT, check=False,
            )  # fmt: skip
            size = Path(target).stat().st_size if child.returncode == 0 else 0
        if child.returncode:
            print(child.stderr, file=sys.stderr)
            return 1
        run = json.loads(child.stdout)
        result = {
            "legs": run["legs"],
            "entries": run["entries"],
            "accounts": run["accounts"],
            "format": args.format,
            "setup_s": round(setup, 1),
            "export_s": run["wall_s"],
            "legs_per_s": round(run["legs"] / run["wall_s"]),
            "cpu_s": run["cpu_s"],  # the exporting process's own (imports included)
            "peak_mb": run["peak_mb"],
            "file_mb": round(size / 2**20, 1),
            "load": load(),
        }
        results.append(result)
        print(json.dumps(result), flush=True)
    print(f"load after: {load()}", flush=True)
    ok = all(r["legs_per_s"] >= 50_000 and r["peak_mb"] < 300 for r in results)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
