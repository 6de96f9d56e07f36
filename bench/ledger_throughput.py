"""Ledger posting throughput on PostgreSQL, beside pgbench and a raw insert in the same run.

Prints one JSON document. See bench/README.md for what each figure means and the targets.

    .venv/bin/python bench/ledger_throughput.py                # C=4, T=10 s, 100,000 bulk entries
    .venv/bin/python bench/ledger_throughput.py --quick        # smoke run (a few seconds)
    .venv/bin/python bench/ledger_throughput.py --db postgresql://user@host/db --clients 8

Without ``--db`` (or ``LEGATO_BENCH_DATABASE_URL``) a scratch database ``legato_bench_<run>`` is
created on 127.0.0.1 (user postgres) and dropped at the end; pgbench always gets its own scratch
database on the same server (``pgbench -i -s 10``: ten branch rows, so its four clients do not all
queue on one), dropped afterwards. The load average is printed on stderr before each phase.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import re
import shutil
import statistics
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

DEFAULT_SERVER = "postgresql+psycopg://postgres@127.0.0.1:5432/"
SCRATCH_DB = "legato_bench"
PGBENCH_DB = "legato_bench_pgbench"
#: pgbench's scale: tpcb-like updates one of ``scale`` branch rows per transaction, so at scale 1
#: every client waits for the same row lock and the baseline measures that queue, not the server.
PGBENCH_SCALE = 10
CURRENCY = "USD"
DESTINATIONS = 32
BULK_SOURCES = 8
BATCH = 1000
FUNDING = 10**15  # minor units per source: never the limit during a run
TARGET_SINGLE_RATIO = 0.5
TARGET_BULK_RATIO = 0.3
TARGET_BULK_LEGS_PER_S = 20_000


# --- database plumbing ---------------------------------------------------------------------


def _url_parts(url: str) -> Any:
    from sqlalchemy.engine import make_url

    from legato_pay.store.engine import normalize_url

    return make_url(normalize_url(url))


def _libpq(url: str, database: str | None = None) -> str:
    """A libpq connection string for psycopg / pgbench from a SQLAlchemy-style URL."""
    parts = _url_parts(url)
    fields = {
        "host": parts.host or "127.0.0.1",
        "port": parts.port or 5432,
        "user": parts.username or "postgres",
        "dbname": database or parts.database or "postgres",
    }
    if parts.password:
        fields["password"] = parts.password
    return " ".join(f"{key}={_quote(value)}" for key, value in fields.items())


def _quote(value: object) -> str:
    text = str(value).replace("\\", "\\\\").replace("'", "\\'")
    return f"'{text}'"


def _with_database(url: str, database: str) -> str:
    return _url_parts(url).set(database=database).render_as_string(hide_password=False)


def _admin(url: str, *statements: str) -> None:
    import psycopg

    with psycopg.connect(_libpq(url, "postgres"), autocommit=True) as connection:
        for statement in statements:
            connection.execute(statement)  # type: ignore[arg-type]


def _create_scratch(url: str, name: str) -> None:
    _admin(url, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)", f"CREATE DATABASE {name}")


def _drop_scratch(url: str, name: str) -> None:
    _admin(url, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def _checkpoint(url: str) -> None:
    """Start each measured phase from a clean WAL state when we may (superuser only)."""
    import psycopg

    try:
        with psycopg.connect(_libpq(url), autocommit=True) as connection:
            connection.execute("CHECKPOINT")
    except psycopg.Error:
        pass


def _vacuum_accounts(url: str) -> None:
    """pgbench vacuums its tables before each run (its default); the ledger's updated table
    gets the same, so dead row versions left by the previous phase (thousands of updates of a
    few rows on one page) do not slow the next one."""
    import psycopg

    with psycopg.connect(_libpq(url), autocommit=True) as connection:
        connection.execute("VACUUM ledger_accounts")


def _load_average(phase: str, loads: dict[str, list[float]]) -> None:
    """Note the machine's load before a phase: figures under load are not comparable."""
    loads[phase] = [round(value, 2) for value in os.getloadavg()]
    print(f"load average before {phase}: {loads[phase]}", file=sys.stderr, flush=True)


def _server_version(url: str) -> str:
    import psycopg

    with psycopg.connect(_libpq(url), autocommit=True) as connection:
        row = connection.execute("SHOW server_version").fetchone()
    return str(row[0]) if row else "unknown"


# --- ledger setup --------------------------------------------------------------------------


def _codes(run: str, clients: int) -> dict[str, Any]:
    return {
        "sources": [f"bench:{run}:src:{i}" for i in range(clients)],
        "shared": f"bench:{run}:shared",
        "destinations": [f"bench:{run}:dst:{j}" for j in range(DESTINATIONS)],
        "bulk_sources": [f"bench:{run}:bulksrc:{i}" for i in range(BULK_SOURCES)],
    }


