"""``legato-pay ledger …`` and ``db …`` end to end: real subprocesses, ``--output json``.

The flow and the errors that reach the database run on SQLite and PostgreSQL; input that is
refused before any database access, rendering, configuration and ``--help`` run on SQLite.
Every call starts a whole interpreter (about a second of CPU), so independent calls run in
parallel, and long lists of refusals run as a session of calls in one subprocess.
"""

from __future__ import annotations

import json
import re
import resource
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from tests.cli_runner import ROOT, CliResult, cli_env, run_cli

WORKER = Path(__file__).resolve().parent.parent / "ledger_worker.py"
BOX_DRAWING = re.compile("[\u2500-\u257f]")
GROUPS = [
    "db",
    "ledger",
    "users",
    "packages",
    "rates",
    "purchases",
    "balances",
    "content",
    "access",
    "subscriptions",
    "engagement",
    "tips",
    "gifts",
    "earnings",
    "reports",
    "webhooks",
    "serve-webhooks",
    "demo",
]


def cli_many(database_url: str, *commands: list[str], **env: str) -> list[CliResult]:
    """Run independent commands at once, each in its own process; results in the order given."""
    with ThreadPoolExecutor(min(4, len(commands))) as pool:
        return list(pool.map(lambda args: run_cli(database_url, *args, **env), commands))


def cli_session(database_url: str, *commands: list[str]) -> list[CliResult]:
    """Run commands one after another through ``commands.main.run`` in one subprocess, each with
    fresh global state: what separate ``--output json`` processes would print and return, for
    one interpreter start (a start costs about a second of CPU)."""
    listed = json.dumps([["--output", "json", *args] for args in commands])
    completed = subprocess.run(
        [sys.executable, str(WORKER), "session", "--commands", listed],
        capture_output=True,
        text=True,
        env=cli_env(database_url),
        cwd=ROOT,
        timeout=120,
        stdin=subprocess.DEVNULL,
    )
    assert completed.returncode == 0, completed.stderr
    return [
        CliResult(subprocess.CompletedProcess([], r["status"], r["stdout"], r["stderr"]))
        for r in json.loads(completed.stdout)
    ]


def ok(result: CliResult) -> Any:
    assert result.status == 0, (result.status, result.stdout, result.stderr)
    return result.json


def error(result: CliResult, status: int, code: str) -> dict[str, Any]:
    """The documented error: exit status, nothing on stdout, exactly one JSON doc on stderr."""
    assert result.status == status, (result.status, result.stdout, result.stderr)
    assert result.stdout == ""
    document = json.loads(result.stderr)  # raises on anything but one JSON document
    assert list(document) == ["error"]
    assert set(document["error"]) == {"code", "message", "details"}
    assert document["error"]["code"] == code, document
    assert document["error"]["message"]
    return document["error"]  # type: ignore[no-any-return]


def post(
    source: str, destination: str, amount: str, *extra: str, currency: str = "USD"
) -> list[str]:
    move = ["--from", source, "--to", destination, "--amount", amount, "--currency", currency]
    return ["ledger", "post", *move, *extra]


SNAPSHOT = [["ledger", "accounts"], ["ledger", "verify"]]


def snapshot(accounts: CliResult, verify: CliResult) -> tuple[Any, Any]:
    """Every account's balances and ``ledger verify``, to show that a refusal changed nothing."""
    assert ok(verify)["ok"] is True, verify.json["problems"]
    return ok(accounts), verify.json


