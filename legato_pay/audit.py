"""Who acts: the one check of an actor name, light enough for every command's start-up (the
ledger stores it with each entry, seal and audit line, so it is checked once, at the edge)."""

from __future__ import annotations

from legato_pay.errors import InvalidInput

#: The longest actor name stored (``ledger_entries.actor``, ``ledger_seals.actor``).
MAX_ACTOR_LENGTH = 200


def check_actor(actor: object) -> str:
    """Who posts: checked before any statement (a database would refuse it less clearly)."""
    if (
        not isinstance(actor, str)
        or not actor.strip()
        or len(actor) > MAX_ACTOR_LENGTH
        or "\x00" in actor
    ):
        raise InvalidInput(
            f"the actor must be 1 to {MAX_ACTOR_LENGTH} characters (no NUL)",
            details={"field": "actor", "length": len(actor) if isinstance(actor, str) else None},
        )
    return actor
