"""Pages of a list by id (keyset paging): the one way the lists continue after a cursor.

A page asks for one row more than it shows: that row's presence is what says there is a next
page, without counting the table. Ids only grow, so a page is stable while rows are added.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Protocol, TypeVar

from sqlalchemy import Select
from sqlalchemy.orm import Session

from legato_pay.errors import InvalidInput


class HasId(Protocol):
    @property
    def id(self) -> int: ...


V = TypeVar("V", bound=HasId)


def id_page(
    session: Session,
    query: Select[Any],
    id_column: Any,
    *,
    after: int | None,
    limit: int,
    view: Callable[[Any], V],
) -> tuple[list[V], int | None]:
    """Up to ``limit`` rows of ``query`` (already ordered by ``id_column``) after id ``after``,
    as views, and the id to continue after (None on the last page)."""
    if after is not None:
        query = query.where(id_column > after)
    rows = session.execute(query.limit(limit + 1)).all()
    page = [view(row) for row in rows[:limit]]
    return page, (page[-1].id if len(rows) > limit else None)


def check_choice(value: str, choices: Sequence[str], *, option: str = "--status") -> str:
    """``value`` if it is one of ``choices``; VALIDATION_ERROR naming them otherwise."""
    if value not in choices:
        raise InvalidInput(
            f"{option} must be one of {', '.join(choices)}",
            details={option.lstrip("-"): str(value)[:40]},
        )
    return value
