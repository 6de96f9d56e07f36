"""``legato-pay tips …``: Tips from readers to writers."""

from __future__ import annotations

import typer

app = typer.Typer(help="Tips from readers to writers.")