def test_ledger_flow(database_url: str, tmp_path: Path) -> None:
    # Accounts: the first call creates the schema, so it runs alone.
    wallet = ok(run_cli(database_url, "ledger", "open", "wallet", "-c", "USD", "--no-overdraft"))
    assert wallet == {
        "id": wallet["id"],
        "code": "wallet",
        "currency": "USD",
        "normal_side": "credit",
        "no_overdraft": True,
        "hot": False,
        "metadata": None,
    }
    shop, again = cli_session(
        database_url,
        ["ledger", "open", "shop", "--currency", "USD", "--meta", "owner=ops"],
        ["ledger", "open", "wallet", "--currency", "USD"],
    )
    assert ok(shop)["metadata"] == {"owner": "ops"}
    error(again, 6, "ALREADY_EXISTS")

    # A posting, its replay, and the same key with other content.
    funded = ok(run_cli(database_url, *post("world:USD", "wallet", "100.00", "--key", "fund-1")))
    assert (funded["kind"], funded["status"], funded["replayed"]) == ("posted", "posted", False)
    assert (funded["idempotency_key"], funded["actor"]) == ("fund-1", "test-cli")
    assert [(g["account"], g["side"], g["amount_minor"], g["display"]) for g in funded["legs"]] == [
        ("world:USD", "debit", 10000, "100.00 USD"),
        ("wallet", "credit", 10000, "100.00 USD"),
    ]
    batch = tmp_path / "batch.jsonl"
    line = {"from": "wallet", "to": "shop", "amount": "1.00", "currency": "USD"}
    batch.write_text((json.dumps(line) + "\n") * 3)
    pending_commands = [
        post("wallet", "shop", "10.00", "--pending"),
        post("wallet", "shop", "5.00", "--pending"),
        post("wallet", "shop", "3.00", "--pending", "--reason", "hold"),
        post("wallet", "shop", "4.00", "--pending", "--expires-in", "2"),
    ]
    with ThreadPoolExecutor(4) as pool:
        pendings = pool.submit(cli_session, database_url, *pending_commands)
        replay, conflict, posted_batch = cli_many(
            database_url,
            post("world:USD", "wallet", "100.00", "--key", "fund-1"),
            post("world:USD", "wallet", "99.00", "--key", "fund-1"),
            ["ledger", "post-batch", str(batch)],
        )
        full, part, void, expiring = (ok(r) for r in pendings.result())
    expiring_since = time.monotonic()
    assert ok(replay)["id"] == funded["id"]
    assert replay.json["replayed"] is True
    assert replay.json["legs"] == funded["legs"]
    assert error(conflict, 6, "IDEMPOTENCY_CONFLICT")["details"]["entry_id"] == funded["id"]
    assert (ok(posted_batch)["posted"], posted_batch.json["replayed"]) == (3, 0)
    batch_ids = posted_batch.json["entry_ids"]
    for pending in (full, part, void, expiring):
        assert (pending["kind"], pending["status"]) == ("pending", "pending")
        assert [leg["amount_minor"] for leg in pending["legs"]] == [0, 0]
    assert [leg["pending_amount_minor"] for leg in full["legs"]] == [1000, 1000]
    assert expiring["expires_at"] is not None

    balance, too_much = cli_session(
        database_url,
        ["ledger", "balance", "wallet"],
        ["ledger", "post-pending", str(part["id"]), "--amount", "5.01"],
    )
    assert ok(balance) == {
        "account": "wallet",
        "currency": "USD",
        "posted_minor": 10000 - 300,
        "pending_minor": -(1000 + 500 + 300 + 400),
        "available_minor": 10000 - 300 - 2200,
    }
    assert error(too_much, 3, "INVALID_AMOUNT")["details"] == {"pending": 500, "requested": 501}

    # Two-phase: post in full, post in part, void; a reversal. Each its own process, at once.
    posted_full, posted_part, voided, reversal = cli_many(
        database_url,
        ["ledger", "post-pending", str(full["id"])],
        ["ledger", "post-pending", str(part["id"]), "--amount", "2.00", "--key", "part-1"],
        ["ledger", "void", str(void["id"]), "--yes"],
        ["ledger", "reverse", str(batch_ids[0]), "--reason", "refund", "--yes"],
    )
    assert ok(posted_full)["kind"] == "post_pending"
    assert posted_full.json["target_entry_id"] == full["id"]
    assert [(g["amount_minor"], g["pending_amount_minor"]) for g in posted_full.json["legs"]] == [
        (1000, -1000),
        (1000, -1000),
    ]
    assert [(g["amount_minor"], g["pending_amount_minor"]) for g in ok(posted_part)["legs"]] == [
        (200, -500),
        (200, -500),
    ]
    assert ok(voided)["kind"] == "void_pending"
    assert [leg["amount_minor"] for leg in voided.json["legs"]] == [0, 0]
    assert ok(reversal)["kind"] == "reversal"
    assert reversal.json["reverses_entry_id"] == batch_ids[0]
    assert [(g["account"], g["side"]) for g in reversal.json["legs"]] == [
        ("wallet", "credit"),
        ("shop", "debit"),
    ]

    # Refusals, each with its documented status, and none of them changes anything.
    refusals = [
        (["ledger", "void", str(void["id"]), "-y"], 6, "INVALID_STATE"),  # double void
        (["ledger", "post-pending", str(full["id"])], 6, "INVALID_STATE"),  # posted twice
        (["ledger", "post-pending", str(part["id"]), "--key", "part-1b"], 6, "INVALID_STATE"),
        (
            ["ledger", "reverse", str(batch_ids[0]), "--reason", "again", "-y"],
            6,
            "ALREADY_REVERSED",
        ),
        (["ledger", "void", str(batch_ids[1]), "-y"], 6, "INVALID_STATE"),  # not a pending entry
        (["ledger", "entry", "999999"], 5, "ENTRY_NOT_FOUND"),
        (["ledger", "void", "999999", "--yes"], 5, "ENTRY_NOT_FOUND"),
        (["ledger", "reverse", "999999", "--reason", "x", "--yes"], 5, "ENTRY_NOT_FOUND"),
        (["ledger", "balance", "nobody"], 5, "ACCOUNT_NOT_FOUND"),
        (post("nobody", "shop", "1.00"), 5, "ACCOUNT_NOT_FOUND"),
        (post("wallet", "shop", "1.00", currency="CAD"), 3, "CURRENCY_MISMATCH"),
        (post("wallet", "shop", "100.00"), 4, "INSUFFICIENT_FUNDS"),
        (post("wallet", "wallet", "1.00"), 3, "SAME_ACCOUNT"),
        (post("wallet", "shop", "1.00", "--key", ""), 3, "INVALID_IDEMPOTENCY_KEY"),
        (["ledger", "history", "wallet", "--cursor", "nonsense"], 3, "VALIDATION_ERROR"),
        (["ledger", "post-pending", str(part["id"]), "--amount", "1.001"], 3, "INVALID_AMOUNT"),
    ]
    results = cli_session(
        database_url,
        *SNAPSHOT,
        *(args for args, _, _ in refusals),
        *SNAPSHOT,
        ["ledger", "entry", str(full["id"])],
        ["ledger", "entry", str(part["id"])],
        ["ledger", "entry", str(void["id"])],
        ["ledger", "post-pending", str(part["id"]), "--amount", "2.00", "--key", "part-1"],
    )
    before, after = snapshot(*results[:2]), snapshot(*results[-6:-4])
    assert after == before
    errors = [
        error(result, status, code)
        for result, (_, status, code) in zip(results[2:-6], refusals, strict=True)
    ]
    assert errors[11]["details"] == {
        "account": "wallet",
        "currency": "USD",
        "available": 10000 - 300 - 1000 - 200 + 100 - 400,
        "requested": 10000,
    }
    shown_full, shown_part, shown_void, replayed_part = (ok(r) for r in results[-4:])
    assert (shown_full["kind"], shown_full["status"]) == ("pending", "posted")
    assert shown_part["status"] == "posted"
    assert (shown_void["status"], shown_void["reason"]) == ("voided", "hold")
    assert (replayed_part["id"], replayed_part["replayed"]) == (posted_part.json["id"], True)

    # Expiry: an expired reservation cannot be posted; cron voids it, and only it.
    time.sleep(max(0.0, 2.2 - (time.monotonic() - expiring_since)))
    late, expired = cli_session(
        database_url, ["ledger", "post-pending", str(expiring["id"])], ["ledger", "expire"]
    )
    error(late, 6, "PENDING_EXPIRED")
    assert ok(expired) == {"voided": [expiring["id"]]}

    # History a page at a time is the whole history, newest first.
    pages: list[list[dict[str, Any]]] = []
    cursor: list[str] = []
    while True:
        page = ok(run_cli(database_url, "ledger", "history", "wallet", "--limit", "7", *cursor))
        assert (page["account"], page["currency"]) == ("wallet", "USD")
        pages.append(page["entries"])
        if page["next_cursor"] is None:
            break
        cursor = ["--cursor", page["next_cursor"]]
    assert [len(page) for page in pages] == [7, 6]  # fund, 3 batch, 4 pending, 3 resolutions,
    legs = [leg for page in pages for leg in page]  # a reversal and an expiry
    assert [leg["entry_id"] for leg in legs] == sorted({leg["entry_id"] for leg in legs})[::-1]
    assert (legs[-1]["entry_id"], legs[-1]["balance_after_minor"]) == (funded["id"], 10000)
    assert (legs[0]["kind"], legs[0]["balance_after_minor"]) == ("void_pending", 8600)

    # Seal, then verify, balances, accounts and the schema revision.
    sealed = ok(run_cli(database_url, "ledger", "seal"))
    total_entries = 13
    assert (sealed["entries"], sealed["last_entry_id"]) == (total_entries, legs[0]["entry_id"])
    verify, balance, accounts, history, current, upgraded = cli_session(
        database_url,
        ["ledger", "verify"],
        ["ledger", "balance", "wallet"],
        ["ledger", "accounts"],
        ["ledger", "history", "wallet", "--limit", "100"],
        ["db", "current"],
        ["db", "upgrade"],
    )
    assert ok(verify) == {
        "ok": True,
        "accounts": 3,
        "entries": total_entries,
        "sealed_entries": total_entries,
        "problem_count": 0,
        "problems": [],
    }
    assert ok(balance) == {
        "account": "wallet",
        "currency": "USD",
        "posted_minor": 8600,
        "pending_minor": 0,
        "available_minor": 8600,
    }
    listed = ok(accounts)
    assert [
        (a["code"], a["posted_minor"], a["pending_minor"], a["available_minor"])
        for a in listed["accounts"]
    ] == [
        ("shop", 1400, 0, 1400),
        ("wallet", 8600, 0, 8600),
        ("world:USD", -10000, 0, -10000),
    ]
    assert listed["totals"] == {
        "USD": {"posted_minor": 0, "pending_minor": 0, "available_minor": 0}
    }
    assert listed["next_cursor"] is None
    assert ok(history) == {
        "account": "wallet",
        "currency": "USD",
        "entries": legs,
        "next_cursor": None,
    }
    assert ok(current)["up_to_date"] is True
    assert current.json["current"] == current.json["head"]
    assert ok(upgraded)["from"] == upgraded.json["to"] == current.json["head"]


