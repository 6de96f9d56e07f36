"""Reading time: single records, idempotent keys and row keys, all-or-nothing CSV imports
(bounded, counted once), the list, and the commands."""

from __future__ import annotations

import json
import time
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
    record_engagement,
)
from legato_pay.readers.engagement_csv import read_engagement_csv
from tests.cli_runner import run_cli
from tests.factories import add_item, make_users, snapshot
from tests.readers.at_once import run_at_once


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
        "r1,c2,5,2026-02-02T08:00:00Z,\n"
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
        ("user,content,minutes,key\nr1,c1,5,a\nr1,c1,1.5,b\n", 3, "minutes"),
        ("user,content,minutes,key\nr1,c1,5,a\nr1,c1,0,b\n", 3, "minutes"),
        ("user,content,minutes,key\nr1,c1,5,a\nghost,c1,5,b\n", 3, "no user ghost"),
        ("user,content,minutes,key\nr1,nope,5,a\n", 2, "no content nope"),
        ("user,content,minutes\nr1,c1\n", 2, "expected 3 fields"),
        ("user,content,minutes\nr1,c1,5\n", 2, "recorded_at (or a key)"),
        ("user,content,minutes,key\nw1,c1,5,a\n", 2, "own content"),
        ("user,content,minutes,key\nr1\n,c1,5,a\n", 2, "expected 4 fields"),
        ("user,content,minutes,key\nr1,c1\x00,5,a\n", 2, "NUL"),
        ("user,content,minutes,key\nr1,c1,5,a\n" + "r1," + "x" * 5000 + ",5,b\n", 3, "longer"),
        ("user,content,minutes,key\nr1,c1,5,a\nr1,c1,\u0665,b\n", 3, "minutes"),
        ("user,content,minutes,recorded_at\nr1,c1,5,0001-01-01T00:00:00+14:00\n", 2, "ISO"),
        ("user,content,minutes,recorded_at\nr1,c1,5,\uff12026-01-01T00:00:00Z\n", 2, "ISO"),
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
        "skipped": 0,
        "minutes": 45,
        "periods": {"2026-01": 30, "2026-02": 15},
        "skipped_lines": [],
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


# -- counted once: row keys ------------------------------------------------------------------

CSV = (
    "user,content,minutes,recorded_at,key\n"
    "r1,c1,10,2026-01-31T23:00:00+00:00,\n"
    "r2,c2,20,2026-02-01T00:00:00Z,k-b\n"
    "r1,c1,10,2026-02-01T00:00:00+01:00,\n"  # the same reading as line 2, in another offset
    "r2,c1,7,2026-02-03T00:00:00Z,\n"
)


def test_importing_the_same_rows_twice_counts_nothing_twice(library: Any) -> None:
    first = library.run(lambda s: import_engagement(s, read_engagement_csv(CSV)))
    assert [view.replayed for view in first] == [False, False, True, False]
    assert first[2].id == first[0].id
    assert sum(row.minutes for row in rows(library)) == 37 and len(rows(library)) == 3
    again = library.run(lambda s: import_engagement(s, read_engagement_csv(CSV)))
    assert all(view.replayed for view in again)
    assert [view.id for view in again] == [first[0].id, first[1].id, first[0].id, first[3].id]
    assert sum(row.minutes for row in rows(library)) == 37 and len(rows(library)) == 3


def test_a_row_with_other_minutes_or_time_is_new_reading(library: Any) -> None:
    library.run(lambda s: import_engagement(s, read_engagement_csv(CSV)))
    more = (
        "user,content,minutes,recorded_at\n"
        "r1,c1,11,2026-01-31T23:00:00Z\n"
        "r1,c1,10,2026-01-31T23:00:01Z\n"
        "r1,c1,10,2026-01-31T23:00:00Z\n"
    )
    views = library.run(lambda s: import_engagement(s, read_engagement_csv(more)))
    assert [view.replayed for view in views] == [False, False, True]
    assert len(rows(library)) == 5


def test_a_writer_reading_their_own_content_is_refused(library: Any) -> None:
    with pytest.raises(InvalidInput) as raised:
        record(library, "w1", "c1", 30)
    assert raised.value.code == "SELF_ENGAGEMENT"
    record(library, "w1", "c2", 30)  # another writer's content counts
    assert [(row.user_id, row.writer_id) for row in rows(library)] == [("w1", "w2")]


@pytest.mark.parametrize("bad", ["r1\n", "r1 x", "ｒ1", "r1\x00", "x" * 101])
def test_ids_are_checked_as_whole_strings(library: Any, bad: str) -> None:
    with pytest.raises(InvalidInput):
        record(library, "r1", bad, 3)
    with pytest.raises(InvalidInput):
        record(library, bad, "c1", 3)
    assert rows(library) == []


def test_a_field_over_the_csv_limit_is_a_bad_file() -> None:
    text = 'user,content,minutes,key\nr1,"c1\n' + "x\n" * 70000 + '",5,a\n'
    with pytest.raises(InvalidInput) as raised:
        read_engagement_csv(text)
    assert raised.value.code == "INVALID_CSV"
    assert "field limit" in raised.value.message and raised.value.details["line"] > 2


def test_a_file_over_the_size_bound_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from legato_pay.readers import engagement_csv

    monkeypatch.setattr(engagement_csv, "MAX_FILE_BYTES", 1000)
    big = tmp_path / "big.csv"
    big.write_text(
        "user,content,minutes,key\n" + "".join(f"r1,c1,5,k{i}\n" for i in range(200)),
        encoding="utf-8",
    )
    with pytest.raises(InvalidInput) as raised:
        engagement_csv.read_engagement_file(big)
    assert raised.value.code == "INVALID_CSV" and "larger than" in raised.value.message


