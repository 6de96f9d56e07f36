"""``legato-pay escrow deposit|confirm|expire-deposits|refund|refund-status``: money into escrow
and back."""

from typing import Annotated, Any

import typer

from commands.escrow import app
from commands.output import YesOption, confirm, emit, state

_DEPOSIT_COLUMNS = ["id", "app", "investor", "amount", "units", "gateway", "status"]
_DEPOSIT_COLUMNS += ["reference", "checkout_url", "flag_reason"]
_REFUND_COLUMNS = ["id", "deposit", "amount", "status", "units_cancelled"]
_REFUND_COLUMNS += ["provider_refund_id", "reason"]


def _rows(data: dict[str, Any], columns: list[str]) -> list[dict[str, Any]]:
    row = dict(data)
    row["amount"] = data["amount"]["display"]
    return [{column: row.get(column) for column in columns}]


def _note(view: Any) -> str:
    return " (idempotent replay of the original)" if view.replayed else ""


@app.command("deposit")
def deposit(
    app_id: Annotated[str, typer.Option("--app", help="The app invested in.")],
    investor: Annotated[str, typer.Option("--investor", help="The investor (a user).")],
    amount: Annotated[str, typer.Option("--amount", help="Major units, e.g. 5000.00.")],
    key: Annotated[
        str, typer.Option("--key", help="Idempotency key: a retry makes no second deposit.")
    ],
    currency: Annotated[
        str | None, typer.Option("--currency", "-c", help="Default: the base currency.")
    ] = None,
    gateway: Annotated[
        str | None, typer.Option("--gateway", help="paystack | stripe | sandbox.")
    ] = None,
    units: Annotated[
        str | None, typer.Option("--units", help="Shares issued when the deposit is confirmed.")
    ] = None,
    payment_method: Annotated[
        str | None,
        typer.Option("--payment-method", help="Stripe/sandbox payment method (pm_…)."),
    ] = None,
) -> None:
    """Record a pending deposit and open its payment at the gateway (checkout URL or Stripe
    client secret). Confirmed by `escrow confirm REF` or the gateway's webhook."""
    from legato_pay.escrow.deposits import create_deposit

    cli = state()
    view = create_deposit(
        cli.app,
        app_id=app_id,
        investor=investor,
        amount=amount,
        currency=currency,
        gateway=gateway,
        units=units,
        key=key,
        payment_method=payment_method,
    )
    data = view.as_json()
    emit(data, rows=_rows(data, _DEPOSIT_COLUMNS), title=f"escrow deposit {view.id}{_note(view)}")


@app.command("confirm")
def confirm_(
    reference: Annotated[str, typer.Argument(help="The deposit's reference (dep_…) or id.")],
) -> None:
    """Ask the gateway about a deposit and credit its escrow once (flagged, crediting nothing,
    when the amount or currency paid differs)."""
    from legato_pay.escrow.deposits_confirm import confirm_deposit

    result = confirm_deposit(state().app, reference)
    data = {**result.deposit.as_json(), "credited": result.credited}
    emit(data, rows=_rows(data, _DEPOSIT_COLUMNS), title=f"escrow deposit {result.deposit.id}")


@app.command("refund")
def refund(
    deposit_id: Annotated[str, typer.Argument(help="The deposit's id (or reference).")],
    reason: Annotated[str, typer.Option("--reason", help="Why (kept on the timeline).")],
    amount: Annotated[
        str | None, typer.Option("--amount", help="Major units; default: all still available.")
    ] = None,
    key: Annotated[
        str | None, typer.Option("--key", help="Idempotency key: a rerun never refunds twice.")
    ] = None,
) -> None:
    """Return unreleased money to the investor through the deposit's gateway; shares issued
    for the deposit are cancelled pro rata."""
    from legato_pay.escrow.refunds import refund_deposit

    view = refund_deposit(state().app, deposit_id, reason=reason, amount=amount, key=key)
    data = view.as_json()
    emit(data, rows=_rows(data, _REFUND_COLUMNS), title=f"escrow refund {view.id}{_note(view)}")


@app.command("refund-status")
def refund_status(
    refund_id: Annotated[str, typer.Argument(help="The refund's id.")],
) -> None:
    """Ask the gateway about a pending refund and settle it (posted or voided, once)."""
    from legato_pay.escrow.refunds import refund_status as check_refund

    view = check_refund(state().app, refund_id)
    data = view.as_json()
    emit(data, rows=_rows(data, _REFUND_COLUMNS), title=f"escrow refund {view.id}")


@app.command("expire-deposits")
def expire_deposits(
    older_than: Annotated[
        str | None,
        typer.Option(
            "--older-than",
            metavar="HOURS",
            help="Pending for longer than this (default escrow.deposit_ttl_hours, 72).",
        ),
    ] = None,
    limit: Annotated[str, typer.Option("--limit", help="At most this many, oldest first.")] = (
        "1000"
    ),
    dry_run: Annotated[
        bool,
        typer.Option("--dry-run", help="List the deposits due; ask no gateway, change nothing."),
    ] = False,
    yes: YesOption = False,
) -> None:
    """Close deposits nobody paid: each pending past the TTL is asked of its gateway first; a
    payment it reports is applied as `escrow confirm` would, otherwise the deposit is expired
    (`unknown` and left pending when the gateway cannot be reached). For cron (--yes)."""
    from legato_pay.escrow.deposits_expiry import MAX_PER_RUN, expire_stale_deposits
    from legato_pay.readers.paging import parse_whole

    hours = None
    if older_than is not None:
        hours = parse_whole(older_than, field="--older-than", minimum=0, maximum=24 * 365 * 10)
    size = parse_whole(limit, field="--limit", maximum=MAX_PER_RUN)
    if not dry_run:
        confirm("Expire the deposits pending past their time?", yes=yes)
    outcomes = expire_stale_deposits(
        state().app, older_than_hours=hours, dry_run=dry_run, limit=size
    )
    rows = [outcome.as_json() for outcome in outcomes]
    counts: dict[str, int] = {}
    for outcome in outcomes:
        counts[outcome.outcome] = counts.get(outcome.outcome, 0) + 1
    summary = ", ".join(f"{count} {name}" for name, count in sorted(counts.items()))
    emit(
        {"deposits": rows, "counts": counts, "dry_run": dry_run},
        rows=rows,
        columns=["deposit", "reference", "gateway", "outcome", "gateway_status", "created_at"],
        message=("no stale pending deposits" if not rows else summary)
        + (" (dry run: nothing changed)" if dry_run else ""),
    )
