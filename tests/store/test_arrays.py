"""Array literals for PostgreSQL parameters: what the server parses back must be what was sent."""

from __future__ import annotations

import enum
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import text

from legato_pay.store import arrays
from legato_pay.store.engine import get_engine, session_scope


class Level(enum.IntEnum):
    HIGH = 3


class Tag(enum.StrEnum):
    RED = "red"


MOMENT = datetime(2026, 11, 27, 15, 4, 5, 123456, tzinfo=UTC)


def test_literal_renders_each_plain_type() -> None:
    values = [None, True, False, 0, -42, 'say "hi" \\ bye', "", MOMENT]
    assert arrays.literal(values) == (
        '{NULL,t,f,0,-42,"say \\"hi\\" \\\\ bye","","2026-11-27T15:04:05.123456+00:00"}'
    )
    assert arrays.texts(["a,b", None, "{x}"]) == '{"a,b",NULL,"{x}"}'


def test_literal_accepts_subclasses_and_refuses_the_rest() -> None:
    assert arrays.literal([Level.HIGH]) == "{" + str(Level.HIGH) + "}"
    assert arrays.literal([Tag.RED]) == '{"red"}'
    with pytest.raises(TypeError, match="no array literal for float"):
        arrays.literal([1.5])


def _one_by_one(values: list[Any]) -> str:
    """The literal written value by value (what the whole-column fast paths must equal)."""
    rendered = {type(None): lambda v: "NULL", int: str, str: arrays._quoted}
    return "{" + ",".join(rendered[type(value)](value) for value in values) + "}"


@pytest.mark.parametrize(
    "values",
    [
        [],
        [1, -2, 3],
        [None, 5, None],
        ["a", "b,c", "{d}", " e "],
        ["x", None, "y"],
        ['a"', None],
        ['say "hi"', "plain"],
        ["back\\slash", "plain"],
        ["", ""],
        [None],
    ],
)
def test_whole_column_literals_equal_value_by_value(values: list[Any]) -> None:
    assert arrays.literal(values) == _one_by_one(values)
    assert arrays.literal(iter(values)) == _one_by_one(values)
    if all(value is None or isinstance(value, str) for value in values):
        assert arrays.texts(values) == _one_by_one(values)
        assert arrays.texts(tuple(values)) == _one_by_one(values)
        assert arrays.texts(value for value in values) == _one_by_one(values)


@pytest.mark.postgres
def test_postgres_reads_the_literals_back(postgres_url: str) -> None:
    strings: list[Any] = ['say "hi" \\ bye', "", "a,b", "{x}", "NULL", " padded ", None, "ünï"]
    with session_scope(get_engine(postgres_url), write=False) as session:
        back = session.execute(
            text("SELECT CAST(:s AS text[]), CAST(:i AS bigint[]), CAST(:b AS bool[])"),
            {
                "s": arrays.texts(strings),
                "i": arrays.literal([1, None, -(2**62)]),
                "b": arrays.literal([True, False, None]),
            },
        ).one()
        moments = session.execute(
            text("SELECT CAST(:t AS timestamptz[])"), {"t": arrays.literal([MOMENT])}
        ).scalar_one()
    assert list(back[0]) == strings
    assert list(back[1]) == [1, None, -(2**62)]
    assert list(back[2]) == [True, False, None]
    assert moments == [MOMENT]
