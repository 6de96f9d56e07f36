"""``legato-pay earnings …``: Writers' earnings and the refund hold."""

from __future__ import annotations

import typer

app = typer.Typer(help="Writers' earnings and the refund hold.")
