"""The tables, one module per domain, all registered on one ``metadata``.

Importing any table module imports this package first, so the metadata is always complete.
"""

from sqlmodel import SQLModel

from legato_pay.store.models import ledger, readers, webhooks  # noqa: F401

metadata = SQLModel.metadata