INVALID_AMOUNTS = [
    "12.345",
    "1e3",
    "NaN",
    "-0.01",
    "0",
    "0.00",
    "1" + "0" * 21,
    "10000000000000.01",  # one minor unit over the bound
    "1,000",
    "",
    "1.2.3",
    "Infinity",
    "0x10",
    "\uff11\uff12",  # fullwidth digits
]


def test_invalid_input_is_refused_before_the_database(tmp_path: Path) -> None:
    sqlite_url = f"sqlite:///{tmp_path / 'never-created.db'}"
    results = cli_session(
        sqlite_url,
        *(post("world:USD", "wallet", amount) for amount in INVALID_AMOUNTS),
        post("world:USD", "wallet", "1.00", currency="XYZ"),
        post("world:USD", "wallet", "1", "--expires-in", "0", "--pending"),
    )
    for amount, result in zip(INVALID_AMOUNTS, results, strict=False):
        assert error(result, 3, "INVALID_AMOUNT")["details"]["value"] == amount, amount
    assert error(results[-2], 3, "INVALID_CURRENCY")["details"]["currency"] == "XYZ"
    error(results[-1], 3, "VALIDATION_ERROR")
    assert not Path(sqlite_url.removeprefix("sqlite:///")).exists()  # never even opened


def test_bad_input_in_separate_processes_changes_nothing(sqlite_url: str) -> None:
    setup = cli_session(
        sqlite_url,
        ["ledger", "open", "wallet", "-c", "USD", "--no-overdraft"],
        post("world:USD", "wallet", "10.00"),
        *SNAPSHOT,
    )
    before = snapshot(*setup[2:])
    amount, usage, output, entry, insufficient, unknown = cli_many(
        sqlite_url,
        post("wallet", "world:USD", "12.345"),
        ["ledger", "post", "--from", "wallet", "--to", "world:USD", "--currency", "USD"],
        ["--output", "xml", "ledger", "accounts"],
        ["ledger", "entry", "not-a-number"],
        post("wallet", "world:USD", "10.01"),
        post("nobody", "wallet", "1.00"),
    )
    error(amount, 3, "INVALID_AMOUNT")
    assert "--amount" in error(usage, 2, "USAGE_ERROR")["message"]
    assert "--output" in error(output, 2, "USAGE_ERROR")["message"]
    error(entry, 3, "VALIDATION_ERROR")
    error(insufficient, 4, "INSUFFICIENT_FUNDS")
    error(unknown, 5, "ACCOUNT_NOT_FOUND")
    assert snapshot(*cli_session(sqlite_url, *SNAPSHOT)) == before


