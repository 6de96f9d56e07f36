"""Idempotency, written once: every service that takes a caller's key uses these.

A key names one request. Repeating it with the same request returns the first result; with a
different request it is ``IDEMPOTENCY_CONFLICT`` (exit 6), never a second effect. "The same
request" is decided by a canonical hash of the request's fields (sorted keys, compact JSON,
SHA-256), so two services can never disagree on what "same" means.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

from legato_pay.errors import IdempotencyConflict, InvalidInput

MAX_KEY_LENGTH = 200


def check_key(
    key: str | None, *, max_length: int = MAX_KEY_LENGTH, field: str = "key"
) -> str | None:
    """The one validator for idempotency keys from the edge (``INVALID_IDEMPOTENCY_KEY``).

    Services that derive their own keys from a caller's (``tip:K``, ``purchase:K``) pass a
    shorter ``max_length`` so the derived key still fits."""
    if key is None:
        return None
    if (
        not isinstance(key, str)
        or not key.strip()
        or len(key) > max_length
        or not key.isprintable()
        or key != key.strip()
    ):
        raise InvalidInput(
            f"idempotency key must be 1 to {max_length} printable characters, without "
            "leading or trailing spaces",
            details={field: key[:200] if isinstance(key, str) else None},
            code="INVALID_IDEMPOTENCY_KEY",
        )
    return key


def canonical_json(value: Any) -> str:
    """One text per value: sorted keys, no spaces, non-ASCII kept (what the hashes cover)."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def request_hash(fields: Mapping[str, Any]) -> str:
    """SHA-256 of the request's canonical JSON: equal exactly when the requests are the same."""
    return hashlib.sha256(canonical_json(dict(fields)).encode()).hexdigest()


def ensure_same_request(
    key: str,
    *,
    stored: Mapping[str, Any],
    wanted: Mapping[str, Any],
    what: str = "request",
    details: Mapping[str, Any] | None = None,
) -> None:
    """Raise ``IDEMPOTENCY_CONFLICT`` unless ``wanted`` is the request ``key`` first named.

    ``details`` says what the key already belongs to (a reference, an id); the names of the
    fields that differ are added, so an operator sees what changed."""
    if request_hash(stored) == request_hash(wanted):
        return
    differs = sorted(name for name in {*stored, *wanted} if stored.get(name) != wanted.get(name))
    raise IdempotencyConflict(
        f"idempotency key {key!r} was already used for a different {what}",
        details={"key": key, **(details or {}), "differs": differs},
    )


def ensure_same_hash(
    key: str,
    *,
    stored_hash: str,
    wanted_hash: str,
    what: str = "request",
    details: Mapping[str, Any] | None = None,
) -> None:
    """The same check where the first request was stored as its hash (ledger entries)."""
    if stored_hash != wanted_hash:
        raise IdempotencyConflict(
            f"idempotency key {key!r} was already used for a different {what}",
            details={"key": key, **(details or {})},
        )
