"""The Core table handles: ``store/models/core/`` is the SQLModel classes rendered as plain
Core, current with their source, equal to them column by column, and to the migrations; a stale
copy is never used."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import CheckConstraint, Column, Index, Integer, MetaData, String, Table, func, text
from sqlalchemy.dialects import postgresql, sqlite

from legato_pay.store import schema, tables
from legato_pay.store.engine import get_engine
from legato_pay.store.models import core, render
from legato_pay.store.models import metadata as models_metadata
from tests.store.test_migrations import schema_differences

RENDER = "python -m legato_pay.store.models.render"


def describe(metadata: MetaData) -> dict[str, Any]:
    """What a table is to a statement and to DDL, on both databases, including the Python-side
    defaults that Alembic does not compare."""
    dialects = (sqlite.dialect(), postgresql.dialect())  # type: ignore[no-untyped-call]
    described: dict[str, Any] = {}
    for table in metadata.tables.values():
        columns = [
            (
                column.name,
                [column.type.compile(dialect=dialect) for dialect in dialects],
                column.nullable,
                column.primary_key,
                bool(column.unique),
                bool(column.index),
                repr(getattr(column.default, "arg", None)),
                sorted(key.target_fullname for key in column.foreign_keys),
                column.autoincrement,
                column.server_default,
            )
            for column in table.columns
        ]
        indexes = sorted(
            (str(index.name), [c.name for c in index.columns], index.unique)
            for index in table.indexes
        )
        constraints = sorted(
            (type(c).__name__, str(c.name), sorted(column.name for column in c.columns))
            for c in table.constraints
        )
        described[table.name] = {"columns": columns, "indexes": indexes, "constraints": constraints}
    return described


def test_the_core_copy_is_rendered_from_the_current_models() -> None:
    current = render.render(models_metadata, render.fingerprint())
    on_disk = {path.name: path.read_text(encoding="utf-8") for path in render.CORE_DIR.glob("*.py")}
    assert on_disk == current, f"a model changed: run `{RENDER}` and commit store/models/core/"
    assert render.fingerprint() == core.FINGERPRINT


def test_the_core_tables_equal_the_models_column_by_column() -> None:
    assert sorted(core.metadata.tables) == sorted(models_metadata.tables)
    assert describe(core.metadata) == describe(models_metadata)


def test_the_core_tables_match_the_migrations(database_url: str) -> None:
    """``alembic check`` with the rendered tables instead of the models: nothing to generate."""
    engine = get_engine(database_url)
    schema.upgrade(engine)
    assert schema_differences(engine, core.metadata) == []


def test_services_use_the_core_copy() -> None:
    assert tables.metadata is core.metadata
    assert tables.ACCOUNTS is core.metadata.tables["ledger_accounts"]


def test_a_stale_copy_gives_way_to_the_models(monkeypatch: pytest.MonkeyPatch) -> None:
    """A model edited without rendering again: the handles come from the models, never stale."""
    monkeypatch.setattr(core, "FINGERPRINT", "0" * 64)
    assert tables._metadata() is models_metadata


def test_the_fingerprint_follows_the_model_sources(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    models = tmp_path / "models"
    models.mkdir()
    for path in render.MODELS_DIR.glob("*.py"):
        (models / path.name).write_bytes(path.read_bytes())
    (tmp_path / "columns.py").write_bytes(render._SHARED_SOURCE.read_bytes())
    monkeypatch.setattr(render, "MODELS_DIR", models)
    monkeypatch.setattr(render, "_SHARED_SOURCE", tmp_path / "columns.py")
    assert render.fingerprint() == core.FINGERPRINT
    (models / "core").mkdir(exist_ok=True)
    (models / "core" / "__init__.py").write_text("# the rendered copy is not a source\n")
    assert render.fingerprint() == core.FINGERPRINT
    (models / "ledger.py").write_text((models / "ledger.py").read_text() + "# a new column\n")
    assert render.fingerprint() != core.FINGERPRINT


def test_what_cannot_be_rendered_is_refused_not_dropped() -> None:
    def table(*items: Any) -> MetaData:
        metadata = MetaData()
        Table("t", metadata, Column("id", Integer, primary_key=True), *items)
        return metadata

    name = Column("name", String(10))
    for metadata in (
        table(Column("n", Integer, server_default=text("0"))),
        table(Column("n", Integer, default=lambda: 0)),
        table(Column("n", String(10), comment="why")),
        table(name, Index("ix_t_lower_name", func.lower(name))),
        table(Column("n", Integer), CheckConstraint("n > 0")),
    ):
        with pytest.raises(ValueError, match="not rendered"):
            render.render(metadata, "x")
