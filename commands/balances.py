"""``legato-pay balances …``: Readers' coin balances."""

from __future__ import annotations

import typer

app = typer.Typer(help="Readers' coin balances.")
