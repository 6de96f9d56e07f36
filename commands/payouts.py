"""``legato-pay payouts …``: Writers' payout methods and payout requests."""

from typing import Annotated, Any

import typer

from commands import payouts_send, tax_profile
from commands.apps import check_limit
from commands.output import KeyFileOption, NameOption, YesOption, confirm, emit, state
from legato_pay.errors import InvalidInput

app = typer.Typer(help="Writers' payouts: methods on file, requests, their status.")
methods = typer.Typer(help="Where writers are paid: bank (Paystack), stripe, sandbox.")
app.add_typer(methods, name="methods")
tax_profile.register(app)  # `payouts tax-profile|tax-profiles` (withholding tax)
payouts_send.register(app)  # `payouts run|verify|finalize` (sending)

WriterOption = Annotated[str, typer.Option("--writer", help="The writer (a user of kind writer).")]
_METHOD_COLUMNS = ["id", "writer", "type", "currency", "account", "account_name", "status"]
_METHOD_COLUMNS += ["changed_at", "recently_changed"]
_PAYOUT_COLUMNS = ["id", "writer", "status", "method", "currency", "gross", "fee", "tax", "net"]
_PAYOUT_CSV = [*_PAYOUT_COLUMNS, "gross_minor", "fee_minor", "tax_minor", "net_minor"]
_PAYOUT_CSV.append("created_at")


def _note(view: Any) -> str:
    return " (idempotent replay of the original)" if view.replayed else ""


@methods.command("add")
def methods_add(
    writer: WriterOption,
    type_: Annotated[str, typer.Option("--type", help="bank | stripe | sandbox.")],
    currency: Annotated[str, typer.Option("--currency", "-c", help="Currency paid to it.")],
    bank_code: Annotated[
        str | None, typer.Option("--bank-code", help="bank: the Paystack bank code (e.g. 058).")
    ] = None,
    account_number: Annotated[
        str | None,
        typer.Option("--account-number", help="bank: the 10-digit NUBAN; sandbox: optional."),
    ] = None,
    account: Annotated[
        str | None, typer.Option("--account", help="stripe: the connected account (acct_…).")
    ] = None,
) -> None:
    """Put a payout method on file. bank: Paystack resolves the account's name and creates a
    transfer recipient first. The account is kept encrypted (LEGATO_ENCRYPTION_KEY) and only
    ever shown as its last four digits."""
    from legato_pay.payouts.methods import add_payout_method, check_new_method

    cli = state()
    request = check_new_method(
        cli.app.settings,
        writer=writer,
        type=type_,
        currency=currency,
        bank_code=bank_code,
        account_number=account_number,
        account=account,
    )
    view = add_payout_method(cli.app, request)
    emit(view.as_json(), title=f"payout method {view.id}{_note(view)}")


@methods.command("list")
def methods_list(
    writer: Annotated[
        str | None, typer.Option("--writer", help="Only this writer's methods.")
    ] = None,
    include_removed: Annotated[
        bool, typer.Option("--include-removed", help="Also list removed methods.")
    ] = False,
) -> None:
    """Payout methods on file (accounts masked), oldest first."""
    from legato_pay.payouts.methods import list_methods

    cli = state()
    views = cli.app.run(
        lambda s: list_methods(s, cli.app.settings, writer=writer, include_removed=include_removed),
        write=False,
    )
    rows = [view.as_json() for view in views]
    emit(
        {"writer": writer, "methods": rows},
        rows=rows,
        columns=_METHOD_COLUMNS,
        title="payout methods" + (f" of {writer}" if writer else ""),
        message=None if rows else "no payout methods on file",
    )


@methods.command("remove")
def methods_remove(
    method_id: Annotated[str, typer.Argument(help="The method's id.")],
    yes: YesOption = False,
) -> None:
    """Retire a payout method (refused while a payout to it is open)."""
    from legato_pay.payouts.methods import parse_id, remove_method

    cli = state()
    number = parse_id(method_id, field="method")
    confirm(f"Remove payout method {number}?", yes=yes)
    view = cli.app.run(lambda s: remove_method(s, cli.app.settings, number, actor=cli.app.actor))
    emit(view.as_json(), title=f"payout method {view.id} removed")


