"""Every ``ledger`` command driven with generated hostile values for each argument and option:
each answer is a documented status (never 1, ``INTERNAL_ERROR``), an error is one JSON
document on stderr with no SQL or traceback, and ``ledger verify`` stays ok.

The command lines run as one session in one process (``tests.cli.test_cli_ledger``), so NUL
characters, which no real argv can carry, reach the commands too.
"""

from __future__ import annotations

import json
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.cli.test_cli_ledger import cli_session

#: Statuses a ledger command may answer (0 ok, then the documented errors).
DOCUMENTED = {0, 2, 3, 4, 5, 6}

HOSTILE = st.one_of(
    st.sampled_from(
        [
            "",
            " ",
            "0",
            "-1",
            "1e3",
            "1.005",
            "NaN",
            str(2**63),
            str(2**64),
            "9" * 40,
            "\u0661\u0662",  # Arabic-Indic digits
            "\uff11",  # a fullwidth digit
            "1\n",
            "wallet\n",
            "a\x00b",
            "x" * 300,
            "user:dave:coins:paid",
            "world:EUR",
            "world:USD",
            "ops:a",
            "0001-01-01T00:00:00+14:00",
            "9999-12-31T23:59:59-14:00",
            "2026-01-01",
            "'; DROP TABLE ledger_legs; --",
            "OTIyMzM3MjAzNjg1NDc3NTgwODox",
        ]
    ),
    st.text(max_size=30),
    st.integers(min_value=-(2**70), max_value=2**70).map(str),
)


def _command(draw: Any) -> list[str]:
    v = draw
    return draw(
        st.sampled_from(
            [
                ["ledger", "open", v(HOSTILE), "-c", v(HOSTILE)],
                ["ledger", "open", v(HOSTILE), "-c", "USD", "--normal", v(HOSTILE)],
                ["ledger", "post", "--from", v(HOSTILE), "--to", v(HOSTILE), "--amount",
                 v(HOSTILE), "-c", v(HOSTILE)],
                ["ledger", "post", "--from", "world:USD", "--to", "ops:a", "--amount", v(HOSTILE),
                 "-c", "USD", "--key", v(HOSTILE), "--reason", v(HOSTILE)],
                ["ledger", "post", "--from", "world:USD", "--to", "ops:a", "--amount", "1",
                 "-c", "USD", "--pending", "--expires-in", v(HOSTILE)],
                ["ledger", "post", "--from", "world:USD", "--to", "ops:a", "--amount", "1",
                 "-c", "USD", "--effective-at", v(HOSTILE)],
                ["ledger", "entry", v(HOSTILE)],
                ["ledger", "post-pending", v(HOSTILE), "--amount", v(HOSTILE)],
                ["ledger", "void", v(HOSTILE), "--yes"],
                ["ledger", "reverse", v(HOSTILE), "--reason", v(HOSTILE), "--yes"],
                ["ledger", "balance", v(HOSTILE), "--as-of", v(HOSTILE)],
                ["ledger", "accounts", "--prefix", v(HOSTILE), "--limit", v(HOSTILE)],
                ["ledger", "accounts", "--cursor", v(HOSTILE)],
                ["ledger", "history", v(HOSTILE), "--limit", v(HOSTILE), "--cursor",
                 v(HOSTILE)],
                ["ledger", "history", "ops:a", "--from", v(HOSTILE), "--to", v(HOSTILE)],
                ["--actor", v(HOSTILE), "ledger", "post", "--from", "world:USD", "--to",
                 "ops:a", "--amount", "1", "-c", "USD"],
            ]
        )
    )  # fmt: skip


@st.composite
def command_lines(draw: Any) -> list[list[str]]:
    return [_command(draw) for _ in range(draw(st.integers(min_value=10, max_value=25)))]


@settings(
    max_examples=4,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(commands=command_lines())
def test_hostile_values_answer_documented_statuses(database_url: str, commands: Any) -> None:
    setup = [["ledger", "open", "ops:a", "-c", "USD"], ["ledger", "seal"]]
    results = cli_session(database_url, *setup, *commands, ["ledger", "verify"])
    for args, result in zip(commands, results[len(setup) : -1], strict=True):
        assert result.status in DOCUMENTED, (args, result.status, result.stderr)
        if result.status:
            assert result.stdout == "", args
            error = json.loads(result.stderr)["error"]  # one JSON document
            assert error["code"] != "INTERNAL_ERROR", (args, error)
            for leak in ("SELECT", "INSERT", "[SQL", "Traceback", "psycopg", "sqlite3"):
                assert leak not in error["message"], (args, error)
        else:
            json.loads(result.stdout)
    verify = results[-1]
    assert verify.status == 0, verify.stdout
    assert verify.json["ok"] is True