def test_errors_without_json_are_one_line_and_no_traceback(sqlite_url: str) -> None:
    amount, missing, bad_output, not_found = (
        run_cli(sqlite_url, *args, output="table")
        for args in (
            post("world:USD", "wallet", "12.345"),
            ["ledger", "post", "--from", "a", "--to", "b", "--currency", "USD"],
            ["--output", "xml", "ledger", "accounts"],
            ["ledger", "balance", "nobody"],
        )
    )
    assert (amount.status, amount.stdout) == (3, "")
    assert amount.stderr.startswith("error: INVALID_AMOUNT: ")
    assert amount.stderr.count("\n") == 1
    assert (not_found.status, not_found.stdout) == (5, "")
    assert not_found.stderr.startswith("error: ACCOUNT_NOT_FOUND: no account nobody")
    assert (missing.status, missing.stdout) == (2, "")
    assert "Missing option '--amount'" in missing.stderr
    assert (bad_output.status, bad_output.stdout) == (2, "")
    assert bad_output.stderr.startswith("error: USAGE_ERROR: ")
    for result in (amount, missing, bad_output, not_found):
        assert "Traceback" not in result.stderr


def test_bad_configuration_is_a_config_error_naming_the_key(sqlite_url: str) -> None:
    env = {"LEGATO_REVENUE__CONTENT__WRITER_PERCENT": "75"}
    as_json, as_text = (
        run_cli(sqlite_url, "ledger", "accounts", output=output, **env)
        for output in ("json", "table")
    )
    problem = error(as_json, 10, "CONFIG_ERROR")
    assert problem["details"]["key"].startswith("revenue.content")
    assert "writer_percent" in problem["message"]
    assert (as_text.status, as_text.stdout) == (10, "")
    assert as_text.stderr.startswith("error: CONFIG_ERROR: ")
    assert "writer_percent" in as_text.stderr and "Traceback" not in as_text.stderr