def _setup_ledger(url: str, codes: dict[str, Any]) -> None:
    from legato_pay.ledger import open_account, post_entries, transfer
    from legato_pay.store.engine import get_engine, run_in_transaction
    from legato_pay.store.schema import ensure_schema

    engine = get_engine(url)
    ensure_schema(engine)
    funded = [*codes["sources"], codes["shared"], *codes["bulk_sources"]]

    def work(session: Any) -> None:
        for code in funded:
            open_account(session, code, CURRENCY, no_overdraft=True)
        for code in codes["destinations"]:
            open_account(session, code, CURRENCY)
        post_entries(
            session,
            [transfer(f"world:{CURRENCY}", code, FUNDING, CURRENCY) for code in funded],
            actor="bench",
        )

    run_in_transaction(engine, work)


# --- (a) single postings -------------------------------------------------------------------


def _single_worker(
    url: str,
    source: str,
    destinations: list[str],
    client: int,
    tag: str,
    seconds: float,
    barrier: Any,
    results: Any,
) -> None:
    from legato_pay.ledger import post_entry, resolve_accounts, transfer
    from legato_pay.store.engine import get_engine, run_in_transaction

    engine = get_engine(url)
    run_in_transaction(engine, lambda s: resolve_accounts(s, [source, *destinations]))
    count = 0
    prefix = f"bench:{tag}:{client}:"

    def post_one(n: int) -> None:
        spec = transfer(
            source,
            destinations[(client * 7 + n) % len(destinations)],
            1 + n % 97,
            CURRENCY,
            idempotency_key=f"{prefix}{n}",
        )
        post_entry(engine, spec, actor="bench")  # one posting, its own transaction

    for _ in range(20):  # warm connections, caches and statement caches
        post_one(count)
        count += 1
    barrier.wait()
    started = time.perf_counter()
    deadline = started + seconds
    done = 0
    while time.perf_counter() < deadline:
        post_one(count)
        count += 1
        done += 1
    elapsed = time.perf_counter() - started
    results.put((client, done, elapsed))
    engine.dispose()


def _run_single(url: str, sources: list[str], destinations: list[str], tag: str, args: Any) -> Any:
    """C client processes posting one entry per transaction for T seconds; postings per second."""
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(args.clients)
    results = context.Queue()
    processes = [
        context.Process(
            target=_single_worker,
            args=(url, sources[i], destinations, i, tag, args.seconds, barrier, results),
        )
        for i in range(args.clients)
    ]
    for process in processes:
        process.start()
    outcomes = [results.get(timeout=args.seconds + 300) for _ in processes]
    for process in processes:
        process.join()
        if process.exitcode:
            raise SystemExit(f"a benchmark client failed (exit code {process.exitcode})")
    # Each client's rate over its own window; they start together at the barrier.
    return sum(done / elapsed for _, done, elapsed in outcomes)


# --- pgbench -------------------------------------------------------------------------------


def _pgbench_init(url: str, database: str, scale: int) -> str:
    _create_scratch(url, database)
    conninfo = _libpq(url, database)
    subprocess.run(
        [_pgbench(), "-i", "-q", "-s", str(scale), conninfo],
        check=True,
        capture_output=True,
        text=True,
    )
    return conninfo


def _pgbench() -> str:
    return shutil.which("pgbench") or "/usr/bin/pgbench"


def _run_pgbench(url: str, conninfo: str, clients: int, seconds: float) -> float:
    _checkpoint(url)
    command = [_pgbench(), "-b", "tpcb-like", "-c", str(clients), "-j", str(clients)]
    command += ["-T", str(max(1, round(seconds))), conninfo]
    completed = subprocess.run(command, check=True, capture_output=True, text=True)
    match = re.search(r"tps = ([0-9.]+) \(without initial connection time\)", completed.stdout)
    if not match:
        match = re.search(r"tps = ([0-9.]+)", completed.stdout)
    if not match:
        raise SystemExit(f"could not read pgbench output:\n{completed.stdout}")
    return float(match.group(1))


# --- (b) bulk ------------------------------------------------------------------------------


def _bulk_specs(run: str, codes: dict[str, Any], start: int, count: int) -> list[Any]:
    from legato_pay.ledger import transfer

    sources, destinations = codes["bulk_sources"], codes["destinations"]
    return [
        transfer(
            sources[n % len(sources)],
            destinations[(n * 7) % len(destinations)],
            1 + n % 997,
            CURRENCY,
            idempotency_key=f"bench:{run}:bulk:{n}",
        )
        for n in range(start, start + count)
    ]