@methods.command("rotate-keys")
def methods_rotate_keys() -> None:
    """Re-encrypt every stored account under the first key of LEGATO_ENCRYPTION_KEY (after
    putting a new key first; then the old key can be dropped)."""
    from legato_pay.payouts.methods import rotate_keys
    from legato_pay.payouts.vault import Vault

    vault = Vault.from_env()
    count = state().app.run(lambda s: rotate_keys(s, vault))
    emit({"rotated": count}, message=f"re-encrypted {count} payout methods", rows=[])


@app.command("request")
def request(
    writer: WriterOption,
    currency: Annotated[str, typer.Option("--currency", "-c", help="The earnings' currency.")],
    amount: Annotated[
        str | None, typer.Option("--amount", help="Gross to pay out (major units, e.g. 150.00).")
    ] = None,
    all_available: Annotated[
        bool, typer.Option("--all", help="Everything released and not yet reserved.")
    ] = False,
    method: Annotated[
        str | None, typer.Option("--method", help="Method id (needed if several in CUR).")
    ] = None,
    key: Annotated[
        str | None, typer.Option("--key", help="Idempotency key: a retry reserves nothing twice.")
    ] = None,
    convert_to: Annotated[
        str | None,
        typer.Option(
            "--convert-to",
            help="Pay in this currency (to a method in it) at the newest fresh rate.",
        ),
    ] = None,
) -> None:
    """Request a payout of released earnings: reserves the gross (a pending ledger entry),
    records fee, withholding tax and net. Below payouts.approval_threshold to a method not
    recently changed it is approved at once; otherwise it awaits approval. --convert-to CUR
    converts the gross at the newest rate (STALE_RATE/NO_RATE, exit 3, if none is fresh)."""
    from legato_pay.payouts.requests import request_payout

    cli = state()
    view = cli.app.run(
        lambda s: request_payout(
            s,
            cli.app.settings,
            actor=cli.app.actor,
            writer=writer,
            currency=currency,
            amount=amount,
            all_available=all_available,
            method=method,
            key=key,
            convert_to=convert_to,
        )
    )
    emit(
        view.as_json(),
        rows=[view.as_row()],
        columns=_PAYOUT_CSV,
        table_columns=_PAYOUT_COLUMNS,
        title=f"payout {view.id} {view.status}{_note(view)}",
    )


@app.command("list")
def list_(
    writer: Annotated[str | None, typer.Option("--writer", help="Only this writer's.")] = None,
    status: Annotated[
        str | None,
        typer.Option("--status", help="requested|approved|sending|paid|failed|reversed|cancelled"),
    ] = None,
    limit: Annotated[int, typer.Option("--limit")] = 100,
    cursor: Annotated[
        str | None, typer.Option("--cursor", help="next_cursor from the previous page.")
    ] = None,
) -> None:
    """Payouts, oldest first, a page at a time."""
    from legato_pay.payouts.methods import parse_id
    from legato_pay.payouts.requests import list_payouts

    check_limit(limit)
    after = parse_id(cursor, field="cursor") if cursor is not None else None
    page, last = state().app.run(
        lambda s: list_payouts(s, writer=writer, status=status, after=after, limit=limit),
        write=False,
    )
    next_cursor = str(last) if last is not None else None
    rows = [view.as_row() for view in page]
    emit(
        {"payouts": [view.as_json() for view in page], "next_cursor": next_cursor},
        rows=rows,
        columns=_PAYOUT_CSV,
        table_columns=_PAYOUT_COLUMNS,
        title="payouts",
        next_cursor=next_cursor,
        message=None if rows else "no payouts",
    )


@app.command("show")
def show(payout_id: Annotated[str, typer.Argument(help="The payout's id.")]) -> None:
    """One payout: gross, fee, tax, net, and its timeline with actors."""
    from legato_pay.payouts.views import get_payout

    view = state().app.run(lambda s: get_payout(s, payout_id), write=False)
    rows = [step.as_json() for step in view.timeline]
    if state().output != "json":
        row = view.as_row()
        typer.echo(
            f"payout {view.id} {view.status}: {row['writer']} via {row['method']} "
            f"gross {row['gross']} fee {row['fee']} tax {row['tax']} net {row['net']}"
        )
    emit(
        view.as_json(),
        rows=rows,
        columns=["at", "action", "from", "to", "actor", "reason"],
        title=f"payout {view.id} timeline",
    )


