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
    assert [(u["id"], u["kind"]) for u in listed.json] == [
        ("i1", "investor"),
        ("r1", "reader"),
        ("w1", "writer"),
    ]
    assert [u["id"] for u in run_cli(database_url, "users", "list", "--kind", "reader").json] == [
        "r1"
    ]
    assert run_cli(database_url, "users", "list", "--kind", "admin").status == 3

    shown = run_cli(database_url, "users", "show", "r1")
    assert shown.status == 0 and shown.json["name"] == "Reader One"
    missing = run_cli(database_url, "users", "show", "ghost")
    assert missing.status == 5 and missing.error["code"] == "USER_NOT_FOUND"
