"""``legato-pay escrow …``: investors' money held for an app until its milestones release it.

Deposits, confirmation and refunds are registered from ``commands.escrow_deposits``.
"""

import typer

app = typer.Typer(help="Escrow: investors' deposits, milestones, releases, refunds, disputes.")

from commands import escrow_deposits  # noqa: E402,F401  (registers its commands on ``app``)
