"""``legato-pay subscriptions …``: Basic, Premium and VIP subscriptions."""

from typing import Annotated

import typer

from commands.output import emit, state

app = typer.Typer(help="Basic, Premium and VIP subscriptions.")

_COLUMNS = ["id", "user", "tier", "status", "display", "gateway", "period", "period_end"]


@app.command("start")
def start(
    user: Annotated[str, typer.Argument(help="The reader.")],
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
def cancel(user: Annotated[str, typer.Argument(help="The reader.")]) -> None:
    """Cancel the reader's active subscription: access ends now, nothing is refunded."""
    from legato_pay.readers.subscriptions import cancel_subscription

    view = state().app.run(lambda s: cancel_subscription(s, user))
    emit(view.as_json())


@app.command("list")
def list_(
    status: Annotated[
        str | None, typer.Option("--status", help="active, expired or cancelled.")
    ] = None,
    user: Annotated[str | None, typer.Option("--user", help="Only this reader's.")] = None,
    limit: Annotated[int, typer.Option("--limit")] = 1000,
) -> None:
    """List subscriptions, oldest first."""
    from legato_pay.readers.subscriptions import list_subscriptions

    views = state().app.run(
        lambda s: list_subscriptions(s, status=status, user_id=user, limit=limit), write=False
    )
    emit([view.as_json() for view in views], columns=_COLUMNS)