def test_tables_are_plain_text_when_piped(sqlite_url: str) -> None:
    for result in cli_session(
        sqlite_url, ["ledger", "open", "wallet", "-c", "USD"], post("world:USD", "wallet", "12.50")
    ):
        ok(result)
    accounts, balance, csv = cli_many(
        sqlite_url,
        ["--output", "table", "ledger", "accounts"],
        ["--output", "table", "ledger", "balance", "wallet"],
        ["--output", "csv", "ledger", "accounts"],
    )
    for result in (accounts, balance):
        assert result.status == 0, result.stderr
        assert not BOX_DRAWING.search(result.stdout), result.stdout
        assert "\x1b[" not in result.stdout
    assert accounts.stdout.split()[:5] == ["code", "no_overdraft", "hot", "posted", "available"]
    assert "12.50 USD" in accounts.stdout and "1250" not in accounts.stdout
    assert "12.50 USD" in balance.stdout and "available" in balance.stdout
    assert "1250" not in balance.stdout
    assert csv.stdout.splitlines() == [
        "code,currency,no_overdraft,hot,posted_minor,pending_minor,available_minor",
        "wallet,USD,no,no,1250,0,1250",
        "world:USD,USD,no,yes,-1250,0,-1250",
    ]
    assert csv.stderr == "# total: accounts 2, posted USD 0.00 USD\n"


