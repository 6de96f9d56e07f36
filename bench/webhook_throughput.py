"""Webhook listener throughput on PostgreSQL, beside a minimal durable baseline in the same run.

Signed Paystack ``charge.success`` events for pending purchases (10% of them sent twice) are
posted with concurrency to ``legato-pay serve-webhooks`` with 1 and 2 workers, and to a bare ASGI
app that checks the HMAC, inserts the raw event into a one-table inbox on the same PostgreSQL
(one INSERT per request) and answers 200. The baseline runs under the listener's own server
settings (uvicorn started the same way, ``proxy_headers=False``, the 0.5 ms switch interval) and
answers its one route straight from the ASGI messages, as the listener's fast path does.

The figure compared is unique events per second: the unique events (each applied exactly once,
checked afterwards: one credit, one ledger entry, one inbox row per purchase) over the time taken
to send every request, duplicates included. Both servers get the same requests, so the ratio is
the ratio of their times. The load average is printed on stderr before each phase.

    .venv/bin/python bench/webhook_throughput.py            # 4,000 unique events per run
    .venv/bin/python bench/webhook_throughput.py --rounds 3 # each pair three times; medians
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
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

SERVER = "postgresql+psycopg://postgres@127.0.0.1:5432/"
SECRET = "sk_test_bench_webhook_secret"
TARGET_EVENTS_PER_S = 1000  # unique events per second, the better of 1 and 2 workers
TARGET_RATIO = 0.7  # with 1 and with 2 workers
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


def load_average(phase: str) -> list[float]:
    """The machine's load before a phase (figures under load are not comparable), on stderr."""
    loads = [round(value, 2) for value in os.getloadavg()]
    print(f"load average before {phase}: {loads}", file=sys.stderr, flush=True)
    return loads


