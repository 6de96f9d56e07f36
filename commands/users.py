"""``legato-pay users …``: Readers, writers and investors."""

from __future__ import annotations

import typer

app = typer.Typer(help="Readers, writers and investors.")