def test_help_is_fast_and_loads_no_database_code() -> None:
    env = cli_env("sqlite:///unused.db")
    command = [str(ROOT / ".venv" / "bin" / "legato-pay")]
    if not (ROOT / ".venv" / "bin" / "legato-pay").exists():
        command = [sys.executable, "-m", "commands.main"]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.monotonic()
    top = subprocess.run([*command, "--help"], capture_output=True, text=True, env=env, timeout=60)
    wall = time.monotonic() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    assert top.returncode == 0, top.stderr
    for group in GROUPS:
        assert group in top.stdout
    assert cpu < 2.0, f"legato-pay --help took {cpu:.2f} s of CPU ({wall:.2f} s wall)"

    # Every group's --help, in one interpreter: all work, and none loads SQLAlchemy.
    script = (
        "import contextlib, io, json, sys\n"
        "import commands.main\n"
        "loaded = {'after import': 'sqlalchemy' in sys.modules}\n"
        f"for group in {GROUPS!r}:\n"
        "    out = io.StringIO()\n"
        "    with contextlib.redirect_stdout(out):\n"
        "        try:\n"
        "            commands.main.run([group, '--help'])\n"
        "        except SystemExit as exit_:\n"
        "            status = exit_.code\n"
        "    loaded[group] = [status, 'Usage' in out.getvalue(), 'sqlalchemy' in sys.modules]\n"
        "print(json.dumps(loaded))\n"
    )
    completed = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=120
    )
    assert completed.returncode == 0, completed.stderr
    loaded = json.loads(completed.stdout)
    assert loaded.pop("after import") is False
    assert loaded == {group: [0, True, False] for group in GROUPS}

    probe = subprocess.run(
        [sys.executable, "-c", "import commands.main, sys; print('sqlalchemy' in sys.modules)"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert probe.stdout.strip() == "False", probe.stderr


def test_hostile_ledger_input_answers_documented_errors(database_url: str, tmp_path: Path) -> None:
    """Item by item what once answered INTERNAL_ERROR (or the wrong thing): each now answers its
    documented error, with no SQL in the message, and nothing is recorded."""
    batches = {
        "exponent": '{"from": "world:USD", "to": "ops:a", "amount": 1e3, "currency": "USD"}\n',
        "pending": json.dumps(
            {"from": "world:USD", "to": "ops:a", "amount": "1.00", "currency": "USD",
             "pending": "false"}
        ),
        "reason": json.dumps(
            {"from": "world:USD", "to": "ops:a", "amount": "1.00", "currency": "USD",
             "reason": {"x": 1}}
        ),
    }  # fmt: skip
    paths = {}
    for name, text in batches.items():
        paths[name] = tmp_path / f"{name}.jsonl"
        paths[name].write_text(text)
    paths["binary"] = tmp_path / "binary.jsonl"
    paths["binary"].write_bytes(b"\xff\xfe\x00garbage")
    huge = str(2**63)
    refusals = [
        (["ledger", "open", "user:dave:coins:paid", "-c", "USD"], 3, "RESERVED_ACCOUNT"),
        (["ledger", "open", "world:EUR", "-c", "USD"], 3, "RESERVED_ACCOUNT"),
        (["ledger", "open", "escrow:deal", "-c", "USD"], 3, "RESERVED_ACCOUNT"),
        (["ledger", "open", "wallet\n", "-c", "USD"], 3, "INVALID_ACCOUNT_CODE"),
        (["ledger", "entry", huge], 3, "VALIDATION_ERROR"),
        (["ledger", "entry", "\u0661\u0662"], 3, "VALIDATION_ERROR"),  # Arabic-Indic digits
        (["ledger", "entry", "1\n"], 3, "VALIDATION_ERROR"),
        (["ledger", "post-pending", huge], 3, "VALIDATION_ERROR"),
        (["ledger", "void", huge, "--yes"], 3, "VALIDATION_ERROR"),
        (["ledger", "reverse", huge, "--reason", "x", "--yes"], 3, "VALIDATION_ERROR"),
        (["ledger", "accounts", "--limit", "9" * 30], 3, "VALIDATION_ERROR"),
        (["ledger", "accounts", "--limit", "0"], 3, "VALIDATION_ERROR"),
        (["ledger", "history", "ops:a", "--limit", huge], 3, "VALIDATION_ERROR"),
        (["ledger", "history", "ops:a", "--cursor", "OTIyMzM3MjAzNjg1NDc3NTgwODox"], 3,
         "VALIDATION_ERROR"),  # a cursor naming an id >= 2**63
        (post("world:USD", "ops:a", "1.00", "--pending", "--expires-in", "1000000000000"), 3,
         "VALIDATION_ERROR"),
        (["ledger", "balance", "ops:a", "--as-of", "0001-01-01T00:00:00+14:00"], 3,
         "INVALID_TIME"),
        (["ledger", "history", "ops:a", "--from", "2026-02-01", "--to", "2026-01-01"], 3,
         "INVALID_TIME"),
        (["--actor", "a" * 201, *post("world:USD", "ops:a", "1.00")], 3, "VALIDATION_ERROR"),
        (["ledger", "post-batch", str(paths["exponent"])], 3, "INVALID_AMOUNT"),
        (["ledger", "post-batch", str(paths["pending"])], 3, "VALIDATION_ERROR"),
        (["ledger", "post-batch", str(paths["reason"])], 3, "VALIDATION_ERROR"),
        (["ledger", "post-batch", str(paths["binary"])], 3, "VALIDATION_ERROR"),
        (["ledger", "reverse", "1", "--reason", "no terminal, no --yes"], 2, "USAGE_ERROR"),
        (["ledger", "void", "2"], 2, "USAGE_ERROR"),
    ]  # fmt: skip
    results = cli_session(
        database_url,
        ["ledger", "open", "ops:a", "-c", "USD"],
        post("world:USD", "ops:a", "5.00"),
        post("world:USD", "ops:a", "1.00", "--pending"),
        *SNAPSHOT,
        *(args for args, _, _ in refusals),
        *SNAPSHOT,
    )
    for result in results[:3]:
        ok(result)
    before, after = snapshot(*results[3:5]), snapshot(*results[-2:])
    assert after == before
    for result, (args, status, code) in zip(results[5:-2], refusals, strict=True):
        problem = error(result, status, code)
        for sql in ("SELECT", "INSERT", "UPDATE", "[SQL", "Traceback"):
            assert sql not in problem["message"], (args, problem)
    assert len(before[0]["accounts"]) == 2  # ops:a and world:USD: no refused code was opened


def test_verify_exits_1_on_reserved_accounts_of_another_shape(database_url: str) -> None:
    from legato_pay import ledger
    from legato_pay.context import AppContext

    app = AppContext.create(database_url=database_url, actor="test")
    app.run(lambda s: ledger.open_account(s, "world:EUR", "USD", hot=True))  # an old bad row
    verify, table = cli_many(
        database_url, ["ledger", "verify"], ["--output", "table", "ledger", "verify"]
    )
    assert verify.status == 1
    assert [p["code"] for p in verify.json["problems"]] == ["RESERVED_ACCOUNT"]
    assert table.status == 1 and "RESERVED_ACCOUNT" in table.stdout


def test_history_pages_in_every_format(sqlite_url: str) -> None:
    setup = cli_session(
        sqlite_url,
        ["ledger", "open", "ops:a", "-c", "USD"],
        *(post("world:USD", "ops:a", f"{n}.00") for n in range(1, 4)),
    )
    for result in setup:
        ok(result)
    first_json, first_csv, first_table = (
        run_cli(sqlite_url, "ledger", "history", "ops:a", "--limit", "2", output=output)
        for output in ("json", "csv", "table")
    )
    cursor = ok(first_json)["next_cursor"]
    assert cursor and [e["amount_minor"] for e in first_json.json["entries"]] == [300, 200]
    assert first_csv.status == 0
    assert first_csv.stderr == f"# next_cursor={cursor}\n"
    header, *rows = first_csv.stdout.splitlines()
    assert header.startswith("entry_id,kind,side,currency,amount_minor,")
    assert len(rows) == 2 and cursor not in first_csv.stdout
    assert first_table.status == 0 and f"next_cursor={cursor}" in first_table.stdout
    assert "3.00 USD" in first_table.stdout and " 300 " not in first_table.stdout
    rest = run_cli(sqlite_url, "ledger", "history", "ops:a", "--cursor", cursor, output="csv")
    assert rest.status == 0 and rest.stderr == ""  # the last page: no cursor
    assert len(rest.stdout.splitlines()) == 2
    since = run_cli(sqlite_url, "ledger", "history", "ops:a", "--from", "2000-01-01", "--to",
                    "2001-01-01")  # fmt: skip
    assert ok(since)["entries"] == []
