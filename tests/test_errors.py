"""The error contract: codes and exit statuses as documented, and the JSON error document.

The tree in ``legato_pay/errors.py``'s docstring is the contract scripts rely on; these tests
read it and hold every class to it, then lock the shape a failing command prints.
"""

from __future__ import annotations

import inspect
import json
import re
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from legato_pay import errors
from legato_pay.errors import EXIT_STATUSES, LegatoError
from tests.cli_runner import run_cli

_TREE_LINE = re.compile(
    r"^(?P<indent>[\s│├└─]*)(?P<name>[A-Z]\w+)\s+(?P<status>\d+)\s+(?P<code>[A-Z_]+)$"
)


def documented_tree() -> list[tuple[str, int, str, str | None]]:
    """(class name, exit status, code, parent name) for each line of the docstring's tree."""
    rows: list[tuple[str, int, str, str | None]] = []
    stack: list[tuple[int, str]] = []  # (column of the name, name)
    for line in (errors.__doc__ or "").splitlines():
        match = _TREE_LINE.match(line.strip("\n").removeprefix("    "))
        if not match:
            continue
        column = len(match.group("indent"))
        while stack and stack[-1][0] >= column:
            stack.pop()
        parent = stack[-1][1] if stack else None
        rows.append((match.group("name"), int(match.group("status")), match.group("code"), parent))
        stack.append((column, match.group("name")))
    return rows


TREE = documented_tree()


def test_the_docstring_documents_a_full_tree() -> None:
    names = [name for name, *_ in TREE]
    assert names[0] == "LegatoError"
    assert len(names) == len(set(names)) > 20
    defined = {
        name
        for name, value in vars(errors).items()
        if inspect.isclass(value) and issubclass(value, LegatoError)
    }
    assert defined == set(names), "every error class is documented, and only those"


@pytest.mark.parametrize(("name", "status", "code", "parent"), TREE, ids=[row[0] for row in TREE])
def test_each_class_keeps_its_documented_code_status_and_place(
    name: str, status: int, code: str, parent: str | None
) -> None:
    cls = getattr(errors, name)
    assert cls.code == code
    assert cls.exit_status == status
    if parent is None:
        assert cls.__bases__ == (Exception,)
    else:
        assert cls.__bases__ == (getattr(errors, parent),)
    error = cls("something went wrong", details={"k": 1})
    assert isinstance(error, LegatoError)
    assert (error.code, error.exit_status, str(error)) == (code, status, "something went wrong")
    assert error.as_dict() == {
        "code": code,
        "message": "something went wrong",
        "details": {"k": 1},
    }


def test_exit_statuses_follow_the_design() -> None:
    # DESIGN.md section 6: the exit status tells the class of failure, the same code everywhere.
    assert errors.InvalidInput.exit_status == 3
    assert errors.InsufficientFunds.exit_status == 4
    assert errors.NotFound.exit_status == 5
    assert errors.Conflict.exit_status == 6
    assert errors.GatewayError.exit_status == 7
    assert errors.Unauthorized.exit_status == 8
    assert errors.Busy.exit_status == 9
    assert {status for _, status, _, _ in TREE} | {0} == set(EXIT_STATUSES)
    assert all(EXIT_STATUSES[status] for status in EXIT_STATUSES)


def test_a_specific_code_keeps_the_class_exit_status() -> None:
    error = errors.InvalidInput("bad code", code="INVALID_ACCOUNT_CODE")
    assert (error.code, error.exit_status) == ("INVALID_ACCOUNT_CODE", 3)
    assert errors.InvalidInput.code == "VALIDATION_ERROR"  # the class default is untouched
    assert errors.NotFound("x").details == {}


def test_internal_retry_signal_is_never_a_user_error() -> None:
    assert not issubclass(errors.RetryableConflict, LegatoError)


# --- the JSON error document -----------------------------------------------------------------


