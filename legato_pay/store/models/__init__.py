"""The tables, one module per domain, all registered on one ``metadata``: the schema's one
definition (Alembic's autogenerate and ``alembic check`` read it).

``metadata`` imports every table module on first use, so it is always complete. Importing this
package alone builds no SQLModel class: commands take their table handles from ``core`` (the
same tables as plain SQLAlchemy Core, rendered from these classes by ``render``), see
``store/tables.py``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sqlalchemy import MetaData

    metadata: MetaData


def __getattr__(name: str) -> Any:
    if name != "metadata":
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from sqlmodel import SQLModel

    from legato_pay.store.models import (  # noqa: F401  (registers them)
        approvals,
        escrow,
        health,
        ledger,
        payouts,
        readers,
        reconcile,
        revenue,
        shares,
        tax,
        webhooks,
    )

    return SQLModel.metadata
