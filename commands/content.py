"""``legato-pay content …``: Premium content and its prices."""

from __future__ import annotations

import typer

app = typer.Typer(help="Premium content and its prices.")
