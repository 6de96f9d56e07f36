"""``legato-pay packages …``: Coin packages: coins, bonus and prices."""

from __future__ import annotations

import typer

app = typer.Typer(help="Coin packages: coins, bonus and prices.")
