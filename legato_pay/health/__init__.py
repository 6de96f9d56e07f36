"""``legato-pay health``: is every part the money depends on up and fresh?

Checks (``checks.py``): the database (a trivial query, timed), each configured gateway (an
authenticated call, cached for ``health.gateway_cache_seconds`` in ``health_records``,
``gateways.py``), the webhook inbox (oldest event not yet applied, failed events) and the
ledger's integrity (age of the oldest unsealed entry, the last ``ledger verify`` outcome, which
that command records here). ``service.check_health`` runs them; a failing check names its code.
"""

from legato_pay.health.service import HealthReport, check_health, record_verify

__all__ = ["HealthReport", "check_health", "record_verify"]
