"""The project's references in Paystack's terms, and back.

Paystack refuses some characters our references use (``pur_…`` has an underscore), so a
reference is made to fit deterministically (a digest keeps two that clean up alike apart) and
the original travels in ``metadata.reference``. Kept apart from the gateway so webhook parsing
reads references without importing the HTTP client.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from typing import Any

from legato_pay.errors import InvalidInput

_TRANSACTION_REF = re.compile(r"[A-Za-z0-9.=-]+")
_TRANSFER_REF = re.compile(r"[a-z0-9_-]+")
_CONFORMED = re.compile(r"([A-Za-z0-9.=-]+)-[0-9a-f]{12}")  # cleaned text, then the digest


def _conform(reference: str, allowed: re.Pattern[str], bad: str, *, lower: bool) -> str:
    if not reference:
        raise InvalidInput("a Paystack reference cannot be empty")
    if allowed.fullmatch(reference):
        return reference
    cleaned = re.sub(bad, "-", reference.lower() if lower else reference)
    # The digest keeps two references that clean up alike ("a:b", "a-b") apart, deterministically.
    return f"{cleaned}-{hashlib.sha256(reference.encode()).hexdigest()[:12]}"


def transaction_reference(reference: str) -> str:
    """The project's reference as a Paystack transaction reference (letters, digits, ``-.=``)."""
    return _conform(reference, _TRANSACTION_REF, r"[^A-Za-z0-9.=-]", lower=False)


def transfer_reference(reference: str) -> str:
    """The project's reference as a Paystack transfer reference (lowercase, digits, ``-_``)."""
    return _conform(reference, _TRANSFER_REF, r"[^a-z0-9_-]", lower=True)


def conformed_reference_pattern(reference: str) -> str | None:
    """A SQL ``LIKE`` pattern for the project references ``transaction_reference`` could have
    made ``reference`` of (``pur_x`` → ``pur-x-<digest>``: each ``-`` may have been a refused
    character, so it becomes the one-character wildcard), or None if it was not made so.
    Check a match with ``transaction_reference``: the pattern finds candidates only."""
    conformed = _CONFORMED.fullmatch(reference)
    return conformed.group(1).replace("-", "_") if conformed else None


def project_reference(data: Mapping[str, Any]) -> str | None:
    """The project's reference for a Paystack transaction (a verify answer or a ``charge.*``
    webhook's ``data``): ``metadata.reference``, which ``create_payment`` always sets, else
    Paystack's own ``reference``. Read this, not ``data.reference``: the two differ whenever the
    project's reference has characters Paystack refuses (``pur_…`` has an underscore)."""
    metadata = data.get("metadata")
    if isinstance(metadata, str):  # Paystack sometimes hands metadata back as a JSON string
        try:
            metadata = json.loads(metadata)
        except ValueError:
            metadata = None
    if isinstance(metadata, dict) and metadata.get("reference"):
        return str(metadata["reference"])
    reference = data.get("reference")
    return str(reference) if reference else None
