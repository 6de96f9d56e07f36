"""``legato-pay reconcile …``: the ledger's gateway clearing accounts against the gateways'
records (API or CSV export); ``list`` and ``show`` read stored runs back."""

from pathlib import Path
from typing import Annotated, Any

import typer

from commands.output import emit, money_cell, parse_time, state
from legato_pay.errors import Discrepancies, UsageError

app = typer.Typer(
    help="Reconcile the ledger with a gateway: `reconcile --gateway G --from D --to D "
    "[--file EXPORT.csv]`; exit 12 when anything does not match. `list`, `show RUN`.",
    invoke_without_command=True,
)

_ITEM_COLUMNS = ["kind", "direction", "entry_id", "gateway_id", "reference", "ledger"]
_ITEM_COLUMNS += ["gateway", "gateway_status", "fee", "occurred_at", "note"]
_RUN_COLUMNS = ["id", "gateway", "source", "from", "to", "status", "counts", "fees"]


def _amounts(per_currency: dict[str, int]) -> str:
    return ", ".join(money_cell(v, c) for c, v in per_currency.items()) or "none"


def _counts(counts: dict[str, int]) -> str:
    return ", ".join(f"{kind} {n}" for kind, n in counts.items() if n) or "nothing"


def _run_row(run: Any) -> dict[str, Any]:
    return {
        "id": run.id,
        "gateway": run.gateway,
        "source": run.source,
        "from": run.period_from,
        "to": run.period_to,
        "status": run.status,
        "counts": _counts(run.counts),
        "fees": _amounts(run.totals.get("fees", {})),
    }


def _emit_run(run: Any, title: str) -> None:
    rows = [item.as_json() for item in run.items]
    emit(
        run.as_json(),
        rows=rows,
        columns=_ITEM_COLUMNS,
        title=title,
        totals={"status": run.status, "found": _counts(run.counts)}
        | {"fees": _amounts(run.totals.get("fees", {}))},
        message=None if rows else "nothing to reconcile in this period",
    )


@app.callback()
def reconcile(
    ctx: typer.Context,
    gateway: Annotated[
        str | None, typer.Option("--gateway", help="paystack | stripe | sandbox.")
    ] = None,
    from_: Annotated[
        str | None, typer.Option("--from", help="First day or time (UTC, inclusive).")
    ] = None,
    to: Annotated[
        str | None,
        typer.Option("--to", help="Last day (the whole day) or time (UTC, inclusive)."),
    ] = None,
    file: Annotated[
        Path | None,
        typer.Option("--file", help="The provider's CSV export instead of its API."),
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Report without storing the run.")
    ] = False,
) -> None:
    """Match every posted leg on gateway:<G>:<CUR> in the period with the gateway's own records;
    report matched items, items missing on either side, amount, currency and status mismatches
    and the gateway's fees. Exit 0 when clean, 12 (RECONCILE_DISCREPANCIES) otherwise."""
    if ctx.invoked_subcommand is not None:
        return
    if gateway is None or from_ is None or to is None:
        raise UsageError(
            "reconcile needs --gateway, --from and --to (or a subcommand: list, show)",
            details={"hint": "reconcile --gateway sandbox --from 2026-11-01 --to 2026-11-30"},
        )
    from legato_pay.reconcile.service import check_request, open_source
    from legato_pay.reconcile.service import reconcile as run_reconcile

    start, end = parse_time(from_, "--from"), parse_time(to, "--to")
    assert start is not None and end is not None
    request = check_request(gateway, start, end, to_text=to, file=file, dry_run=dry_run)
    cli = state()
    run = run_reconcile(cli.app, request, open_source(cli.app, request))
    label = "dry run" if run.id is None else f"run {run.id}"
    _emit_run(run, f"reconciliation {label}: {run.gateway}")
    if not run.clean:
        raise Discrepancies(
            f"reconciliation {label} of {run.gateway} found discrepancies: {_counts(run.counts)}",
            details={"run": run.id, "counts": run.counts},
        )


@app.command("list")
def list_runs(
    gateway: Annotated[
        str | None, typer.Option("--gateway", help="Only this gateway's runs.")
    ] = None,
    limit: Annotated[int, typer.Option("--limit", help="How many, newest first.")] = 50,
) -> None:
    """Stored reconciliation runs, newest first."""
    from legato_pay.reconcile.storage import list_runs as stored_runs

    cli = state()
    runs = cli.app.run(lambda s: stored_runs(s, gateway=gateway, limit=limit), write=False)
    emit(
        {"runs": [run.as_json(with_items=False) for run in runs]},
        rows=[_run_row(run) for run in runs],
        columns=_RUN_COLUMNS,
        title="reconciliation runs",
        message=None if runs else "no reconciliation runs",
    )


@app.command("show")
def show(
    run_id: Annotated[str, typer.Argument(help="The run's id.")],
    kind: Annotated[
        str | None,
        typer.Option(
            "--kind",
            help="Only items of this kind: matched | missing_in_ledger | missing_at_gateway | "
            "amount_mismatch | currency_mismatch | status_mismatch.",
        ),
    ] = None,
) -> None:
    """One stored run with its items."""
    from legato_pay.payouts.methods import parse_id
    from legato_pay.reconcile.storage import show_run

    number = parse_id(run_id, field="run")
    cli = state()
    run = cli.app.run(lambda s: show_run(s, number, kind=kind), write=False)
    _emit_run(run, f"reconciliation run {run.id}: {run.gateway}")
