"""``legato-pay webhooks …`` (the inbox) and ``legato-pay serve-webhooks`` (the listener)."""

import functools
import os
from typing import Annotated, Any

import typer

from commands.output import emit, info, state, to_json
from legato_pay.errors import UsageError

app = typer.Typer(help="The webhook inbox: list, show and replay gateway events.")


@app.command("list")
def list_events(
    status: Annotated[
        str | None, typer.Option("--status", help="applied, ignored, flagged, failed, stored…")
    ] = None,
    provider: Annotated[str | None, typer.Option("--provider", help="stripe or paystack")] = None,
    limit: Annotated[int, typer.Option("--limit")] = 100,
) -> None:
    """Stored events, newest first."""
    from legato_pay.webhooks import inbox

    rows = state().app.run(
        lambda s: inbox.list_events(s, status=status, provider=provider, limit=limit), write=False
    )
    emit(
        rows, columns=["id", "provider", "type", "object_ref", "status", "attempts", "received_at"]
    )


@app.command("show")
def show(event_id: Annotated[int, typer.Argument()]) -> None:
    """One stored event with its raw payload."""
    from legato_pay.webhooks import inbox

    emit(state().app.run(lambda s: inbox.show_event(s, event_id), write=False))


@app.command("replay")
def replay(
    event_id: Annotated[int | None, typer.Argument(help="The event to reapply.")] = None,
    failed: Annotated[bool, typer.Option("--failed", help="Reapply every failed event.")] = False,
) -> None:
    """Reapply events from the inbox (idempotent: nothing is credited twice)."""
    from legato_pay.webhooks import inbox

    cli = state()
    if (event_id is None) == (not failed):
        raise UsageError("give an event id or --failed (not both)")
    ids = [event_id] if event_id is not None else cli.app.run(inbox.failed_ids, write=False)
    results: list[dict[str, Any]] = []
    for one in ids:
        results.append(cli.app.run(functools.partial(inbox.replay, event_id=one)))
    emit(results, columns=["id", "provider", "type", "status"], message=f"replayed {len(results)}")


def serve(
    host: Annotated[str, typer.Option("--host", help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", help="Port (0: any free one).")] = 8000,
    workers: Annotated[int, typer.Option("--workers", help="Worker processes (1-64).")] = 1,
) -> None:
    """Listen for Stripe and Paystack webhooks: POST /webhooks/stripe, /webhooks/paystack;
    GET /healthz, /readyz, /metrics. Secrets: STRIPE_WEBHOOK_SECRET, PAYSTACK_SECRET_KEY.
    Prints where it listens on stderr first; a port in use is CONFIG_ERROR (exit 10)."""
    from legato_pay.webhooks import serve as listener

    cli = state()
    listener.check_options(port, workers)
    context = cli.app
    _ = context.engine  # create or check the schema once, before workers start
    sock = listener.bind(host, port)
    os.environ["LEGATO_DATABASE_URL"] = context.database_url
    if cli.config:
        os.environ["LEGATO_CONFIG"] = cli.config
    os.environ["LEGATO_ACTOR"] = cli.actor or "webhooks"
    where = listener.listening(sock, host, workers, context.database_url)
    if cli.output == "json":
        typer.echo(to_json(where.as_json()), err=True)
    else:
        info(str(where))
    listener.run(
        sock,
        workers=workers,
        graceful_shutdown_seconds=context.settings.webhooks.graceful_shutdown_seconds,
    )