def _load(
    port: int, path: str, bodies: list[bytes], unique: int, concurrency: int, senders: int
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
        "unique_events": unique,
        "seconds": round(elapsed, 3),
        "requests_per_s": round(len(bodies) / elapsed, 1),
        "unique_events_per_s": round(unique / elapsed, 1),
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
        loads = load_average(f"listener, {workers} worker(s)")
        result = _load(port, "/webhooks/paystack", bodies, unique, concurrency, senders)
    finally:
        server.terminate()
        server.wait(timeout=60)
    result["workers"] = workers
    result["load_average_before"] = loads
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


# The baseline's server gets what ``legato-pay serve-webhooks`` gives the listener (see
# commands/webhooks.py and legato_pay/webhooks/app.py): uvicorn.run with a factory, the same log
# settings and proxy_headers=False, the 0.5 ms switch interval set by the factory, and its one
# route answered from the ASGI messages without Starlette's router, request or response.
BASELINE_APP = """
import hashlib, hmac, json, os, sys, threading
import psycopg
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.responses import JSONResponse
from starlette.routing import Route

SECRET = os.environ["PAYSTACK_SECRET_KEY"].encode()
DSN = os.environ["BASELINE_DSN"]
PATH = "/webhooks/paystack"
local = threading.local()

def store(body):
    conn = getattr(local, "conn", None)
    if conn is None:
        conn = local.conn = psycopg.connect(DSN, autocommit=True)
    conn.execute("INSERT INTO baseline_inbox (body) VALUES (%s)", (body.decode(),))

async def answer(send, status, document):
    body = json.dumps(document, separators=(",", ":")).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})

async def healthz(request):
    return JSONResponse({"ok": True})

class Baseline(Starlette):
    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope["method"] != "POST" or scope["path"] != PATH:
            await super().__call__(scope, receive, send)
            return
        parts = []
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            parts.append(message.get("body", b""))
            if not message.get("more_body", False):
                break
        body = b"".join(parts)
        signature = dict(scope["headers"]).get(b"x-paystack-signature", b"").decode()
        expected = hmac.new(SECRET, body, hashlib.sha512).hexdigest()
        if not hmac.compare_digest(expected, signature):
            await answer(send, 400, {"error": "INVALID_SIGNATURE"})
            return
        await run_in_threadpool(store, body)
        await answer(send, 200, {"received": True})

def create():
    sys.setswitchinterval(0.0005)
    return Baseline(routes=[Route("/healthz", healthz)])
"""

BASELINE_SERVER = """
import sys, uvicorn
uvicorn.run(
    "baseline_app:create",
    factory=True,
    host="127.0.0.1",
    port=int(sys.argv[1]),
    workers=int(sys.argv[2]),
    log_level="warning",
    access_log=False,
    proxy_headers=False,
)
"""


def run_baseline(
    database: str,
    bodies: list[bytes],
    unique: int,
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
    module_dir = Path(tempfile.mkdtemp(prefix="legato_bench_baseline_"))
    (module_dir / "baseline_app.py").write_text(BASELINE_APP)
    port = _free_port()
    env = {
        **os.environ,
        "PAYSTACK_SECRET_KEY": SECRET,
        "BASELINE_DSN": f"host=127.0.0.1 user=postgres dbname={database}",
        "PYTHONPATH": str(module_dir),
    }
    server = subprocess.Popen(
        [sys.executable, "-c", BASELINE_SERVER, str(port), str(workers)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        _wait_up(port)
        loads = load_average(f"baseline, {workers} worker(s)")
        result = _load(port, "/webhooks/paystack", bodies, unique, concurrency, senders)
    finally:
        server.terminate()
        server.wait(timeout=60)
        shutil.rmtree(module_dir, ignore_errors=True)
    import psycopg

    with psycopg.connect(f"host=127.0.0.1 user=postgres dbname={database}") as conn:
        rows = conn.execute("SELECT count(*) FROM baseline_inbox").fetchone()[0]
        result["rows"] = rows - history  # one per request: the baseline does not deduplicate
    result["workers"] = workers
    result["load_average_before"] = loads
    return result


def run_round(
    databases: tuple[str, str], bodies: list[bytes], unique: int, workers: int, args: Any
) -> dict[str, Any]:
    """The baseline, then the listener, with ``workers`` workers each, on the same requests."""
    listener_db, baseline_db = databases
    baseline = run_baseline(
        baseline_db, bodies, unique, workers, args.concurrency, args.senders, args.history
    )
    listener = run_listener(
        listener_db, bodies, unique, workers, args.concurrency, args.senders, args.history
    )
    ratio = listener["unique_events_per_s"] / baseline["unique_events_per_s"]
    return {"baseline": baseline, "listener": listener, "ratio": round(ratio, 3)}


def summary(rounds: list[dict[str, Any]], workers: int) -> dict[str, Any]:
    """Medians over the rounds with ``workers`` workers, and each round's own figures."""
    mine = [r for r in rounds if r["listener"]["workers"] == workers]

    def median(side: str) -> float:
        return round(statistics.median(r[side]["unique_events_per_s"] for r in mine), 1)

    return {
        "listener_unique_events_per_s": median("listener"),
        "baseline_unique_events_per_s": median("baseline"),
        "ratio": round(statistics.median(r["ratio"] for r in mine), 3),
        "rounds": mine,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=4000, help="unique events per run")
    parser.add_argument("--concurrency", type=int, default=64, help="open connections")
    parser.add_argument("--senders", type=int, default=1, help="load generator processes")
    parser.add_argument("--quick", action="store_true", help="smoke run: 300 events, short history")
    parser.add_argument("--keep", action="store_true", help="keep the scratch databases")
    parser.add_argument(
        "--rounds", type=int, default=1, help="repeat each baseline/listener pair; medians"
    )
    parser.add_argument(
        "--history",
        type=int,
        default=HISTORY,
        help="earlier purchases settled before each run (0: start from empty tables)",
    )
    args = parser.parse_args()
    if args.quick:
        args.history = min(args.history, 1000)
    if args.rounds < 1:
        parser.error("--rounds must be positive")
    unique = 300 if args.quick else args.events
    bodies = signed_bodies(unique)
    run = uuid.uuid4().hex[:8]  # two runs at once must not drop each other's databases
    databases = (f"legato_bench_webhooks_{run}", f"legato_bench_webhooks_baseline_{run}")
    try:
        rounds = [
            run_round(databases, bodies, unique, workers, args)
            for _ in range(args.rounds)
            for workers in (1, 2)
        ]
        by_workers = {workers: summary(rounds, workers) for workers in (1, 2)}
        best = max(by_workers[w]["listener_unique_events_per_s"] for w in (1, 2))
        results: dict[str, Any] = {
            "unique_events": unique,
            "requests": len(bodies),
            "duplicate_share": DUPLICATE_SHARE,
            "concurrency": args.concurrency,
            "history": args.history,
            "quick": args.quick,
            **{f"{workers}_worker": by_workers[workers] for workers in (1, 2)},
            "targets": {
                "unique_events_per_s": TARGET_EVENTS_PER_S,
                "ratio": TARGET_RATIO,
                "unique_events_per_s_ok": best >= TARGET_EVENTS_PER_S,
                "ratio_ok": all(by_workers[w]["ratio"] >= TARGET_RATIO for w in (1, 2)),
                "exactly_once_ok": all(r["listener"]["exactly_once"]["ok"] for r in rounds),
            },
        }
        print(json.dumps(results, indent=2))
    finally:
        if not args.keep:
            for database in databases:
                _psql(f"DROP DATABASE IF EXISTS {database} WITH (FORCE)")


if __name__ == "__main__":
    main()
