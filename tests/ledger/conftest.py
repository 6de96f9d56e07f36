"""Fixtures for these tests (see ``tests.ledger.truncate_guard``)."""

from tests.ledger.truncate_guard import _truncate_past_guards  # noqa: F401
