"""``legato-pay rates …``: Exchange rates used for multi-currency prices."""

from __future__ import annotations

import typer

app = typer.Typer(help="Exchange rates used for multi-currency prices.")
