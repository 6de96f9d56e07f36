"""``legato-pay subscriptions …``: Basic, Premium and VIP subscriptions."""

from __future__ import annotations

import typer

app = typer.Typer(help="Basic, Premium and VIP subscriptions.")