def _ledger_batches(url: str, batches: list[list[Any]]) -> float:
    """The ledger's bulk API: one transaction per batch, the next batch prepared while the
    current one is written."""
    from legato_pay.ledger import post_entry_batches
    from legato_pay.store.engine import get_engine

    engine = get_engine(url)
    started = time.perf_counter()
    for _ in post_entry_batches(engine, batches, actor="bench"):
        pass
    return time.perf_counter() - started


RAW_TABLE = """
CREATE TABLE IF NOT EXISTS bench_raw_legs (
    id BIGSERIAL PRIMARY KEY,
    entry_id BIGINT NOT NULL,
    account_id BIGINT NOT NULL,
    currency VARCHAR(8) NOT NULL,
    is_debit BOOLEAN NOT NULL,
    amount BIGINT NOT NULL,
    pending_amount BIGINT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    debits_posted_after BIGINT,
    credits_posted_after BIGINT,
    debits_pending_after BIGINT,
    credits_pending_after BIGINT
)
"""
RAW_INSERT = (
    "INSERT INTO bench_raw_legs (entry_id, account_id, currency, is_debit, amount, pending_amount,"
    " created_at, debits_posted_after, credits_posted_after, debits_pending_after,"
    " credits_pending_after) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"
)


def _raw_rows(start: int, count: int) -> list[tuple[Any, ...]]:
    now = datetime.now(UTC)
    return [
        (n // 2, 1 + n % 40, CURRENCY, n % 2 == 0, 1 + n % 997, 0, now, n, n, 0, 0)
        for n in range(start, start + count)
    ]


def _raw_batches(connection: Any, batches: list[list[tuple[Any, ...]]]) -> float:
    """executemany (no COPY) into a plain table of the legs' shape, one commit per batch."""
    started = time.perf_counter()
    for rows in batches:
        with connection.cursor() as cursor:
            cursor.executemany(RAW_INSERT, rows)
        connection.commit()
    return time.perf_counter() - started


def _run_bulk(url: str, run: str, codes: dict[str, Any], entries: int) -> dict[str, Any]:
    """Ledger batches and the raw insert of as many rows, alternating in chunks of 10 batches so
    both see the same load; each side's time is summed."""
    import psycopg

    ledger_seconds = raw_seconds = 0.0
    legs = 0
    with psycopg.connect(_libpq(url)) as connection:
        connection.execute(RAW_TABLE)
        connection.execute("TRUNCATE bench_raw_legs")
        connection.commit()
        # Warm up both paths (connections, prepared statements, caches).
        _ledger_batches(url, [_bulk_specs(run + "w", codes, 0, BATCH)])
        _raw_batches(connection, [_raw_rows(0, 2 * BATCH)])
        for chunk in range(0, entries, 10 * BATCH):
            batches = [
                _bulk_specs(run, codes, start, min(BATCH, entries - start))
                for start in range(chunk, min(chunk + 10 * BATCH, entries), BATCH)
            ]
            rows = [sum(len(spec.legs) for spec in specs) for specs in batches]
            raw = [_raw_rows(legs + sum(rows[:i]), count) for i, count in enumerate(rows)]
            legs += sum(rows)
            ledger_seconds += _ledger_batches(url, batches)
            raw_seconds += _raw_batches(connection, raw)
        connection.execute("DROP TABLE bench_raw_legs")
        connection.commit()
    return {"legs": legs, "seconds": ledger_seconds, "raw_seconds": raw_seconds}


# --- checks --------------------------------------------------------------------------------


def _verify(url: str) -> dict[str, Any]:
    from legato_pay.ledger import verify_ledger
    from legato_pay.store.engine import get_engine, run_in_transaction

    report = run_in_transaction(get_engine(url), verify_ledger, write=False)
    return {"ok": report.ok, "entries": report.entries, "problem_count": report.problem_count}


# --- main ----------------------------------------------------------------------------------


def _ratio(a: float, b: float) -> float:
    return round(a / b, 3) if b else 0.0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", default=os.environ.get("LEGATO_BENCH_DATABASE_URL"))
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--bulk-entries", type=int, default=100_000)
    parser.add_argument("--quick", action="store_true", help="smoke run: 2 s, 5,000 bulk entries")
    parser.add_argument(
        "--rounds",
        type=int,
        default=1,
        help="repeat the single-posting and pgbench runs, alternating, and report medians",
    )
    parser.add_argument("--no-verify", action="store_true", help="skip `ledger verify` at the end")
    parser.add_argument(
        "--pgbench-scale",
        type=int,
        default=PGBENCH_SCALE,
        help=f"pgbench -i -s (at least {PGBENCH_SCALE}: no single hot branch row)",
    )
    args = parser.parse_args(argv)
    if args.quick:
        args.seconds = min(args.seconds, 2.0)
        args.bulk_entries = min(args.bulk_entries, 5_000)
    if min(args.clients, args.bulk_entries, args.rounds) < 1 or args.seconds <= 0:
        parser.error("--clients, --seconds, --bulk-entries and --rounds must be positive")
    if args.pgbench_scale < PGBENCH_SCALE:
        parser.error(f"--pgbench-scale must be at least {PGBENCH_SCALE}")

    run = uuid.uuid4().hex[:8]
    # Names of this run's own: two runs at once (several people share the machine) must not
    # drop each other's databases.
    scratch_db, pgbench_db = f"{SCRATCH_DB}_{run}", f"{PGBENCH_DB}_{run}"
    scratch = args.db is None
    url = _with_database(DEFAULT_SERVER, scratch_db) if scratch else args.db
    if _url_parts(url).get_backend_name() != "postgresql":
        parser.error("the benchmark needs a PostgreSQL URL")
    if scratch:
        _create_scratch(url, scratch_db)
    codes = _codes(run, args.clients)
    rounds: list[dict[str, float]] = []
    loads: dict[str, list[float]] = {}
    try:
        version = _server_version(url)
        _setup_ledger(url, codes)
        conninfo = _pgbench_init(url, pgbench_db, args.pgbench_scale)
        try:
            for number in range(args.rounds):
                _vacuum_accounts(url)
                _checkpoint(url)
                _load_average(f"round {number + 1}: single", loads)
                single = _run_single(
                    url, codes["sources"], codes["destinations"], f"{run}:{number}:own", args
                )
                _vacuum_accounts(url)
                _checkpoint(url)
                _load_average(f"round {number + 1}: single_shared_source", loads)
                shared = _run_single(
                    url,
                    [codes["shared"]] * args.clients,
                    codes["destinations"],
                    f"{run}:{number}:shared",
                    args,
                )
                _load_average(f"round {number + 1}: pgbench", loads)
                pgbench = _run_pgbench(url, conninfo, args.clients, args.seconds)
                rounds.append({"ledger_tps": single, "shared_tps": shared, "pgbench_tps": pgbench})
        finally:
            _drop_scratch(url, pgbench_db)
        _checkpoint(url)
        _load_average("bulk", loads)
        bulk = _run_bulk(url, run, codes, args.bulk_entries)
        checks = None if args.no_verify else _verify(url)
    finally:
        from legato_pay.store.engine import dispose_engines

        dispose_engines()
        if scratch:
            _drop_scratch(url, scratch_db)

    ledger_tps = statistics.median(r["ledger_tps"] for r in rounds)
    shared_tps = statistics.median(r["shared_tps"] for r in rounds)
    pgbench_tps = statistics.median(r["pgbench_tps"] for r in rounds)
    single_ratio = round(statistics.median(r["ledger_tps"] / r["pgbench_tps"] for r in rounds), 3)
    shared_ratio = round(statistics.median(r["shared_tps"] / r["pgbench_tps"] for r in rounds), 3)
    legs_per_s = bulk["legs"] / bulk["seconds"]
    raw_per_s = bulk["legs"] / bulk["raw_seconds"]
    bulk_ratio = round(legs_per_s / raw_per_s, 3)
    result = {
        "single": {
            "clients": args.clients,
            "seconds": args.seconds,
            "ledger_tps": round(ledger_tps, 1),
            "pgbench_tps": round(pgbench_tps, 1),
            "ratio": single_ratio,
            "target_ratio": TARGET_SINGLE_RATIO,
            "ok": single_ratio >= TARGET_SINGLE_RATIO,
        },
        "single_shared_source": {
            "clients": args.clients,
            "seconds": args.seconds,
            "ledger_tps": round(shared_tps, 1),
            "pgbench_tps": round(pgbench_tps, 1),
            "ratio": shared_ratio,
        },
        "bulk": {
            "entries": args.bulk_entries,
            "batch": BATCH,
            "legs": bulk["legs"],
            "legs_per_s": round(legs_per_s),
            "raw_rows_per_s": round(raw_per_s),
            "ratio": bulk_ratio,
            "target_ratio": TARGET_BULK_RATIO,
            "target_legs_per_s": TARGET_BULK_LEGS_PER_S,
            "ok": bulk_ratio >= TARGET_BULK_RATIO and legs_per_s >= TARGET_BULK_LEGS_PER_S,
        },
        "rounds": [{key: round(value, 1) for key, value in r.items()} for r in rounds],
        "postgres_version": version,
        "pgbench": f"tpcb-like, scale {args.pgbench_scale}, -c C -j C -T T",
        "load_average_before": loads,
        "quick": args.quick,
        "idempotency_keys": True,
        "destinations": DESTINATIONS,
        "cpus": os.cpu_count(),
        "verify": checks,
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
