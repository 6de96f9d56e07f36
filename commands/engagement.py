"""``legato-pay engagement …``: Reading time, the basis of the subscription pool split."""

from __future__ import annotations

import typer

app = typer.Typer(help="Reading time, the basis of the subscription pool split.")
