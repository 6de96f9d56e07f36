"""``legato-pay purchases …``: Coin purchases through a payment gateway.

``create`` opens a payment (print the client secret or payment URL for the payer), ``verify``
credits the coins once the gateway confirms (exactly once, however often it runs), ``refund``
returns money and claws back the coins still unspent, ``cancel`` closes a stale pending one.
"""

from typing import Annotated, Any

import typer

from commands.output import YesOption, confirm, emit, state

app = typer.Typer(help="Coin purchases through a payment gateway.")

RefArg = Annotated[str, typer.Argument(help="Purchase reference (pur_…).")]
_LIST_COLUMNS = ["reference", "user", "package", "status", "amount_minor", "currency", "display"]
_LIST_COLUMNS += ["total_coins", "created_at"]
#: What fits 80 columns: the amount formatted, the time to the minute (JSON/CSV have it all).
_LIST_TABLE = ["reference", "user", "status", "amount", "created"]


def _summary_rows(data: dict[str, Any], fields: list[str]) -> list[dict[str, Any]]:
    rows = []
    for name in fields:
        if name in data:
            value = data[name]
            if name == "channels":
                value = ",".join(value) if value else "all"
            rows.append({"field": name, "value": value})
    return rows


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
    channels: Annotated[
        str | None,
        typer.Option(
            "--channels",
            help="Paystack only: the channels the payer may use, comma-separated: card, bank, "
            "bank_transfer, ussd, qr, mobile_money, eft, apple_pay (default: all). "
            "Refused for other gateways.",
        ),
    ] = None,
) -> None:
    """Create a pending purchase and open its payment at the gateway.

    A request the gateway would refuse (no keys, wrong mode, payer without email for Paystack)
    is refused before anything is recorded.
    """
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
        channels=channels,
    )
    data = result.as_json()
    fields = ["reference", "status", "display", "coins", "bonus_coins", "gateway", "channels"]
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
    user: Annotated[
        str | None,
        typer.Option("--user", "-u", help="Only this reader's (USER_NOT_FOUND if unknown)."),
    ] = None,
    status: Annotated[
        str | None,
        typer.Option(
            "--status",
            help="pending, succeeded, failed, flagged, refunded, partially_refunded, cancelled.",
        ),
    ] = None,
    from_: Annotated[
        str | None,
        typer.Option("--from", help="Created at or after this time (ISO 8601)."),
    ] = None,
    to: Annotated[
        str | None, typer.Option("--to", help="Created before this time (ISO 8601).")
    ] = None,
    limit: Annotated[int, typer.Option("--limit", help="Page size, 1-10000.")] = 100,
    cursor: Annotated[
        str | None, typer.Option("--cursor", help="next_cursor from the previous page.")
    ] = None,
) -> None:
    """Purchases, newest first, a page at a time (--cursor continues from next_cursor)."""
    from commands.output import parse_range
    from legato_pay.readers import purchases

    start, end = parse_range(from_, to)
    page = state().app.run(
        lambda s: purchases.page_purchases(
            s, user_id=user, status=status, start=start, end=end, limit=limit, cursor=cursor
        ),
        write=False,
    )
    found = [purchase.as_json(refunds=False) for purchase in page.purchases]
    emit(
        {"purchases": found, "next_cursor": page.next_cursor},
        rows=[_list_row(purchase) for purchase in found],
        columns=_LIST_COLUMNS,
        table_columns=_LIST_TABLE,
        next_cursor=page.next_cursor,
    )


def _list_row(data: dict[str, Any]) -> dict[str, Any]:
    """A purchase as ``list`` shows it: minor units only under ``amount_minor``."""
    return {
        "reference": data["reference"],
        "user": data["user"],
        "package": data["package"],
        "status": data["status"],
        "amount_minor": data["amount"],
        "currency": data["currency"],
        "display": data["display"],
        "total_coins": data["total_coins"],
        "gateway": data["gateway"],
        "channels": data["channels"],
        "created_at": data["created_at"],
        "amount": data["display"],  # table-only: the formatted amount, the time to the minute
        "created": data["created_at"][:16].replace("T", " "),
    }


@app.command("show")
def show(reference: RefArg) -> None:
    """One purchase with its gateway ids, channels, ledger entry and refunds."""
    from legato_pay.readers import purchases

    view = state().app.run(lambda s: purchases.get_purchase(s, reference), write=False)
    data = view.as_json()
    emit(data, rows=_show_rows(data), columns=["field", "value"], title=f"purchase {reference}")


def _show_rows(data: dict[str, Any]) -> list[dict[str, Any]]:
    """``show`` as a table: formatted amounts, never minor units beside them."""
    rows = []
    for name, value in data.items():
        if name in ("amount", "currency"):
            continue
        if name == "refunded":
            value = value["display"]
        elif name == "channels":
            value = ",".join(value) if value else "all"
        elif name == "refunds":
            value = "; ".join(
                f"{refund['display']} {refund['status']} ({refund['key']})" for refund in value
            )
        rows.append({"field": name, "value": value})
    return rows


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
    """Refund a purchase and claw back its unspent coins (asks on a terminal; --yes in
    scripts). A refund the gateway declines is REFUND_FAILED (exit 7)."""
    from legato_pay.readers import purchases

    confirm(f"Refund {amount or 'the full remaining amount'} of {reference}?", yes=yes)
    outcome = purchases.refund_purchase(state().app, reference, amount=amount, key=key)
    data = outcome.as_json()
    fields = ["reference", "status", "display", "coins_clawed_back", "coins_lost"]
    fields += ["purchase_status", "entry_id", "replayed"]
    emit(data, rows=_summary_rows(data, fields), columns=["field", "value"])


@app.command("cancel")
def cancel(reference: RefArg, yes: YesOption = False) -> None:
    """Cancel a stale pending purchase (asks on a terminal; --yes in scripts).

    The gateway is asked first when it may hold a payment; one it reports as paid is refused
    (run `purchases verify`). A payment confirmed later is still credited.
    """
    from legato_pay.readers import purchases

    confirm(f"Cancel pending purchase {reference}?", yes=yes)
    result = purchases.cancel_purchase(state().app, reference)
    data = result.as_json()
    fields = ["reference", "status", "display", "gateway", "gateway_status", "failure_reason"]
    emit(data, rows=_summary_rows(data, fields), columns=["field", "value"])
