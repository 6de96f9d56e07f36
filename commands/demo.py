"""``legato-pay demo``: a realistic day through the sandbox gateway (filled in by the coins work)."""

from __future__ import annotations


def run_demo(*, readers: int, seed: int) -> None:
    from legato_pay.errors import UsageError

    raise UsageError("the demo is not built yet")