@pytest.fixture(scope="module")
def cli_database(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A SQLite database with an empty no-overdraft wallet and a funded one."""
    from legato_pay import ledger
    from legato_pay.context import AppContext

    url = f"sqlite:///{tmp_path_factory.mktemp('cli') / 'legato.db'}"
    app = AppContext.create(database_url=url, actor="setup")

    def setup(session: Any) -> None:
        ledger.open_account(session, "empty", "USD", no_overdraft=True)
        ledger.open_account(session, "funded", "USD", no_overdraft=True)
        ledger.post_entries(
            session, [ledger.transfer("world:USD", "funded", 1250, "USD")], actor="setup"
        )

    app.run(setup)
    return url


#: (command line, extra environment, expected code, expected status, expected details subset)
FAILURES: list[tuple[list[str], dict[str, str], str, int, dict[str, Any]]] = [
    (["ledger", "balance", "nobody"], {}, "ACCOUNT_NOT_FOUND", 5, {"account": "nobody"}),
    (
        [
            "ledger",
            "post",
            "--from",
            "world:USD",
            "--to",
            "empty",
            "--amount",
            "12.345",
            "-c",
            "USD",
        ],
        {},
        "INVALID_AMOUNT",
        3,
        {"value": "12.345", "currency": "USD"},
    ),
    (
        ["ledger", "post", "--from", "empty", "--to", "funded", "--amount", "1.00", "-c", "USD"],
        {},
        "INSUFFICIENT_FUNDS",
        4,
        {"account": "empty", "available": 0, "requested": 100},
    ),
    (["ledger", "open", "funded", "-c", "USD"], {}, "ALREADY_EXISTS", 6, {"code": "funded"}),
    (["ledger", "no-such-command"], {}, "USAGE_ERROR", 2, {}),
    (["ledger", "balance", "funded"], {"LEGATO_BOGUS": "1"}, "CONFIG_ERROR", 10, {"key": "bogus"}),
]


#: Further runs: a success in JSON mode, and a failure in table mode.
OTHER_RUNS: list[tuple[list[str], dict[str, str]]] = [
    (["ledger", "balance", "funded"], {}),
    (["ledger", "balance", "nobody"], {"output": "table"}),
]


@pytest.fixture(scope="module")
def cli_results(cli_database: str) -> list[Any]:
    """Every command above, run as real subprocesses, a few at a time (they are slow to start)."""
    runs = [(args, env) for args, env, *_ in FAILURES] + OTHER_RUNS
    with ThreadPoolExecutor(max_workers=4) as pool:
        return list(pool.map(lambda run: run_cli(cli_database, *run[0], **run[1]), runs))


def test_failures_print_one_json_error_document(cli_results: list[Any]) -> None:
    for (args, _, code, status, details), result in zip(FAILURES, cli_results, strict=False):
        label = " ".join(args)
        assert result.status == status, (label, result.stderr)
        assert result.stdout == "", label  # nothing on stdout when a command fails
        document = json.loads(result.stderr)  # stderr is exactly one JSON document
        assert list(document) == ["error"], label
        error = document["error"]
        assert list(error) == ["code", "message", "details"], label
        assert error["code"] == code, label
        assert isinstance(error["message"], str) and error["message"], label
        assert isinstance(error["details"], dict), label
        assert details.items() <= error["details"].items(), (label, error["details"])


def test_success_prints_one_json_document_with_integer_money(cli_results: list[Any]) -> None:
    result = cli_results[len(FAILURES)]
    assert (result.status, result.stderr) == (0, "")
    assert result.json == {
        "account": "funded",
        "currency": "USD",
        "posted_minor": 1250,
        "pending_minor": 0,
        "available_minor": 1250,
    }


def test_errors_in_table_mode_are_one_readable_line(cli_results: list[Any]) -> None:
    result = cli_results[len(FAILURES) + 1]
    assert (result.status, result.stdout) == (5, "")
    assert result.stderr == "error: ACCOUNT_NOT_FOUND: no account nobody (account=nobody)\n"