@app.command("cancel")
def cancel(
    payout_id: Annotated[str, typer.Argument(help="The payout's id.")],
    reason: Annotated[
        str | None, typer.Option("--reason", help="Why (kept in the timeline).")
    ] = None,
    yes: YesOption = False,
) -> None:
    """Cancel a payout before it is sent: its reservation is voided and the money is back in
    the writer's earnings."""
    from legato_pay.payouts.methods import parse_id
    from legato_pay.payouts.status import cancel_payout

    cli = state()
    number = parse_id(payout_id, field="payout")
    if reason is not None and len(reason) > 500:
        raise InvalidInput("--reason is at most 500 characters", details={"field": "reason"})
    confirm(f"Cancel payout {number}?", yes=yes)
    view = cli.app.run(lambda s: cancel_payout(s, number, actor=cli.app.actor, reason=reason))
    emit(
        view.as_json(),
        rows=[view.as_row()],
        columns=_PAYOUT_CSV,
        table_columns=_PAYOUT_COLUMNS,
        title=f"payout {view.id} cancelled",
    )


@app.command("approve")
def approve(
    payout_id: Annotated[str, typer.Argument(help="The payout's id.")],
    key_file: KeyFileOption,
    name: NameOption = None,
) -> None:
    """Approve a payout awaiting approval by signing its content (id, amount, currency, source,
    destination, requester) with your approver key. It becomes approved once
    payouts.required_approvals approvers have signed. Not an approver, a wrong key, or the
    requester: exit 8 UNAUTHORIZED, nothing changes. --actor only labels the timeline."""
    from legato_pay.approvals.keys import load_private_key
    from legato_pay.payouts.approvals import approve_payout
    from legato_pay.payouts.methods import parse_id

    cli = state()
    number = parse_id(payout_id, field="payout")
    key = load_private_key(key_file)
    outcome = cli.app.run(
        lambda s: approve_payout(
            s, cli.app.settings, number, key=key, name=name, actor=cli.app.actor
        )
    )
    view = outcome.payout
    counted = f"{len(outcome.approvers)} of {outcome.required} approvals"
    note = " (already signed by this approver: counted once)" if outcome.replayed else ""
    emit(
        outcome.as_json(),
        rows=[view.as_row()],
        columns=_PAYOUT_CSV,
        table_columns=_PAYOUT_COLUMNS,
        title=f"payout {view.id} {view.status}: {counted}{note}",
    )


@app.command("reject")
def reject(
    payout_id: Annotated[str, typer.Argument(help="The payout's id.")],
    reason: Annotated[str, typer.Option("--reason", help="Why (signed, kept in the timeline).")],
    key_file: KeyFileOption,
    name: NameOption = None,
    yes: YesOption = False,
) -> None:
    """Reject a payout as an approver (signing the rejection with your key): it is cancelled,
    its reservation voided (the money is back in the writer's earnings) and its approvals
    voided. Not an approver, a wrong key, or the requester: exit 8 UNAUTHORIZED."""
    from legato_pay.approvals.keys import load_private_key
    from legato_pay.payouts.approvals import MAX_REASON, reject_payout
    from legato_pay.payouts.methods import parse_id

    cli = state()
    number = parse_id(payout_id, field="payout")
    if not reason.strip() or len(reason) > MAX_REASON:
        raise InvalidInput(f"--reason is 1 to {MAX_REASON} characters", details={"field": "reason"})
    key = load_private_key(key_file)
    confirm(f"Reject payout {number} and return its money to the writer's earnings?", yes=yes)
    view = cli.app.run(
        lambda s: reject_payout(s, number, key=key, name=name, reason=reason, actor=cli.app.actor)
    )
    emit(
        view.as_json(),
        rows=[view.as_row()],
        columns=_PAYOUT_CSV,
        table_columns=_PAYOUT_COLUMNS,
        title=f"payout {view.id} rejected",
    )
