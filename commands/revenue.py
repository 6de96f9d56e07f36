"""``legato-pay revenue …``: Revenue runs and distributions.

Minimal group for the ``shares`` branch: the ``revenue`` helper's module replaces it at merge,
keeping the ``register(app)`` call below."""

import typer

from commands import distributions

app = typer.Typer(help="Revenue runs and app revenue distributions.")
distributions.register(app)
