"""The content catalogue: defaults from configuration, validation, and the content commands."""

from __future__ import annotations

from typing import Any

import pytest

from legato_pay.errors import AlreadyExists, InvalidInput, LegatoError, NotFound
from legato_pay.readers.content import add_content, get_content, list_content, update_content
from tests.cli_runner import run_cli
from tests.factories import add_item, make_users, snapshot


@pytest.fixture
def people(app: Any) -> Any:
    make_users(app, "w1", "w2", kind="writer")
    make_users(app, "r1")
    return app


def test_default_prices_come_from_configuration(people: Any) -> None:
    assert people.settings.content.default_prices == {"chapter": 10, "story": 50, "exclusive": 25}
    assert add_item(people, "c1", content_type="chapter").price_coins == 10
    assert add_item(people, "s1", content_type="story").price_coins == 50
    assert add_item(people, "x1", content_type="EXCLUSIVE").price_coins == 25
    assert add_item(people, "x1", content_type="exclusive").type == "exclusive"


def test_explicit_price_free_content_and_tier(people: Any) -> None:
    item = add_item(people, "c1", price="7", tier="Premium")
    assert (item.price_coins, item.tier, item.free) == (7, "premium", False)
    free = add_item(people, "c2", price=0)
    assert free.free and free.price_coins == 0
    assert people.run(lambda s: get_content(s, "c1"), write=False) == item


def test_list_filters_by_writer(people: Any) -> None:
    add_item(people, "b", writer="w1")
    add_item(people, "a", writer="w2")
    add_item(people, "c", writer="w1")
    every = people.run(lambda s: list_content(s), write=False)
    assert [item.id for item in every] == ["a", "b", "c"]
    mine = people.run(lambda s: list_content(s, writer_id="w1"), write=False)
    assert [item.id for item in mine] == ["b", "c"]
    with pytest.raises(NotFound):
        people.run(lambda s: list_content(s, writer_id="ghost"), write=False)


def test_adding_again_is_a_no_op_but_a_different_price_is_refused(people: Any) -> None:
    def add(price: int) -> tuple[Any, bool]:
        return people.run(  # type: ignore[no-any-return]
            lambda s: add_content(
                s, people.settings, "c1", writer_id="w1", content_type="chapter", price=price
            )
        )

    first, created = add(12)
    again, created_again = add(12)
    assert created and not created_again and again == first
    with pytest.raises(AlreadyExists):
        add(13)
    assert people.run(lambda s: get_content(s, "c1"), write=False).price_coins == 12


@pytest.mark.parametrize(
    ("changes", "error", "code"),
    [
        ({"writer_id": "ghost"}, NotFound, "USER_NOT_FOUND"),
        ({"writer_id": "r1"}, InvalidInput, "NOT_A_WRITER"),
        ({"content_type": "poem"}, InvalidInput, "INVALID_CONTENT_TYPE"),
        ({"price": "-1"}, InvalidInput, "INVALID_AMOUNT"),
        ({"price": "1.5"}, InvalidInput, "INVALID_AMOUNT"),
        ({"price": "ten"}, InvalidInput, "INVALID_AMOUNT"),
        ({"tier": "gold"}, InvalidInput, "UNKNOWN_TIER"),
        ({"content_id": "bad id!"}, InvalidInput, "INVALID_CONTENT_ID"),
    ],
)
def test_bad_content_is_refused_and_changes_nothing(
    people: Any, changes: dict[str, Any], error: type[LegatoError], code: str
) -> None:
    before = snapshot(people)
    arguments: dict[str, Any] = {
        "content_id": "c1",
        "writer_id": "w1",
        "content_type": "chapter",
        "price": None,
        "tier": None,
        **changes,
    }
    content_id = arguments.pop("content_id")
    with pytest.raises(error) as raised:
        people.run(lambda s: add_content(s, people.settings, content_id, **arguments))
    assert raised.value.code == code
    assert snapshot(people) == before


def test_content_commands_end_to_end(people: Any) -> None:
    url = people.database_url
    added = run_cli(url, "content", "add", "ch-1", "--writer", "w1", "--type", "chapter")
    assert added.status == 0, added.stderr
    assert added.json["id"] == "ch-1"
    assert (added.json["price"], added.json["free"], added.json["created"]) == (10, False, True)
    tiered = run_cli(
        url,
        "content",
        "add",
        "ex-1",
        "--writer",
        "w2",
        "--type",
        "exclusive",
        "--tier",
        "vip",
        "--title",
        "Bonus chapter",
        "--price",
        "0",
    )
    assert tiered.status == 0, tiered.stderr
    assert tiered.json == {
        **tiered.json,
        "writer": "w2",
        "type": "exclusive",
        "price": 0,
        "free": True,
        "tier": "vip",
        "title": "Bonus chapter",
    }
    listed = run_cli(url, "content", "list")
    assert [item["id"] for item in listed.json["content"]] == ["ch-1", "ex-1"]
    only_w2 = run_cli(url, "content", "list", "--writer", "w2")
    assert [item["id"] for item in only_w2.json["content"]] == ["ex-1"]
    page = run_cli(url, "content", "list", "--limit", "1")
    assert [i["id"] for i in page.json["content"]] == ["ch-1"] and page.json["next_cursor"]
    rest = run_cli(url, "content", "list", "--cursor", page.json["next_cursor"])
    assert [i["id"] for i in rest.json["content"]] == ["ex-1"]
    shown = run_cli(url, "content", "show", "ex-1")
    assert shown.status == 0 and shown.json["title"] == "Bonus chapter"
    table = run_cli(url, "content", "list", output="table")
    assert table.status == 0 and "ch-1" in table.stdout and "ex-1" in table.stdout


