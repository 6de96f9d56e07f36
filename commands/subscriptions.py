"""``legato-pay subscriptions …``: Basic, Premium and VIP subscriptions."""

from typing import Annotated

import typer

from commands.output import YesOption, confirm, emit, state

app = typer.Typer(help="Basic, Premium and VIP subscriptions.")

_COLUMNS = ["id", "user", "tier", "status", "amount", "gateway", "period", "period_end"]
_CSV_COLUMNS = [
    "id",
    "user",
    "tier",
    "status",
    "amount",
    "currency",
    "gateway",
    "period",
    "period_end",
]
UserOption = Annotated[str, typer.Option("--user", help="The reader.")]


@app.command("start")
def start(
    user: UserOption,
    tier: Annotated[str, typer.Option("--tier", help="basic, premium or vip.")],
    currency: Annotated[
        str | None, typer.Option("--currency", "-c", help="Default: the base currency.")
    ] = None,
    gateway: Annotated[
        str | None, typer.Option("--gateway", help="sandbox, stripe or paystack.")
    ] = None,
    key: Annotated[
        str | None, typer.Option("--key", help="Idempotency key: a retry charges nothing twice.")
    ] = None,
    payment_method: Annotated[
        str | None, typer.Option("--payment-method", help="e.g. pm_sandbox_fail in the sandbox.")
    ] = None,
) -> None:
    """Charge the tier's price and start a subscription (one active per reader, no upgrades)."""
    from legato_pay.readers.subscriptions import start_subscription

    cli = state()
    view = start_subscription(
        cli.app,
        user,
        tier=tier,
        currency=currency,
        gateway=gateway,
        key=key,
        payment_method=payment_method,
    )
    emit(view.as_json())


@app.command("cancel")
def cancel(user: UserOption, yes: YesOption = False) -> None:
    """Cancel the reader's active subscription: access ends now, nothing is refunded."""
    from legato_pay.readers.subscriptions import cancel_subscription

    confirm(f"Cancel {user}'s subscription now? Access ends at once; nothing is refunded", yes=yes)
    view = state().app.run(lambda s: cancel_subscription(s, user))
    emit(view.as_json())


@app.command("show")
def show(user: UserOption) -> None:
    """The reader's current subscription (active, else the latest, with its status now)."""
    from legato_pay.readers.subscription_views import current_subscription

    view = state().app.run(lambda s: current_subscription(s, user), write=False)
    emit(
        {"user": user, "subscription": view.as_json() if view else None},
        rows=[view.as_json()] if view else [],
        columns=_CSV_COLUMNS,
        table_columns=_COLUMNS,
        message=None if view else f"{user} has never subscribed",
    )


@app.command("list")
def list_(
    status: Annotated[
        str | None, typer.Option("--status", help="active, expired or cancelled.")
    ] = None,
    user: Annotated[str | None, typer.Option("--user", help="Only this reader's.")] = None,
    limit: Annotated[str, typer.Option("--limit", help="Rows per page, 1 to 100000.")] = "1000",
    cursor: Annotated[
        str | None, typer.Option("--cursor", help="next_cursor from the previous page.")
    ] = None,
) -> None:
    """List subscriptions, oldest first, a page at a time."""
    from legato_pay.readers.paging import parse_id_cursor, parse_whole
    from legato_pay.readers.subscriptions import list_subscriptions

    size = parse_whole(limit, field="--limit", maximum=100_000)
    after = parse_id_cursor(cursor)
    views = state().app.run(
        lambda s: list_subscriptions(
            s, status=status, user_id=user, limit=size + 1, after_id=after
        ),
        write=False,
    )
    next_cursor = str(views[size - 1].id) if len(views) > size else None
    rows = [view.as_json() for view in views[:size]]
    emit(
        {"subscriptions": rows, "next_cursor": next_cursor},
        rows=rows,
        columns=_CSV_COLUMNS,
        table_columns=_COLUMNS,
        next_cursor=next_cursor,
    )
