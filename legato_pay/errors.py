"""One error hierarchy for the whole toolkit.

Every error has a stable ``code`` (what scripts match on), a human ``message`` and ``details``
(plain JSON values, never a secret), and belongs to a class whose ``exit_status`` is the CLI's
documented contract::

    LegatoError                          1  INTERNAL_ERROR
    ├── UsageError                       2  USAGE_ERROR
    ├── InvalidInput                     3  VALIDATION_ERROR
    │   ├── InvalidAmount                3  INVALID_AMOUNT
    │   ├── InvalidCurrency              3  INVALID_CURRENCY
    │   ├── UnbalancedEntry              3  UNBALANCED_ENTRY
    │   ├── CurrencyMismatch             3  CURRENCY_MISMATCH
    │   └── InvalidTime                  3  INVALID_TIME
    ├── InsufficientFunds                4  INSUFFICIENT_FUNDS
    ├── NotFound                         5  NOT_FOUND
    │   ├── AccountNotFound              5  ACCOUNT_NOT_FOUND
    │   └── EntryNotFound                5  ENTRY_NOT_FOUND
    ├── Conflict                         6  CONFLICT
    │   ├── IdempotencyConflict          6  IDEMPOTENCY_CONFLICT
    │   ├── InvalidState                 6  INVALID_STATE
    │   ├── PendingExpired               6  PENDING_EXPIRED
    │   ├── AlreadyReversed              6  ALREADY_REVERSED
    │   ├── AlreadyExists                6  ALREADY_EXISTS
    │   └── DepositInDispute             6  DEPOSIT_IN_DISPUTE
    ├── GatewayError                     7  PAYMENT_FAILED
    │   ├── GatewayUnavailable           7  GATEWAY_UNAVAILABLE
    │   └── RefundFailed                 7  REFUND_FAILED
    ├── Unauthorized                     8  UNAUTHORIZED
    │   └── InvalidSignature             8  INVALID_SIGNATURE
    ├── Busy                             9  RUN_IN_PROGRESS
    ├── ConfigError                     10  CONFIG_ERROR
    ├── DatabaseUnavailable             11  DATABASE_UNAVAILABLE
    ├── Discrepancies                   12  RECONCILE_DISCREPANCIES
    ├── Unhealthy                       13  UNHEALTHY
    ├── FeatureDisabled                 14  FEATURE_DISABLED
    └── Aborted                        130  ABORTED

The mapping to exit status and to the JSON error document lives in ``commands/output.py``.
"""

from __future__ import annotations

from typing import Any


class LegatoError(Exception):
    """Root of every error the toolkit raises on purpose."""

    code = "INTERNAL_ERROR"
    exit_status = 1

    def __init__(
        self, message: str, *, details: dict[str, Any] | None = None, code: str | None = None
    ) -> None:
        super().__init__(message)
        self.message = message
        self.details = details or {}
        if code is not None:
            self.code = code

    def as_dict(self) -> dict[str, Any]:
        return {"code": self.code, "message": self.message, "details": self.details}


class UsageError(LegatoError):
    code = "USAGE_ERROR"
    exit_status = 2


class InvalidInput(LegatoError):
    code = "VALIDATION_ERROR"
    exit_status = 3


class InvalidAmount(InvalidInput):
    code = "INVALID_AMOUNT"


class InvalidCurrency(InvalidInput):
    code = "INVALID_CURRENCY"


class UnbalancedEntry(InvalidInput):
    code = "UNBALANCED_ENTRY"


class CurrencyMismatch(InvalidInput):
    code = "CURRENCY_MISMATCH"


class InvalidTime(InvalidInput):
    code = "INVALID_TIME"


class InsufficientFunds(LegatoError):
    code = "INSUFFICIENT_FUNDS"
    exit_status = 4


class NotFound(LegatoError):
    code = "NOT_FOUND"
    exit_status = 5


class AccountNotFound(NotFound):
    code = "ACCOUNT_NOT_FOUND"


class EntryNotFound(NotFound):
    code = "ENTRY_NOT_FOUND"


class Conflict(LegatoError):
    code = "CONFLICT"
    exit_status = 6


class IdempotencyConflict(Conflict):
    code = "IDEMPOTENCY_CONFLICT"


class InvalidState(Conflict):
    code = "INVALID_STATE"


class PendingExpired(Conflict):
    code = "PENDING_EXPIRED"


class AlreadyReversed(Conflict):
    code = "ALREADY_REVERSED"


class AlreadyExists(Conflict):
    code = "ALREADY_EXISTS"


class DepositInDispute(Conflict):
    """An escrow deposit under an open dispute: its releases and refunds wait (nothing
    changes) until the dispute is resolved."""

    code = "DEPOSIT_IN_DISPUTE"


class GatewayError(LegatoError):
    code = "PAYMENT_FAILED"
    exit_status = 7


class GatewayUnavailable(GatewayError):
    code = "GATEWAY_UNAVAILABLE"


class RefundFailed(GatewayError):
    code = "REFUND_FAILED"


class Unauthorized(LegatoError):
    code = "UNAUTHORIZED"
    exit_status = 8


class InvalidSignature(Unauthorized):
    code = "INVALID_SIGNATURE"


class Busy(LegatoError):
    code = "RUN_IN_PROGRESS"
    exit_status = 9


class ConfigError(LegatoError):
    code = "CONFIG_ERROR"
    exit_status = 10


class DatabaseUnavailable(LegatoError):
    """The database could not be reached: the message names the host, never the password."""

    code = "DATABASE_UNAVAILABLE"
    exit_status = 11


class Discrepancies(LegatoError):
    """A check compared two records of the same money and found differences (reconciliation
    with a gateway): the report is printed in full and stored; the status lets cron alert."""

    code = "RECONCILE_DISCREPANCIES"
    exit_status = 12


class Unhealthy(LegatoError):
    """A health check found a part down or stale (database, a gateway, the webhook inbox, the
    ledger's seals): the report names each failing check."""

    code = "UNHEALTHY"
    exit_status = 13


class FeatureDisabled(LegatoError):
    """The command belongs to a feature switched off by its flag (e.g.
    ``ENABLE_DISPUTE_RESOLUTION``): nothing was done."""

    code = "FEATURE_DISABLED"
    exit_status = 14


class Aborted(LegatoError):
    """The operator declined a confirmation prompt or interrupted the command: nothing was done
    (or, for an interrupt, the unit of work in flight was rolled back)."""

    code = "ABORTED"
    exit_status = 130


class RetryableConflict(Exception):
    """Internal signal: the unit of work lost a race (deadlock, serialization, duplicate key) and
    must be rerun from the start. Never shown to a user; ``store.run_in_transaction`` retries it."""


#: Every exit status and what it means, for ``--help`` texts and the README.
EXIT_STATUSES: dict[int, str] = {
    0: "ok",
    1: "internal error",
    2: "usage error",
    3: "invalid input",
    4: "insufficient funds",
    5: "not found",
    6: "conflict",
    7: "gateway error",
    8: "unauthorized / invalid signature",
    9: "busy (a run is in progress)",
    10: "configuration error",
    11: "database unavailable",
    12: "discrepancies found (reconciliation)",
    13: "unhealthy (a health check failed)",
    14: "feature disabled by its flag",
    130: "aborted (a prompt declined, or Ctrl-C)",
}
