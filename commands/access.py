"""``legato-pay access …``: Who may read what; unlocking content with coins."""

from __future__ import annotations

import typer

app = typer.Typer(help="Who may read what; unlocking content with coins.")
