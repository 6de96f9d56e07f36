"""``legato-pay reports …``: Revenue reports."""

from __future__ import annotations

import typer

app = typer.Typer(help="Revenue reports.")