def test_content_command_errors_exit_with_documented_statuses(people: Any) -> None:
    url = people.database_url
    before = snapshot(people)
    cases = [
        (["add", "c1", "--writer", "ghost", "--type", "chapter"], 5, "USER_NOT_FOUND"),
        (["add", "c1", "--writer", "r1", "--type", "chapter"], 3, "NOT_A_WRITER"),
        (["add", "c1", "--writer", "w1", "--type", "chapter", "--price", "-5"], 3, None),
        (["add", "c1", "--writer", "w1", "--type", "chapter", "--price", "2.5"], 3, None),
        (["add", "c1", "--writer", "w1", "--type", "chapter", "--tier", "gold"], 3, "UNKNOWN_TIER"),
        (["add", "c1", "--writer", "w1", "--type", "novel"], 3, "INVALID_CONTENT_TYPE"),
        (["show", "nope"], 5, "CONTENT_NOT_FOUND"),
        (["add", "c1\n", "--writer", "w1", "--type", "chapter"], 3, "INVALID_CONTENT_ID"),
        (["add", "c1", "--writer", "w1", "--type", "chapter", "--title", "a\x00"], 3, None),
        (["add", "c1", "--writer", "w1", "--type", "chapter", "--title", "t" * 301], 3, None),
        (["show", "c1\n"], 3, "INVALID_CONTENT_ID"),
        (["list", "--writer", "nobody"], 5, "USER_NOT_FOUND"),
        (["list", "--limit", "99999999999999999999"], 3, "VALIDATION_ERROR"),
        (["update", "nope", "--price", "5"], 5, "CONTENT_NOT_FOUND"),
    ]
    for args, status, code in cases:
        result = run_cli(url, "content", *args)
        assert result.status == status, (args, result.stderr)
        assert result.stdout == ""
        if code:
            assert result.error["code"] == code, args
    assert snapshot(people) == before


def test_update_changes_price_tier_type_and_title_but_never_the_writer(people: Any) -> None:
    add_item(people, "c1", price=10, tier="basic")

    def update(**changes: Any) -> Any:
        return people.run(lambda s: update_content(s, people.settings, "c1", **changes))

    item, changed = update(price="25", title="Chapter one")
    assert (item.price_coins, item.title, item.tier, item.writer_id) == (
        25,
        "Chapter one",
        "basic",
        "w1",
    )
    assert changed == ["price", "title"] and item.updated_at is not None
    item, changed = update(tier="none", content_type="Story")
    assert (item.tier, item.type, changed) == (None, "story", ["type", "tier"])
    item, changed = update(tier="VIP", price=0)
    assert (item.tier, item.free, changed) == ("vip", True, ["price", "tier"])
    assert update(price="0")[1] == []  # the same value again changes nothing
    for bad, code in [
        ({"price": "-1"}, "INVALID_AMOUNT"),
        ({"price": "1.5"}, "INVALID_AMOUNT"),
        ({"tier": "gold"}, "UNKNOWN_TIER"),
        ({"content_type": "novel"}, "INVALID_CONTENT_TYPE"),
        ({"title": "x" * 301}, "VALIDATION_ERROR"),
        ({}, "NOTHING_TO_UPDATE"),
    ]:
        with pytest.raises(InvalidInput) as raised:
            update(**bad)
        assert raised.value.code == code, bad
    assert people.run(lambda s: get_content(s, "c1"), write=False).price_coins == 0


def test_a_new_price_applies_to_later_unlocks_only(people: Any) -> None:
    from legato_pay.readers.access import unlock_content
    from tests.factories import fund

    add_item(people, "c1", price=10)
    make_users(people, "r2")
    for reader in ("r1", "r2"):
        fund(people, reader, paid=100)
    unlock = people.run(lambda s: unlock_content(s, people.settings, "r1", "c1", actor="t"))
    people.run(lambda s: update_content(s, people.settings, "c1", price="30"))
    later = people.run(lambda s: unlock_content(s, people.settings, "r2", "c1", actor="t"))
    assert (unlock.charged, later.charged) == (10, 30)


def test_cli_content_update(people: Any) -> None:
    url = people.database_url
    add_item(people, "c1", price=10)
    updated = run_cli(url, "content", "update", "c1", "--price", "12", "--tier", "premium")
    assert updated.status == 0, updated.stderr
    assert (updated.json["price"], updated.json["tier"]) == (12, "premium")
    assert updated.json["changed"] == ["price", "tier"] and updated.json["updated_at"]
    assert run_cli(url, "content", "show", "c1").json["price"] == 12
    nothing = run_cli(url, "content", "update", "c1")
    assert (nothing.status, nothing.error["code"]) == (3, "NOTHING_TO_UPDATE")
