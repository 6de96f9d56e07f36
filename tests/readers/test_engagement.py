"""Reading time: single records, idempotent keys, all-or-nothing CSV imports and the commands."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from legato_pay.errors import IdempotencyConflict, InvalidInput, NotFound
from legato_pay.readers.engagement import (
    ENGAGEMENT,
    MAX_MINUTES,
    engagement_input,
    import_engagement,
    read_engagement_csv,
    record_engagement,
)
from tests.cli_runner import run_cli
from tests.factories import add_item, make_users, snapshot


@pytest.fixture
def library(app: Any) -> Any:
    make_users(app, "w1", "w2", kind="writer")
    make_users(app, "r1", "r2")
    add_item(app, "c1", writer="w1")
    add_item(app, "c2", writer="w2", content_type="story")
    return app


def rows(app: Any) -> list[Any]:
    return app.run(lambda s: s.execute(select(ENGAGEMENT).order_by(ENGAGEMENT.c.id)).all())  # type: ignore[no-any-return]


def record(app: Any, *args: Any, **kwargs: Any) -> Any:
    item = engagement_input(*args, **kwargs)
    return app.run(lambda s: record_engagement(s, item))


def test_a_record_takes_its_writer_from_the_content(library: Any) -> None:
    when = datetime(2026, 2, 27, 23, 59, tzinfo=UTC)
    view = record(library, "r1", "c2", "42", recorded_at=when)
    assert (view.writer_id, view.minutes, view.period) == ("w2", 42, "2026-02")
    [row] = rows(library)
    assert (row.user_id, row.content_id, row.writer_id, row.minutes, row.period) == (
        "r1",
        "c2",
        "w2",
        42,
        "2026-02",
    )
    now = record(library, "r1", "c1", 5)
    assert now.period == datetime.now(UTC).strftime("%Y-%m")


def test_a_key_records_once(library: Any) -> None:
    first = record(library, "r1", "c1", 10, key="read-1")
    again = record(library, "r1", "c1", "10", key="read-1")
    assert again.id == first.id and again.replayed and not first.replayed
    assert len(rows(library)) == 1
    with pytest.raises(IdempotencyConflict):
        record(library, "r1", "c1", 11, key="read-1")
    assert len(rows(library)) == 1


@pytest.mark.parametrize("minutes", ["0", "-5", "1.5", "ten", "", str(MAX_MINUTES + 1), 2.0, True])
def test_bad_minutes_are_refused(library: Any, minutes: Any) -> None:
    with pytest.raises(InvalidInput) as raised:
        record(library, "r1", "c1", minutes)
    assert raised.value.exit_status == 3
    assert rows(library) == []


def test_unknown_user_or_content_is_not_found(library: Any) -> None:
    for user, content, code in [
        ("ghost", "c1", "USER_NOT_FOUND"),
        ("r1", "x", "CONTENT_NOT_FOUND"),
    ]:
        with pytest.raises(NotFound) as raised:
            record(library, user, content, 3)
        assert raised.value.code == code
    assert rows(library) == []


def test_an_import_stores_every_row_and_is_idempotent_by_key(library: Any) -> None:
    text = (
        "user,content,minutes,recorded_at,key\n"
        "r1,c1,10,2026-01-31T23:00:00+00:00,a\n"
        "r2,c2,20,2026-02-01T00:00:00Z,b\n"
        "\n"
        "r1,c2,5,,\n"
    )
    views = library.run(lambda s: import_engagement(s, read_engagement_csv(text)))
    assert [(v.writer_id, v.minutes, v.period) for v in views[:2]] == [
        ("w1", 10, "2026-01"),
        ("w2", 20, "2026-02"),
    ]
    assert len(rows(library)) == 3
    keyed_only = "user,content,minutes,recorded_at,key\n" + "\n".join(text.splitlines()[1:3])
    again = library.run(lambda s: import_engagement(s, read_engagement_csv(keyed_only)))
    assert all(v.replayed for v in again) and len(rows(library)) == 3


@pytest.mark.parametrize(
    ("text", "line", "fragment"),
    [
        ("user,content,minutes\nr1,c1,5\nr1,c1,1.5\n", 3, "minutes"),
        ("user,content,minutes\nr1,c1,5\nr1,c1,0\n", 3, "minutes"),
        ("user,content,minutes\nr1,c1,5\nghost,c1,5\n", 3, "no user ghost"),
        ("user,content,minutes\nr1,nope,5\n", 2, "no content nope"),
        ("user,content,minutes\nr1,c1\n", 2, "expected 3 fields"),
        ("user,content,minutes,key\nr1,c1,5,k\nr2,c1,5,k\n", 3, "appears twice"),
        ("user,content,minutes,recorded_at\nr1,c1,5,yesterday\n", 2, "ISO 8601"),
        ("user,content,minutes,recorded_at\nr1,c1,5,2999-01-01T00:00:00\n", 2, "future"),
        ("user,content\nr1,c1\n", 1, "header"),
        ("user,content,minutes,colour\nr1,c1,5,red\n", 1, "header"),
    ],
)
def test_a_bad_row_fails_the_whole_import_naming_its_line(
    library: Any, text: str, line: int, fragment: str
) -> None:
    before = snapshot(library)
    with pytest.raises(InvalidInput) as raised:
        library.run(lambda s: import_engagement(s, read_engagement_csv(text)))
    assert raised.value.exit_status == 3
    assert raised.value.details["line"] == line
    assert f"line {line}" in raised.value.message and fragment in raised.value.message
    assert snapshot(library) == before


def test_a_reused_key_with_other_minutes_fails_the_import(library: Any) -> None:
    record(library, "r1", "c1", 10, key="k1")
    text = "user,content,minutes,key\nr2,c2,3,k2\nr1,c1,99,k1\n"
    with pytest.raises(InvalidInput) as raised:
        library.run(lambda s: import_engagement(s, read_engagement_csv(text)))
    assert raised.value.details["line"] == 3
    assert raised.value.details["problem"] == "IDEMPOTENCY_CONFLICT"
    assert len(rows(library)) == 1


def test_engagement_commands_end_to_end(library: Any, tmp_path: Path) -> None:
    url = library.database_url
    recorded = run_cli(
        url, "engagement", "record", "--user", "r1", "--content", "c2", "--minutes", "15",
        "--key", "e1",
    )  # fmt: skip
    assert recorded.status == 0, recorded.stderr
    assert {k: recorded.json[k] for k in ("user", "content", "writer", "minutes", "replayed")} == {
        "user": "r1",
        "content": "c2",
        "writer": "w2",
        "minutes": 15,
        "replayed": False,
    }
    assert recorded.json["period"] == recorded.json["recorded_at"][:7]

    good = tmp_path / "good.csv"
    good.write_text(
        "user,content,minutes,recorded_at,key\n"
        "r1,c1,30,2026-01-05T10:00:00Z,i1\n"
        "r2,c2,12,2026-02-05T10:00:00Z,i2\n"
        "r2,c1,3,2026-02-06T10:00:00Z,\n",
        encoding="utf-8",
    )
    imported = run_cli(url, "engagement", "import", str(good))
    assert imported.status == 0, imported.stderr
    assert imported.json == {
        "imported": 3,
        "replayed": 0,
        "minutes": 45,
        "periods": {"2026-01": 30, "2026-02": 15},
    }
    assert len(rows(library)) == 4

    bad = tmp_path / "bad.csv"
    bad.write_text("user,content,minutes\nr1,c1,5\nr1,c1,-2\n", encoding="utf-8")
    before = snapshot(library)
    cases = [
        (["import", str(bad)], 3, "INVALID_ROW"),
        (["import", str(tmp_path / "missing.csv")], 3, "VALIDATION_ERROR"),
        (["record", "--user", "r1", "--content", "c1", "--minutes", "-3"], 3, "INVALID_MINUTES"),
        (["record", "--user", "r1", "--content", "c1", "--minutes", "2.5"], 3, "INVALID_MINUTES"),
        (["record", "--user", "ghost", "--content", "c1", "--minutes", "3"], 5, "USER_NOT_FOUND"),
        (["record", "--user", "r1", "--content", "x", "--minutes", "3"], 5, "CONTENT_NOT_FOUND"),
    ]
    for args, status, code in cases:
        result = run_cli(url, "engagement", *args)
        assert result.status == status, (args, result.stderr)
        assert result.error["code"] == code, args
        assert result.stdout == ""
    assert "line 3" in run_cli(url, "engagement", "import", str(bad)).error["message"]
    assert snapshot(library) == before
