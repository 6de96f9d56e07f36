"""``legato-pay gifts …``: Coin gifts between readers."""

from __future__ import annotations

import typer

app = typer.Typer(help="Coin gifts between readers.")