def test_cli_import_twice_reports_skipped_rows(library: Any, tmp_path: Path) -> None:
    url = library.database_url
    path = tmp_path / "reading.csv"
    path.write_text(CSV, encoding="utf-8")
    first = run_cli(url, "engagement", "import", str(path))
    assert first.status == 0, first.stderr
    assert (first.json["imported"], first.json["skipped"], first.json["minutes"]) == (3, 1, 37)
    assert first.json["skipped_lines"] == [4]
    second = run_cli(url, "engagement", "import", str(path))
    assert second.status == 0, second.stderr
    assert second.json == {
        "imported": 0,
        "skipped": 4,
        "minutes": 0,
        "periods": {},
        "skipped_lines": [2, 3, 4, 5],
    }
    assert len(rows(library)) == 3


@pytest.mark.parametrize(
    ("content", "fragment"),
    [
        (b"user,content,minutes,key\nr1,c1\x00,5,a\n", "NUL"),
        (b"user,content,minutes,key\nr1,c\xff1,5,a\n", "UTF-8"),
        (b"\x00" * 100_000, "NUL"),
        (b"user,content,minutes,key\n" + b"r1," + b"x" * 200_000 + b",5,a\n", "longer"),
    ],
)
def test_cli_import_of_a_bad_file_is_invalid_csv(
    library: Any, tmp_path: Path, content: bytes, fragment: str
) -> None:
    path = tmp_path / "bad.csv"
    path.write_bytes(content)
    result = run_cli(library.database_url, "engagement", "import", str(path))
    assert result.status == 3, result.stderr
    assert result.error["code"] == "INVALID_CSV" and fragment in result.error["message"]
    assert rows(library) == []


def test_cli_import_of_dev_zero_fails_fast(library: Any) -> None:
    started = time.monotonic()
    result = run_cli(library.database_url, "engagement", "import", "/dev/zero", timeout=30)
    assert result.status == 3, result.stderr
    assert result.error["code"] == "INVALID_CSV" and "NUL" in result.error["message"]
    assert time.monotonic() - started < 20
    assert rows(library) == []


# -- the list --------------------------------------------------------------------------------


def test_cli_engagement_list_filters_pages_and_totals(library: Any) -> None:
    library.run(lambda s: import_engagement(s, read_engagement_csv(CSV)))
    url = library.database_url
    everything = run_cli(url, "engagement", "list")
    assert everything.status == 0, everything.stderr
    assert [r["minutes"] for r in everything.json["engagement"]] == [10, 20, 7]
    assert everything.json["totals"] == {"rows": 3, "minutes": 37}
    assert everything.json["next_cursor"] is None

    first = run_cli(url, "engagement", "list", "--limit", "2")
    assert len(first.json["engagement"]) == 2 and first.json["next_cursor"]
    rest = run_cli(url, "engagement", "list", "--limit", "2", "--cursor", first.json["next_cursor"])
    assert [r["minutes"] for r in rest.json["engagement"]] == [7]
    assert rest.json["next_cursor"] is None and rest.json["totals"]["rows"] == 3

    by = {
        ("--user", "r2"): [20, 7],
        ("--content", "c1"): [10, 7],
        ("--writer", "w2"): [20],
    }
    for (option, value), minutes in by.items():
        shown = run_cli(url, "engagement", "list", option, value)
        assert [r["minutes"] for r in shown.json["engagement"]] == minutes, option
        assert shown.json["totals"]["minutes"] == sum(minutes)
    ranged = run_cli(
        url, "engagement", "list", "--from", "2026-02-01", "--to", "2026-02-03T00:00:00Z"
    )
    assert [r["minutes"] for r in ranged.json["engagement"]] == [20]

    csv_page = run_cli(url, "engagement", "list", "--limit", "1", output="csv")
    assert csv_page.status == 0
    assert len(csv_page.stdout.splitlines()) == 2  # the header and one data row
    assert "# total: rows 3, minutes 37" in csv_page.stderr
    assert "# next_cursor=" in csv_page.stderr

    cases = [
        (["--user", "ghost"], 5, "USER_NOT_FOUND"),
        (["--content", "nope"], 5, "CONTENT_NOT_FOUND"),
        (["--writer", "nobody"], 5, "USER_NOT_FOUND"),
        (["--writer", "r1"], 3, "VALIDATION_ERROR"),
        (["--from", "2026-03-01", "--to", "2026-02-01"], 3, "INVALID_TIME"),
        (["--from", "yesterday"], 3, "INVALID_TIME"),
        (["--cursor", "abc"], 3, "INVALID_CURSOR"),
        (["--limit", "0"], 3, "VALIDATION_ERROR"),
        (["--limit", "99999999999999999999999"], 3, "VALIDATION_ERROR"),
        (["--limit", "\u0665"], 3, "VALIDATION_ERROR"),
    ]
    for args, status, code in cases:
        result = run_cli(url, "engagement", "list", *args)
        assert (result.status, result.error["code"]) == (status, code), args


def test_the_same_file_imported_at_once_counts_each_reading_once(
    library: Any, tmp_path: Path
) -> None:
    """Three imports of one file released together: all exit 0, each reading is stored once,
    and what one import stored the others report as skipped."""
    path = tmp_path / "reading.csv"
    path.write_text(CSV, encoding="utf-8")
    results = run_at_once(library.database_url, tmp_path, [["engagement", "import", str(path)]] * 3)
    assert [result["status"] for result in results] == [0, 0, 0], results
    documents = [json.loads(result["stdout"]) for result in results]
    assert sum(document["imported"] for document in documents) == 3
    assert all(document["imported"] + document["skipped"] == 4 for document in documents)
    assert sum(row.minutes for row in rows(library)) == 37 and len(rows(library)) == 3
