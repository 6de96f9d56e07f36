"""``legato-pay demo``: one JSON document or tables, each run reporting its own day, and what
is cumulative said as such."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from commands import output
from commands.main import run
from legato_pay.demo import day
from tests.cli_runner import run_cli


def money_objects(paid: dict[str, Any]) -> bool:
    return all(
        set(value) == {"amount", "currency", "display"} and value["currency"] == currency
        for currency, value in paid.items()
    )


def bare_money_keys(document: Any, path: str = "") -> list[str]:
    """Keys holding money as a bare integer under a name that does not say minor units."""
    found = []
    if isinstance(document, dict):
        for key, value in document.items():
            money_named = key in {"value", "amount", "writer_share", "platform_share"}
            in_money_object = key == "amount" and "display" in document
            if money_named and isinstance(value, int) and not in_money_object:
                found.append(f"{path}.{key}")
            found += bare_money_keys(value, f"{path}.{key}")
    elif isinstance(document, list):
        for index, item in enumerate(document):
            found += bare_money_keys(item, f"{path}[{index}]")
    return found


def test_each_run_reports_its_own_day_and_says_what_is_cumulative(database_url: str) -> None:
    first = run_cli(database_url, "demo", "--readers", "5", timeout=600)
    assert first.status == 0, first.stderr
    second = run_cli(database_url, "demo", "--readers", "5", timeout=600)
    assert second.status == 0, second.stderr
    runs = [first.json, second.json]  # one JSON document each (json.loads would refuse two)
    for document in runs:
        summary, revenue = document["summary"], document["content_revenue"]
        # The revenue report covers this run's window and holds exactly this run's unlocks/tips.
        assert (revenue["since"], revenue["until"]) == (
            summary["started_at"],
            summary["finished_at"],
        )
        assert revenue["totals"]["unlocks"] == summary["counts"].get("unlocks", 0)
        assert revenue["totals"]["tips"] == summary["counts"].get("tips", 0)
        assert money_objects(summary["paid"]) and set(summary["paid"]) == {"USD", "NGN"}
        assert bare_money_keys(document) == []
        assert document["cumulative"]["since"] == "the database began"
        assert document["cumulative"]["ledger"]["ok"] is True
    one, two = runs
    assert two["summary"]["run_id"] != one["summary"]["run_id"]
    assert two["summary"]["started_at"] >= one["summary"]["finished_at"]
    # The same seed buys the same packages: each run's sales are its own, not a running sum.
    assert two["summary"]["paid"] == one["summary"]["paid"]
    assert two["content_revenue"]["rows"] != [] or two["summary"]["counts"].get("unlocks", 0) == 0
    # Cumulative figures grow across runs: the whole ledger, the readers' balances.
    assert two["cumulative"]["ledger"]["entries"] > one["cumulative"]["ledger"]["entries"]
    top_one = {row["user"]: row["total"] for row in one["cumulative"]["top_balances"]}
    top_two = {row["user"]: row["total"] for row in two["cumulative"]["top_balances"]}
    assert sum(top_two.values()) > sum(top_one.values())
    assert_pool_run(database_url, one["summary"]["pool_run"], two["summary"]["pool_run"])


def assert_pool_run(database_url: str, first: dict[str, Any], second: dict[str, Any]) -> None:
    """The day ends with the previous month's pool run; the second demo replays it."""
    today = datetime.now(UTC).replace(day=1)
    assert first["period"] == (today - timedelta(days=1)).strftime("%Y-%m")
    assert (first["model"], first["stream"], first["replayed"]) == (
        "pro-rata",
        "subscription",
        False,
    )
    assert second["replayed"] is True
    assert {**second, "replayed": False} == first  # the same run, nothing paid twice
    (pool,) = first["pools"]  # the demo's subscribers pay in USD
    assert pool["currency"] == "USD" and pool["pool"]["amount"] > 0
    assert pool["carried"]["amount"] == 0  # the demo's writers were read: nothing carried
    shares = pool["writers_share"]["amount"] + pool["platform_share"]["amount"]
    assert shares == pool["pool"]["amount"]
    lines = run_cli(database_url, "revenue", "lines", str(first["run_id"])).json["lines"]
    assert len(lines) == first["line_count"] == pool["lines"] > 0
    assert sum(line["amount_minor"] for line in lines) == pool["writers_share"]["amount"]
    paid = sorted((line["amount_minor"] for line in lines), reverse=True)
    assert [row["amount"]["amount"] for row in first["top_writers"]] == paid[:5]


def test_tables_show_this_run_then_the_cumulative_figures(database_url: str) -> None:
    shown = run_cli(database_url, "demo", "--readers", "4", output="table", timeout=600)
    assert shown.status == 0, shown.stderr
    out = shown.stdout
    headings = [
        "== This run (",
        "What happened this run",
        "Coin sales this run",
        "Content revenue this run",
        "Pool run of the previous month, ",
        "new: the demo filled ",
        "Subscription pool ",
        "Top writers paid from the ",
        "== Cumulative (since the database began) ==",
        "Top reader balances, all runs (coins, top 10)",
        "ledger verify: ok (the whole ledger)",
    ]
    positions = [out.index(heading) for heading in headings]
    assert positions == sorted(positions)
    assert "{'" not in out and "minor" not in out  # no Python dict, no minor-unit figures
    sales = out[out.index("Coin sales this run") : out.index("failed payment")]
    assert re.search(r"^USD +\d[\d,]*\.\d\d USD$", sales, re.MULTILINE), sales
    assert all(
        line.split()[-1] in {"USD", "NGN", "paid", "gateway"}
        for line in sales.splitlines()[1:]
        if line.strip()
    )
    revenue = out[out.index("Content revenue this run") : out.index("ledger sealed")]
    assert re.search(r"^total: value \S+ USD, to writer \S+ USD, platform \S+ USD$", revenue, re.M)
    pool = out[out.index("Subscription pool ") : out.index("Top writers paid")]
    assert re.search(r"^USD +[\d,]+\.\d\d USD +[\d,]+\.\d\d USD .* \d+$", pool, re.M), pool
    assert max(len(line) for line in out.splitlines()) <= 80  # an 80-column terminal


def test_csv_is_refused_before_the_day_runs(database_url: str) -> None:
    refused = run_cli(database_url, "demo", "--readers", "4", output="csv")
    assert refused.status == 2 and refused.stdout == ""
    assert "--output table or json" in refused.stderr
    users = run_cli(database_url, "users", "list")
    assert users.status == 0 and users.json["users"] == []  # nothing ran


def test_a_failed_ledger_check_exits_1_after_the_report(
    sqlite_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    real = day.run_demo_day

    def broken_day(*args: Any, **kwargs: Any) -> day.DemoSummary:
        summary = real(*args, **kwargs)
        summary.verify = {**summary.verify, "ok": False, "problem_count": 1}
        return summary

    monkeypatch.setattr(day, "run_demo_day", broken_day)
    monkeypatch.setattr(output, "_state", output.state())  # run() replaces the global state
    with pytest.raises(SystemExit) as exit_:
        run(["--db", sqlite_url, "--output", "json", "demo", "--readers", "3"])
    assert exit_.value.code == 1
    captured = capsys.readouterr()
    document = json.loads(captured.out)
    assert document["cumulative"]["ledger"]["ok"] is False
    assert "ledger verify found problems" in captured.err
