"""Users: readers, writers and investors, from the library and the command line."""

from __future__ import annotations

from typing import Any

import pytest

from legato_pay.errors import AlreadyExists, InvalidInput, NotFound
from legato_pay.readers.users import add_user, get_user, list_users
from tests.cli_runner import run_cli


def test_add_get_and_list_users(app: Any) -> None:
    reader = app.run(lambda s: add_user(s, "r1", email="r1@example.com"))
    assert (reader.id, reader.kind, reader.email, reader.name) == (
        "r1",
        "reader",
        "r1@example.com",
        None,
    )
    app.run(lambda s: add_user(s, "w1", kind="writer", name="Ada"))
    app.run(lambda s: add_user(s, "i1", kind="investor"))

    shown = app.run(lambda s: get_user(s, "w1"), write=False)
    assert (shown.kind, shown.name) == ("writer", "Ada")
    everyone = app.run(lambda s: list_users(s), write=False)
    assert [u.id for u in everyone] == ["i1", "r1", "w1"]
    writers = app.run(lambda s: list_users(s, kind="writer"), write=False)
    assert [u.id for u in writers] == ["w1"]


def test_refusals(app: Any) -> None:
    app.run(lambda s: add_user(s, "r1"))
    with pytest.raises(AlreadyExists):
        app.run(lambda s: add_user(s, "r1", kind="writer"))
    with pytest.raises(InvalidInput):
        app.run(lambda s: add_user(s, "bad id!"))
    with pytest.raises(InvalidInput):
        app.run(lambda s: add_user(s, "x1", kind="admin"))
    with pytest.raises(NotFound) as missing:
        app.run(lambda s: get_user(s, "ghost"), write=False)
    assert missing.value.code == "USER_NOT_FOUND"
    assert [u.id for u in app.run(lambda s: list_users(s), write=False)] == ["r1"]
    assert app.run(lambda s: get_user(s, "r1"), write=False).kind == "reader"


def test_cli_users(database_url: str) -> None:
    added = run_cli(database_url, "users", "add", "w1", "--writer", "--email", "w@example.com")
    assert added.status == 0, added.stderr
    assert {k: added.json[k] for k in ("id", "kind", "email", "name")} == {
        "id": "w1",
        "kind": "writer",
        "email": "w@example.com",
        "name": None,
    }
    assert run_cli(database_url, "users", "add", "r1", "--name", "Reader One").status == 0
    assert run_cli(database_url, "users", "add", "i1", "--investor").json["kind"] == "investor"

    duplicate = run_cli(database_url, "users", "add", "w1")
    assert duplicate.status == 6 and duplicate.error["code"] == "ALREADY_EXISTS"
    both = run_cli(database_url, "users", "add", "x1", "--writer", "--investor")
    assert both.status == 2 and both.error["code"] == "USAGE_ERROR"
    bad = run_cli(database_url, "users", "add", "no spaces")
    assert bad.status == 3

    listed = run_cli(database_url, "users", "list")
    assert [(u["id"], u["kind"]) for u in listed.json["users"]] == [
        ("i1", "investor"),
        ("r1", "reader"),
        ("w1", "writer"),
    ]
    assert listed.json["next_cursor"] is None
    readers = run_cli(database_url, "users", "list", "--kind", "reader").json["users"]
    assert [u["id"] for u in readers] == ["r1"]
    assert run_cli(database_url, "users", "list", "--kind", "admin").status == 3
    page = run_cli(database_url, "users", "list", "--limit", "2")
    assert [u["id"] for u in page.json["users"]] == ["i1", "r1"]
    assert page.json["next_cursor"] == "r1"
    rest = run_cli(database_url, "users", "list", "--limit", "2", "--cursor", "r1")
    assert [u["id"] for u in rest.json["users"]] == ["w1"] and rest.json["next_cursor"] is None
    csv_page = run_cli(database_url, "users", "list", "--limit", "2", output="csv")
    assert len(csv_page.stdout.splitlines()) == 3 and "# next_cursor=r1" in csv_page.stderr

    shown = run_cli(database_url, "users", "show", "r1")
    assert shown.status == 0 and shown.json["name"] == "Reader One"
    missing = run_cli(database_url, "users", "show", "ghost")
    assert missing.status == 5 and missing.error["code"] == "USER_NOT_FOUND"


@pytest.mark.parametrize(
    "bad", ["carol\n", "carol\r", " carol", "carol\x00", "cärol", "ｃarol", "c" * 101, ""]
)
def test_ids_are_whole_ascii_strings(app: Any, bad: str) -> None:
    with pytest.raises(InvalidInput):
        app.run(lambda s: add_user(s, bad))
    with pytest.raises(InvalidInput):
        app.run(lambda s: get_user(s, bad), write=False)
    assert app.run(lambda s: list_users(s), write=False) == []


@pytest.mark.parametrize(
    ("field", "value", "code"),
    [
        ("email", "no-at-sign", "INVALID_EMAIL"),
        ("email", "a@b@c", "INVALID_EMAIL"),
        ("email", "a b@example.com", "INVALID_EMAIL"),
        ("email", "a@example.com\n", "INVALID_EMAIL"),
        ("email", "a@" + "b" * 300, "INVALID_EMAIL"),
        ("name", "n" * 201, "VALIDATION_ERROR"),
        ("name", "Ada\x00", "VALIDATION_ERROR"),
        ("name", "Ada\nLovelace", "VALIDATION_ERROR"),
    ],
)
def test_email_and_name_are_bounded_and_printable(
    app: Any, field: str, value: str, code: str
) -> None:
    with pytest.raises(InvalidInput) as raised:
        app.run(lambda s: add_user(s, "r1", **{field: value}))
    assert raised.value.code == code
    assert app.run(lambda s: list_users(s), write=False) == []
    fine = app.run(lambda s: add_user(s, "r1", email="ada@example.com", name="Ada Lovelace ✓"))
    assert fine.name == "Ada Lovelace ✓"


def test_cli_refuses_a_trailing_newline_and_huge_limits(database_url: str) -> None:
    for args in (["users", "add", "carol\n"], ["users", "show", "carol\n"]):
        result = run_cli(database_url, *args)
        assert (result.status, result.error["code"]) == (3, "VALIDATION_ERROR"), args
    too_big = run_cli(database_url, "users", "list", "--limit", "99999999999999999999999")
    assert (too_big.status, too_big.error["code"]) == (3, "VALIDATION_ERROR")
    long_name = run_cli(database_url, "users", "add", "r1", "--name", "n" * 5000)
    assert long_name.status == 3
    assert run_cli(database_url, "users", "list").json["users"] == []
