"""``legato-pay rates …``: Exchange rates used for multi-currency prices.

A rate is RATE units of QUOTE per 1 BASE, given as a decimal string (never a float). Prices
converted from USD use the newest USD→CUR rate and refuse one older than
``rates.max_age_hours`` (STALE_RATE, exit 3).
"""

from typing import Annotated, Any

import typer

from commands.output import emit, state

app = typer.Typer(help="Exchange rates used for multi-currency prices.")

_COLUMNS = ["id", "base", "quote", "rate", "source", "as_of", "stale"]
#: A table shows the observation time to the minute (UTC), so that it fits 80 columns.
_TABLE_COLUMNS = ["id", "base", "quote", "rate", "source", "observed", "stale"]


def _rows(rates: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{**rate, "observed": rate["as_of"][:16].replace("T", " ")} for rate in rates]


@app.command("set")
def set_rate(
    base: Annotated[str, typer.Argument(help="Base currency, e.g. USD.")],
    quote: Annotated[str, typer.Argument(help="Quote currency, e.g. NGN.")],
    rate: Annotated[str, typer.Argument(help="Units of QUOTE per 1 BASE, e.g. 1550.25.")],
    source: Annotated[str, typer.Option("--source", help="Where the rate came from.")] = "manual",
    as_of: Annotated[
        str | None,
        typer.Option(
            "--as-of", help="When it was observed (ISO 8601, UTC if no offset; default now)."
        ),
    ] = None,
) -> None:
    """Record an observed rate (rates are history: a new row, never an edit)."""
    from legato_pay.readers import fx

    cli = state()
    view = cli.app.run(
        lambda s: fx.set_rate(s, cli.app.settings, base, quote, rate, source=source, as_of=as_of)
    )
    data = view.as_json(cli.app.settings)
    emit(
        data,
        rows=_rows([data]),
        columns=_COLUMNS,
        table_columns=_TABLE_COLUMNS,
        title="rate recorded",
    )


@app.command("list")
def list_rates(
    base: Annotated[str | None, typer.Option("--base")] = None,
    quote: Annotated[str | None, typer.Option("--quote")] = None,
    history: Annotated[
        bool, typer.Option("--history", help="Every stored row, not just the newest per pair.")
    ] = False,
) -> None:
    """The newest rate of each pair, with its age and whether it is too old to use."""
    from legato_pay.readers import fx

    cli = state()
    found = cli.app.run(
        lambda s: fx.list_rates(s, base=base, quote=quote, history=history), write=False
    )
    data: list[dict[str, Any]] = [rate.as_json(cli.app.settings) for rate in found]
    emit(data, rows=_rows(data), columns=_COLUMNS, table_columns=_TABLE_COLUMNS)


@app.command("fetch")
def fetch(
    url: Annotated[
        str | None, typer.Option("--url", help="Provider URL (default: rates.provider_url).")
    ] = None,
) -> None:
    """GET rates from the provider and store the configured currencies' new ones."""
    from legato_pay.readers import fx

    cli = state()
    result = fx.fetch_rates(cli.app, url=url)
    data = result.as_json(cli.app.settings)
    emit(
        data,
        rows=_rows(data["stored"]),
        columns=_COLUMNS,
        table_columns=_TABLE_COLUMNS,
        message=(
            f"stored {len(data['stored'])}, unchanged {len(data['unchanged'])}, "
            f"skipped {len(data['skipped'])}"
        ),
    )
