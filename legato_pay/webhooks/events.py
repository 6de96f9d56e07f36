"""The types the inbox and the dispatch share: the stored event and what applying it did.

``ParsedEvent`` is the gateways' own type (they read provider payloads); ``Outcome`` is the
webhooks' word for a result. Both ``inbox`` and ``dispatch`` import from here, and the inbox
calls the dispatch, never the other way round.
"""

from __future__ import annotations

from dataclasses import dataclass

from legato_pay.gateways.base import ParsedEvent

__all__ = ["STATUSES", "Outcome", "ParsedEvent"]

#: Every status an inbox row can have.
STATUSES = ("received", "applied", "ignored", "flagged", "failed", "stored")


@dataclass(frozen=True, slots=True)
class Outcome:
    """What a handler did: ``applied``, ``ignored`` (nothing to do), ``flagged`` (needs a
    person, e.g. amount mismatch), or ``stored`` (kept for work that reads it later)."""

    status: str
    message: str = ""
