"""``legato-pay webhooks …`` (the inbox) and ``legato-pay serve-webhooks`` (the listener)."""

import os
from typing import Annotated

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
    limit: Annotated[str, typer.Option("--limit", help="Events per page (1-10000).")] = "100",
    cursor: Annotated[
        str | None, typer.Option("--cursor", help="next_cursor from the previous page.")
    ] = None,
) -> None:
    """Stored events, newest first, a page at a time."""
    from legato_pay.webhooks import inbox

    page = state().app.run(
        lambda s: inbox.list_page(s, status=status, provider=provider, limit=limit, cursor=cursor),
        write=False,
    )
    emit(
        {"events": page.events, "next_cursor": page.next_cursor},
        rows=page.events,
        columns=["id", "provider", "type", "object_ref", "status", "attempts", "received_at"],
        next_cursor=page.next_cursor,
    )


@app.command("show")
def show(event_id: Annotated[str, typer.Argument(help="The event's id in the inbox.")]) -> None:
    """One stored event with its raw payload."""
    from legato_pay.webhooks import inbox

    emit(state().app.run(lambda s: inbox.show_event(s, event_id), write=False))


@app.command("replay")
def replay(
    event_id: Annotated[str | None, typer.Argument(help="The event to reapply.")] = None,
    failed: Annotated[bool, typer.Option("--failed", help="Reapply every failed event.")] = False,
) -> None:
    """Reapply events from the inbox (idempotent: nothing is credited twice). With --failed,
    every failed event is tried, each in its own transaction, and each outcome reported; if
    any fails again the command ends with REPLAY_FAILED (exit 6): after the report in a
    table, or with every outcome in the error's details.results under --output json."""
    from legato_pay.webhooks import replaying

    cli = state()
    if (event_id is None) == (not failed):
        raise UsageError("give an event id or --failed (not both)")
    if event_id is not None:
        result = cli.app.run(lambda s: replaying.replay_one(s, event_id))
        emit([result], columns=["id", "provider", "type", "status"], message="replayed 1")
        return
    report = replaying.replay_failed(cli.app)
    if not (report.failed and cli.output == "json"):  # JSON: the error document carries all
        emit(
            report.results,
            columns=["id", "provider", "type", "status", "error"],
            message=f"replayed {len(report.results)}: {report.summary()}",
        )
    report.raise_if_failed()


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
