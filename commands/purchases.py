"""``legato-pay purchases …``: Coin purchases through a payment gateway.

``create`` opens a payment (print the client secret or payment URL for the payer), ``verify``
credits the coins once the gateway confirms (exactly once, however often it runs), ``refund``
returns money and claws back the coins still unspent.
"""

from typing import Annotated, Any

import typer

from commands.output import YesOption, confirm, emit, state

app = typer.Typer(help="Coin purchases through a payment gateway.")

RefArg = Annotated[str, typer.Argument(help="Purchase reference (pur_…).")]
_LIST_COLUMNS = ["reference", "user", "package", "status", "display", "total_coins", "created_at"]


def _summary_rows(data: dict[str, Any], fields: list[str]) -> list[dict[str, Any]]:
    return [{"field": name, "value": data.get(name)} for name in fields if name in data]


@app.command("create")
def create(
    user: Annotated[str, typer.Option("--user", "-u", help="The reader buying.")],
    package: Annotated[str, typer.Option("--package", "-p", help="Package id.")],
    currency: Annotated[
        str | None, typer.Option("--currency", "-c", help="Pay in this currency (default: base).")
    ] = None,
    gateway: Annotated[
        str | None, typer.Option("--gateway", help="sandbox, stripe or paystack.")
    ] = None,
    key: Annotated[
        str | None, typer.Option("--key", help="Idempotency key: a retry returns the same one.")
    ] = None,
    payment_method: Annotated[
        str | None,
        typer.Option("--payment-method", help="Gateway payment method (sandbox: pm_sandbox_…)."),
    ] = None,
) -> None:
    """Create a pending purchase and open its payment at the gateway."""
    from legato_pay.readers import purchases

    cli = state()
    result = purchases.create_purchase(
        cli.app,
        user_id=user,
        package_id=package,
        currency=currency,
        gateway=gateway,
        key=key,
        payment_method=payment_method,
    )
    data = result.as_json()
    fields = ["reference", "status", "display", "coins", "bonus_coins", "gateway"]
    fields += ["client_secret", "payment_url", "replayed"]
    emit(data, rows=_summary_rows(data, fields), columns=["field", "value"])


@app.command("verify")
def verify(reference: RefArg) -> None:
    """Ask the gateway and credit the coins once paid (exit 7 if failed or flagged)."""
    from legato_pay.readers import purchases

    result = purchases.verify_purchase(state().app, reference)
    data = result.as_json()
    fields = ["reference", "status", "credited", "entry_id", "display", "coins", "bonus_coins"]
    emit(data, rows=_summary_rows(data, fields), columns=["field", "value"])


@app.command("list")
def list_purchases(
    user: Annotated[str | None, typer.Option("--user", "-u")] = None,
    status: Annotated[
        str | None,
        typer.Option(
            "--status", help="pending, succeeded, failed, flagged, refunded, partially_refunded."
        ),
    ] = None,
    limit: Annotated[int, typer.Option("--limit")] = 100,
) -> None:
    """Purchases, newest first."""
    from legato_pay.readers import purchases

    found = state().app.run(
        lambda s: purchases.list_purchases(s, user_id=user, status=status, limit=limit),
        write=False,
    )
    data = [purchase.as_json(refunds=False) for purchase in found]
    emit(data, columns=_LIST_COLUMNS)


@app.command("show")
def show(reference: RefArg) -> None:
    """One purchase with its gateway ids, ledger entry and refunds."""
    from legato_pay.readers import purchases

    view = state().app.run(lambda s: purchases.get_purchase(s, reference), write=False)
    emit(view.as_json(), title=f"purchase {reference}")


@app.command("refund")
def refund(
    reference: RefArg,
    amount: Annotated[
        str | None,
        typer.Option("--amount", help="Decimal amount, e.g. 4.50 (default: all that is left)."),
    ] = None,
    key: Annotated[
        str | None, typer.Option("--key", help="Idempotency key: a retry never refunds twice.")
    ] = None,
    yes: YesOption = False,
) -> None:
    """Refund a purchase and claw back its unspent coins. Asks on a terminal unless --yes."""
    from legato_pay.readers import purchases

    confirm(f"Refund {amount or 'the full remaining amount'} of {reference}?", yes=yes)
    outcome = purchases.refund_purchase(state().app, reference, amount=amount, key=key)
    data = outcome.as_json()
    fields = ["reference", "status", "display", "coins_clawed_back", "coins_lost"]
    fields += ["purchase_status", "entry_id", "replayed"]
    emit(data, rows=_summary_rows(data, fields), columns=["field", "value"])
