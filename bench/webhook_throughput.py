"""Webhook listener throughput on PostgreSQL, beside a minimal durable baseline in the same run.

Signed Paystack ``charge.success`` events for pending purchases (10% of them sent twice) are
posted with concurrency to ``legato-pay serve-webhooks`` with 1 and 2 workers, and to a bare
Starlette app under uvicorn that checks the HMAC, inserts the raw event into a one-table inbox on
the same PostgreSQL (one INSERT per event) and answers 200. Prints one JSON document: events/s
for each, the ratio, and counts proving every unique event was applied exactly once (one credit,
one ledger entry, one inbox row per purchase).

    .venv/bin/python bench/webhook_throughput.py            # 4,000 unique events per run
    .venv/bin/python bench/webhook_throughput.py --quick    # smoke run
    .venv/bin/python bench/webhook_throughput.py --events 10000 --concurrency 64
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import json
import os
import random
import socket
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

SERVER = "postgresql+psycopg://postgres@127.0.0.1:5432/"
SECRET = "sk_test_bench_webhook_secret"
TARGET_EVENTS_PER_S = 1000
TARGET_RATIO = 0.5
DUPLICATE_SHARE = 0.10
HISTORY = 20_000  # earlier purchases settled before the run (see prepare_database)
HISTORY_READERS = 5_000
FIRST_PAYMENT_ID = {"bench": 900000, "past": 100000000}  # Paystack transaction ids
NEW_READER_EVERY = 10  # every 10th measured purchase is a new reader's first (wallets opened)
READERS = 500  # without history: every purchase by one of 500 new readers
AMOUNT = 150000  # NGN kobo: the starter package's fixed NGN price in config/default.yaml


def _psql(sql: str, database: str = "postgres") -> None:
    subprocess.run(
        ["psql", "-h", "127.0.0.1", "-U", "postgres", "-d", database, "-qc", sql],
        check=True,
        capture_output=True,
    )


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _wait_up(port: int, timeout: float = 30.0) -> None:
    import httpx

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            time.sleep(0.2)
    raise RuntimeError(f"server on port {port} did not come up")


def _reader(prefix: str, n: int, history: int) -> str:
    """Who makes purchase ``n``: in the run, mostly returning readers (one purchase each) and
    every tenth a new one; without history, 500 new readers; in the history, its readers."""
    if prefix == "past":
        return f"past-reader-{n % HISTORY_READERS}"
    if not history:
        return f"bench-reader-{n % READERS}"
    if n % NEW_READER_EVERY == 0:
        return f"bench-reader-{n}"
    return f"past-reader-{n % HISTORY_READERS}"


def _purchase_rows(prefix: str, count: int, history: int) -> list[dict[str, Any]]:
    now = datetime.now(UTC)
    return [
        {
            "reference": f"{prefix}-{n}",
            "user_id": _reader(prefix, n, history),
            "package_id": "starter",
            "coins": 100,
            "bonus_coins": 0,
            "currency": "NGN",
            "amount": AMOUNT,
            "gateway": "paystack",
            "gateway_payment_id": str(FIRST_PAYMENT_ID[prefix] + n),
            "status": "pending",
            "refunded_amount": 0,
            "coins_clawed_back": 0,
            "coins_lost": 0,
            "created_at": now,
            "updated_at": now,
        }
        for n in range(count)
    ]


def prepare_database(database: str, events: int, history: int = HISTORY) -> None:
    """A fresh database with readers and one pending Paystack purchase per unique event, on a
    platform that has been running: ``history`` earlier purchases by other readers were settled
    through the same inbox path beforehand, and the tables analyzed, as autovacuum would have.
    (Against empty tables PostgreSQL plans lookups as scans, and a cached plan keeps scanning
    while the tables grow until the next ANALYZE: the first minute of a new database, not the
    steady state measured here.)"""
    _psql(f"DROP DATABASE IF EXISTS {database} WITH (FORCE)")
    _psql(f"CREATE DATABASE {database}")
    from legato_pay.context import AppContext
    from legato_pay.readers.packages import ensure_default_packages
    from legato_pay.store.engine import dispose_engines
    from legato_pay.store.models.readers import Purchase, User
    from legato_pay.webhooks import inbox

    app = AppContext.create(database_url=SERVER + database, actor="bench")
    now = datetime.now(UTC)
    purchases = Purchase.__table__  # type: ignore[attr-defined]
    users = User.__table__  # type: ignore[attr-defined]

    def seed(session: Any) -> None:
        ensure_default_packages(session, app.settings)
        readers = {_reader("bench", n, history) for n in range(events)}
        readers |= {_reader("past", n, history) for n in range(min(history, HISTORY_READERS))}
        session.execute(
            users.insert(),
            [{"id": user, "kind": "reader", "created_at": now} for user in sorted(readers)],
        )
        session.execute(purchases.insert(), _purchase_rows("bench", events, history))
        if history:
            session.execute(purchases.insert(), _purchase_rows("past", history, history))

    app.run(seed)
    past = [
        (inbox.parse_paystack(json.loads(body)), body.decode())
        for body in _event_bodies("past", history)
    ]
    for start in range(0, len(past), 500):
        chunk = past[start : start + 500]
        app.run(lambda s, chunk=chunk: inbox.store_and_apply_many(s, chunk))
    dispose_engines()
    _psql("ANALYZE", database)


def _event_bodies(prefix: str, count: int) -> list[bytes]:
    return [
        json.dumps(
            {
                "event": "charge.success",
                "data": {
                    "id": FIRST_PAYMENT_ID[prefix] + n,
                    "reference": f"{prefix}-{n}",
                    "status": "success",
                    "amount": AMOUNT,
                    "currency": "NGN",
                    "channel": "card",
                    "customer": {"email": f"{prefix}{n}@example.test"},
                },
            }
        ).encode()
        for n in range(count)
    ]


def signed_bodies(events: int, seed: int = 11) -> list[bytes]:
    """Every unique event once plus 10% sent again, shuffled."""
    unique = _event_bodies("bench", events)
    rng = random.Random(seed)
    bodies = unique + rng.sample(unique, int(events * DUPLICATE_SHARE))
    rng.shuffle(bodies)
    return bodies


def signed_requests(bodies: list[bytes], path: str) -> list[bytes]:
    """Whole HTTP requests, signed the Paystack way (HMAC-SHA512 of the body), before timing."""
    from bench.http_load import build_request

    return [
        build_request(
            path,
            body,
            {
                "x-paystack-signature": hmac.new(SECRET.encode(), body, hashlib.sha512).hexdigest(),
                "content-type": "application/json",
            },
        )
        for body in bodies
    ]


def _load(
    port: int, path: str, bodies: list[bytes], concurrency: int, senders: int
) -> dict[str, Any]:
    """Send from ``senders`` processes (bench/http_load.py: raw keep-alive connections)."""
    import multiprocessing

    chunks = [bodies[i::senders] for i in range(senders)]
    with multiprocessing.get_context("spawn").Pool(senders) as pool:
        results = pool.starmap(
            _send_chunk, [(port, path, chunk, max(1, concurrency // senders)) for chunk in chunks]
        )
    # Each sender times its own sending, so process start-up is not counted against the server.
    elapsed = max(result["seconds"] for result in results)
    statuses: dict[str, int] = {}
    for result in results:
        for code, count in result["statuses"].items():
            statuses[code] = statuses.get(code, 0) + count
    return {
        "requests": len(bodies),
        "seconds": round(elapsed, 3),
        "events_per_s": round(len(bodies) / elapsed, 1),
        "statuses": statuses,
    }


def _send_chunk(port: int, path: str, bodies: list[bytes], concurrency: int) -> dict[str, Any]:
    from bench.http_load import send

    return send(port, signed_requests(bodies, path), concurrency)


def run_listener(
    database: str,
    bodies: list[bytes],
    unique: int,
    workers: int,
    concurrency: int,
    senders: int,
    history: int = HISTORY,
) -> dict[str, Any]:
    prepare_database(database, unique, history)
    port = _free_port()
    env = {
        **os.environ,
        "LEGATO_DATABASE_URL": SERVER + database,
        "PAYSTACK_SECRET_KEY": SECRET,
        "LEGATO_ACTOR": "bench",
        "PYTHONPATH": str(ROOT),
    }
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "commands.main",
            "--quiet",
            "serve-webhooks",
            "--port",
            str(port),
            "--workers",
            str(workers),
        ],
        env=env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        _wait_up(port)
        result = _load(port, "/webhooks/paystack", bodies, concurrency, senders)
    finally:
        server.terminate()
        server.wait(timeout=60)
    result["workers"] = workers
    result["exactly_once"] = _check_applied(database, unique)
    return result


def _check_applied(database: str, unique: int) -> dict[str, Any]:
    import psycopg

    with psycopg.connect(f"host=127.0.0.1 user=postgres dbname={database}") as conn:
        one = lambda sql: conn.execute(sql).fetchone()[0]  # noqa: E731
        credited = one(
            "SELECT count(*) FROM purchases WHERE status = 'succeeded' AND reference LIKE 'bench-%'"
        )
        entries = one(
            "SELECT count(*) FROM ledger_entries WHERE idempotency_key LIKE 'purchase:bench-%'"
        )
        inbox = one(
            "SELECT count(*) FROM webhook_events WHERE status = 'applied'"
            " AND object_ref LIKE 'bench-%'"
        )
        coins = one(
            "SELECT coalesce(sum(l.amount), 0) FROM ledger_legs l"
            " JOIN ledger_entries e ON e.id = l.entry_id"
            " JOIN ledger_accounts a ON a.id = l.account_id"
            " WHERE e.idempotency_key LIKE 'purchase:bench-%' AND NOT l.is_debit"
            " AND a.code LIKE 'user:%:coins:paid'"
        )
    return {
        "unique_events": unique,
        "purchases_credited": credited,
        "purchase_entries": entries,
        "inbox_applied": inbox,
        "coins_credited": int(coins),
        "ok": credited == entries == inbox == unique and int(coins) == unique * 100,
    }


BASELINE_APP = """
import hashlib, hmac, os, threading
import psycopg
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.responses import JSONResponse
from starlette.routing import Route

