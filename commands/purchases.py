"""``legato-pay purchases …``: Coin purchases through a payment gateway."""

from __future__ import annotations

import typer

app = typer.Typer(help="Coin purchases through a payment gateway.")
