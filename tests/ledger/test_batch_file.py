"""``ledger post-batch`` files and the checks every posting gets before any SQL: hostile lines
answer their documented error naming the line, never an internal error, and post nothing."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from legato_pay import ledger
from legato_pay.errors import InvalidAmount, InvalidInput, LegatoError
from legato_pay.ledger.batch import parse_batch, read_batch_file
from legato_pay.ledger.shaping import MAX_ACTOR_LENGTH

GOOD = {"from": "world:USD", "to": "ops:a", "amount": "12.50", "currency": "USD"}


def line(**changes: Any) -> str:
    item = {**GOOD, **changes}
    return json.dumps({k: v for k, v in item.items() if v is not ...})


def test_a_good_file_parses_to_transfers() -> None:
    specs = parse_batch(
        "\n".join(
            [
                line(),
                "",
                line(amount=3, key="k-1", reason="why", pending=True),
            ]
        )
    )
    assert [(s.legs[0].amount, s.pending, s.idempotency_key, s.reason) for s in specs] == [
        (1250, False, None, None),
        (300, True, "k-1", "why"),  # a JSON integer is whole major units
    ]


@pytest.mark.parametrize(
    ("text", "error", "code"),
    [
        ('{"from": "world:USD", "to": "ops:a", "amount": 1e3, "currency": "USD"}', InvalidAmount,
         "INVALID_AMOUNT"),
        ('{"from": "world:USD", "to": "ops:a", "amount": 12.5, "currency": "USD"}', InvalidAmount,
         "INVALID_AMOUNT"),
        ('{"from": "world:USD", "to": "ops:a", "amount": NaN, "currency": "USD"}', InvalidInput,
         "VALIDATION_ERROR"),
        (line(amount="1e3"), InvalidAmount, "INVALID_AMOUNT"),
        (line(amount=True), InvalidAmount, "INVALID_AMOUNT"),
        (line(amount=None), InvalidAmount, "INVALID_AMOUNT"),
        (line(amount=[1]), InvalidAmount, "INVALID_AMOUNT"),
        (line(amount=10**40), InvalidAmount, "INVALID_AMOUNT"),
        (line(pending="false"), InvalidInput, "VALIDATION_ERROR"),
        (line(pending=0), InvalidInput, "VALIDATION_ERROR"),
        (line(reason={"sql": "DROP TABLE"}), InvalidInput, "VALIDATION_ERROR"),
        (line(reason="x\x00y"), InvalidInput, "VALIDATION_ERROR"),
        (line(key=5), InvalidInput, "VALIDATION_ERROR"),
        (line(to=["ops:a"]), InvalidInput, "VALIDATION_ERROR"),
        (line(currency=...), InvalidInput, "VALIDATION_ERROR"),
        (line(pendng=True), InvalidInput, "VALIDATION_ERROR"),
        ("[1, 2]", InvalidInput, "VALIDATION_ERROR"),
        ('"text"', InvalidInput, "VALIDATION_ERROR"),
        ("{not json", InvalidInput, "VALIDATION_ERROR"),
        ("[" * 100000, InvalidInput, "VALIDATION_ERROR"),
        ('{"amount": ' + "9" * 5000 + "}", InvalidInput, "VALIDATION_ERROR"),
    ],
)  # fmt: skip
def test_hostile_lines_are_refused_naming_the_line(
    text: str, error: type[LegatoError], code: str
) -> None:
    with pytest.raises(error) as refused:
        parse_batch(line() + "\n" + text)
    assert refused.value.code == code
    assert refused.value.message.startswith("line 2: ")
    assert refused.value.details["line"] == 2
    assert "SELECT" not in refused.value.message and "INSERT" not in refused.value.message


def test_an_empty_file_is_refused() -> None:
    with pytest.raises(InvalidInput, match="no entries"):
        parse_batch("\n  \n")


def test_files_are_read_with_a_bound_and_as_utf8(tmp_path: Path) -> None:
    binary = tmp_path / "binary.jsonl"
    binary.write_bytes(b'{"from": "\xff\xfe"}\n')
    with pytest.raises(InvalidInput, match="not UTF-8"):
        read_batch_file(binary)
    big = tmp_path / "big.jsonl"
    big.write_text((line() + "\n") * 100)
    with pytest.raises(InvalidInput, match="larger than 1000 bytes"):
        read_batch_file(big, max_bytes=1000)
    with pytest.raises(InvalidInput, match="larger than"):
        read_batch_file(Path("/dev/zero"), max_bytes=1 << 20)  # stops after the bound
    for unreadable in (tmp_path, tmp_path / "missing.jsonl"):
        with pytest.raises(InvalidInput, match="cannot read"):
            read_batch_file(unreadable)
    assert read_batch_file(big).count("\n") == 100


def entries(app: Any) -> int:
    from sqlalchemy import func, select

    from legato_pay.store.tables import ENTRIES

    return app.run(  # type: ignore[no-any-return]
        lambda s: s.execute(select(func.count()).select_from(ENTRIES)).scalar_one(), write=False
    )


def test_actor_and_reason_are_checked_before_any_sql(app: Any) -> None:
    app.run(lambda s: ledger.open_account(s, "ops:a", "USD"))
    move = ledger.transfer("world:USD", "ops:a", 100, "USD")
    too_long = "a" * (MAX_ACTOR_LENGTH + 1)
    for actor in (too_long, "", "a\x00b"):
        with pytest.raises(InvalidInput) as refused:
            app.run(lambda s, actor=actor: ledger.post_entries(s, [move], actor=actor))
        assert refused.value.details["field"] == "actor"
        with pytest.raises(InvalidInput):
            ledger.post_entry(app.engine, move, actor=actor)  # the lean path on PostgreSQL too
        with pytest.raises(InvalidInput):
            app.run(lambda s, actor=actor: ledger.seal(s, actor=actor))
    with pytest.raises(InvalidInput) as refused:
        app.run(
            lambda s: ledger.post_entries(
                s, [ledger.transfer("world:USD", "ops:a", 1, "USD", reason="r\x00")], actor="ops"
            )
        )
    assert refused.value.details["field"] == "reason"
    assert entries(app) == 0
    assert ledger.post_entry(app.engine, move, actor="a" * MAX_ACTOR_LENGTH).actor == (
        "a" * MAX_ACTOR_LENGTH
    )
    [reserved] = app.run(
        lambda s: ledger.post_entries(
            s, [ledger.transfer("world:USD", "ops:a", 5, "USD", pending=True)], actor="ops"
        )
    )
    with pytest.raises(InvalidInput):
        app.run(lambda s: ledger.resolve_pending(s, reserved.id, post=True, actor=too_long))
    with pytest.raises(InvalidInput):
        app.run(
            lambda s: ledger.resolve_pending(
                s, reserved.id, post=False, actor="ops", reason="x" * 5000
            )
        )
    assert entries(app) == 2