SECRET = os.environ["PAYSTACK_SECRET_KEY"].encode()
DSN = os.environ["BASELINE_DSN"]
local = threading.local()

def store(body):
    conn = getattr(local, "conn", None)
    if conn is None:
        conn = local.conn = psycopg.connect(DSN, autocommit=True)
    conn.execute("INSERT INTO baseline_inbox (body) VALUES (%s)", (body.decode(),))

async def receive(request):
    body = await request.body()
    expected = hmac.new(SECRET, body, hashlib.sha512).hexdigest()
    if not hmac.compare_digest(expected, request.headers.get("x-paystack-signature", "")):
        return JSONResponse({"error": "INVALID_SIGNATURE"}, 400)
    await run_in_threadpool(store, body)
    return JSONResponse({"received": True})

async def healthz(request):
    return JSONResponse({"ok": True})

app = Starlette(routes=[Route("/webhooks/paystack", receive, methods=["POST"]),
                        Route("/healthz", healthz)])
"""


def run_baseline(
    database: str,
    bodies: list[bytes],
    workers: int,
    concurrency: int,
    senders: int,
    history: int = HISTORY,
) -> dict[str, Any]:
    _psql(f"DROP DATABASE IF EXISTS {database} WITH (FORCE)")
    _psql(f"CREATE DATABASE {database}")
    _psql("CREATE TABLE baseline_inbox (id bigserial PRIMARY KEY, body text NOT NULL)", database)
    # As many earlier events as the listener's database holds.
    past = _event_bodies("past", 1)[0].decode().replace("'", "''")
    _psql(
        f"INSERT INTO baseline_inbox (body) SELECT '{past}' FROM generate_series(1, {history});"
        " ANALYZE baseline_inbox",
        database,
    )
    module_dir = Path("/tmp/legato_bench_baseline")
    module_dir.mkdir(exist_ok=True)
    (module_dir / "baseline_app.py").write_text(BASELINE_APP)
    port = _free_port()
    env = {
        **os.environ,
        "PAYSTACK_SECRET_KEY": SECRET,
        "BASELINE_DSN": f"host=127.0.0.1 user=postgres dbname={database}",
        "PYTHONPATH": str(module_dir),
    }
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "baseline_app:app",
            "--port",
            str(port),
            "--workers",
            str(workers),
            "--log-level",
            "warning",
            "--no-access-log",
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        _wait_up(port)
        result = _load(port, "/webhooks/paystack", bodies, concurrency, senders)
    finally:
        server.terminate()
        server.wait(timeout=60)
    import psycopg

    with psycopg.connect(f"host=127.0.0.1 user=postgres dbname={database}") as conn:
        rows = conn.execute("SELECT count(*) FROM baseline_inbox").fetchone()[0]
        result["rows"] = rows - history
    result["workers"] = workers
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=4000, help="unique events per run")
    parser.add_argument("--concurrency", type=int, default=64, help="open connections")
    parser.add_argument("--senders", type=int, default=1, help="load generator processes")
    parser.add_argument("--quick", action="store_true", help="a smoke run with few events")
    parser.add_argument("--keep", action="store_true", help="keep the scratch databases")
    parser.add_argument(
        "--history",
        type=int,
        default=HISTORY,
        help="earlier purchases settled before each run (0: start from empty tables)",
    )
    args = parser.parse_args()
    unique = 300 if args.quick else args.events
    bodies = signed_bodies(unique)
    listener_db, baseline_db = "legato_bench_webhooks", "legato_bench_webhooks_baseline"
    try:
        results: dict[str, Any] = {
            "unique_events": unique,
            "requests": len(bodies),
            "duplicate_share": DUPLICATE_SHARE,
            "concurrency": args.concurrency,
            "history": args.history,
        }
        for workers in (1, 2):
            results[f"baseline_{workers}_worker"] = run_baseline(
                baseline_db, bodies, workers, args.concurrency, args.senders, args.history
            )
            results[f"listener_{workers}_worker"] = run_listener(
                listener_db, bodies, unique, workers, args.concurrency, args.senders, args.history
            )
            ratio = (
                results[f"listener_{workers}_worker"]["events_per_s"]
                / results[f"baseline_{workers}_worker"]["events_per_s"]
            )
            results[f"ratio_{workers}_worker"] = round(ratio, 3)
        best = max(
            results["listener_1_worker"]["events_per_s"],
            results["listener_2_worker"]["events_per_s"],
        )
        results["targets"] = {
            "events_per_s": TARGET_EVENTS_PER_S,
            "ratio": TARGET_RATIO,
            "events_per_s_ok": best >= TARGET_EVENTS_PER_S,
            "ratio_ok": max(results["ratio_1_worker"], results["ratio_2_worker"]) >= TARGET_RATIO,
            "exactly_once_ok": all(
                results[f"listener_{w}_worker"]["exactly_once"]["ok"] for w in (1, 2)
            ),
        }
        print(json.dumps(results, indent=2))
    finally:
        if not args.keep:
            for database in (listener_db, baseline_db):
                _psql(f"DROP DATABASE IF EXISTS {database} WITH (FORCE)")


if __name__ == "__main__":
    main()
