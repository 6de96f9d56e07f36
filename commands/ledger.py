"""``legato-pay ledger …``: accounts, postings, pending/post/void, reversals, balances, verify."""

import functools
import re
import time
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from commands import ledger_read
from commands.output import (
    YesOption,
    confirm,
    emit,
    info,
    money_cell,
    parse_time,
    state,
)
from legato_pay.errors import InvalidInput

if TYPE_CHECKING:
    from sqlalchemy.orm import Session


app = typer.Typer(help="The double-entry ledger: accounts, entries, balances, verification.")

_WHOLE_NUMBER = re.compile(r"[0-9]{1,19}", re.ASCII)
#: Ids are 64-bit signed integers in both databases.
MAX_ID = 2**63 - 1
#: The most rows one page of ``accounts`` or ``history`` returns.
MAX_PAGE = 10000
#: The longest a pending entry may wait (ten years, in seconds).
MAX_EXPIRES_IN = 10 * 366 * 24 * 3600

IdArgument = Annotated[str, typer.Argument(metavar="ID", help="The entry's id.")]


def whole_number(value: str, field: str, *, low: int = 1, high: int = MAX_ID) -> int:
    """A number typed by a person: ASCII digits only, within bounds (a huge id or limit is
    ``VALIDATION_ERROR`` here, never an overflow in the database)."""
    if not _WHOLE_NUMBER.fullmatch(value) or not low <= int(value) <= high:
        raise InvalidInput(
            f"{field} must be a whole number from {low} to {high} (digits 0-9)",
            details={"field": field, "value": value[:100]},
        )
    return int(value)


def _entry_json(view: Any) -> dict[str, Any]:
    data: dict[str, Any] = view.as_json()
    data["legs"] = [
        {
            "account": leg["account"],
            "currency": leg["currency"],
            "side": leg["side"],
            "amount_minor": leg["amount"],
            "pending_amount_minor": leg["pending_amount"],
            "display": money_cell(leg["amount"] or leg["pending_amount"], leg["currency"]),
        }
        for leg in data["legs"]
    ]
    return data


def _emit_entry(view: Any, verb: str) -> None:
    data = _entry_json(view)
    rows = [
        {
            "account": leg["account"],
            "side": leg["side"],
            "amount": leg["display"],
            "kind": "pending" if leg["pending_amount_minor"] else "posted",
        }
        for leg in data["legs"]
    ]
    note = " (idempotent replay of the original)" if view.replayed else ""
    emit(
        data,
        rows=rows,
        columns=["account", "side", "amount", "kind"],
        title=f"entry {view.id} {verb}{note}",
    )


@app.command("open")
def open_account(
    code: Annotated[str, typer.Argument(help="Unique account code, e.g. user:42:coins:paid.")],
    currency: Annotated[str, typer.Option("--currency", "-c", help="ISO code or COIN.")],
    no_overdraft: Annotated[
        bool, typer.Option("--no-overdraft", help="Debits may never exceed credits.")
    ] = False,
    hot: Annotated[
        bool,
        typer.Option(
            "--hot", help="System account with many postings: totals rolled up at each seal."
        ),
    ] = False,
    normal: Annotated[
        str, typer.Option("--normal", help="Normal side: credit (holds value) or debit.")
    ] = "credit",
    meta: Annotated[
        list[str] | None, typer.Option("--meta", help="Metadata KEY=VALUE (repeatable).")
    ] = None,
) -> None:
    """Open an account (codes under user:, writer:, platform:, gateway:, subscriptions:pool:,
    world:, escrow:, app:, investor: are the services' own: refused)."""
    from legato_pay import chart

    metadata = {}
    for item in meta or []:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise InvalidInput("--meta takes KEY=VALUE", details={"meta": item})
        metadata[key] = value
    cli = state()
    account = cli.app.run(
        lambda s: chart.open_operator_account(
            s,
            code,
            currency,
            no_overdraft=no_overdraft,
            hot=hot,
            normal_side=normal,  # type: ignore[arg-type]
            metadata=metadata or None,
        )
    )
    emit(
        {
            "id": account.id,
            "code": account.code,
            "currency": account.currency,
            "normal_side": account.normal_side,
            "no_overdraft": account.no_overdraft,
            "hot": account.hot,
            "metadata": account.metadata,
        }
    )


@app.command("post")
def post(
    source: Annotated[str, typer.Option("--from", help="Account the value leaves (debited).")],
    destination: Annotated[str, typer.Option("--to", help="Account the value reaches.")],
    amount: Annotated[str, typer.Option("--amount", help="Decimal amount, e.g. 12.50.")],
    currency: Annotated[str, typer.Option("--currency", "-c")],
    key: Annotated[
        str | None, typer.Option("--key", help="Idempotency key: a retry posts nothing twice.")
    ] = None,
    pending: Annotated[
        bool, typer.Option("--pending", help="Reserve now; post or void later.")
    ] = False,
    expires_in: Annotated[
        str | None,
        typer.Option(
            "--expires-in", metavar="SECONDS", help="Pending only: seconds until it expires."
        ),
    ] = None,
    reason: Annotated[str | None, typer.Option("--reason")] = None,
    effective_at: Annotated[
        str | None, typer.Option("--effective-at", help="Business time (ISO 8601).")
    ] = None,
) -> None:
    """Move value from one account to another in one balanced entry (`world:CUR` is unlimited)."""
    from legato_pay import ledger
    from legato_pay.ledger.types import utcnow
    from legato_pay.money import normalize_currency, parse_amount

    code = normalize_currency(currency)
    minor = parse_amount(amount, code)
    seconds = (
        None
        if expires_in is None
        else whole_number(expires_in, "--expires-in", high=MAX_EXPIRES_IN)
    )
    spec = ledger.transfer(
        source,
        destination,
        minor,
        code,
        pending=pending,
        idempotency_key=key,
        reason=reason,
        effective_at=parse_time(effective_at, "--effective-at"),
        expires_at=utcnow() + timedelta(seconds=seconds) if seconds else None,
    )
    cli = state()
    view = ledger.post_entry(cli.app.engine, spec, actor=cli.app.actor)
    _emit_entry(view, "pending" if pending else "posted")


@app.command("post-batch")
def post_batch(
    file: Annotated[
        Path,
        typer.Argument(
            help="JSON lines: {from, to, amount, currency, key?, reason?, pending?}; amount a "
            'decimal string ("12.50"), pending true/false. At most 16 MiB.'
        ),
    ],
) -> None:
    """Post many entries atomically: all of them or, on any error, none."""
    from legato_pay import ledger
    from legato_pay.ledger.batch import parse_batch, read_batch_file

    specs = parse_batch(read_batch_file(file))
    cli = state()
    views = cli.app.run(lambda s: ledger.post_entries(s, specs, actor=cli.app.actor))
    emit(
        {
            "posted": sum(not v.replayed for v in views),
            "replayed": sum(v.replayed for v in views),
            "entry_ids": [v.id for v in views],
        },
    )


@app.command("post-pending")
def post_pending(
    entry: Annotated[str, typer.Argument(metavar="ID", help="The pending entry.")],
    amount: Annotated[
        str | None, typer.Option("--amount", help="Post only this much; the rest is released.")
    ] = None,
    key: Annotated[str | None, typer.Option("--key")] = None,
    reason: Annotated[str | None, typer.Option("--reason")] = None,
) -> None:
    """Post a pending entry, in full or in part."""
    from legato_pay import ledger
    from legato_pay.money import parse_amount

    entry_id = whole_number(entry, "ID")
    cli = state()

    def work(session: Any) -> Any:
        minor = None
        if amount is not None:
            currency = ledger.get_entry(session, entry_id).legs[0].currency
            minor = parse_amount(amount, currency)
        return ledger.resolve_pending(
            session,
            entry_id,
            post=True,
            amount=minor,
            idempotency_key=key,
            reason=reason,
            actor=cli.app.actor,
        )

    _emit_entry(cli.app.run(work), "posts pending entry " + str(entry_id))


@app.command("void")
def void(
    entry: Annotated[str, typer.Argument(metavar="ID", help="The pending entry.")],
    key: Annotated[str | None, typer.Option("--key")] = None,
    reason: Annotated[str | None, typer.Option("--reason")] = None,
    yes: YesOption = False,
) -> None:
    """Void a pending entry: the reserved value returns (asks first; --yes for scripts)."""
    from legato_pay import ledger

    entry_id = whole_number(entry, "ID")
    confirm(f"Void pending entry {entry_id}?", yes=yes)
    cli = state()
    view = cli.app.run(
        lambda s: ledger.resolve_pending(
            s, entry_id, post=False, idempotency_key=key, reason=reason, actor=cli.app.actor
        )
    )
    _emit_entry(view, f"voids pending entry {entry_id}")


@app.command("reverse")
def reverse(
    entry: Annotated[str, typer.Argument(metavar="ID", help="The entry to undo.")],
    reason: Annotated[str, typer.Option("--reason", help="Why (kept in the journal).")],
    key: Annotated[str | None, typer.Option("--key")] = None,
    yes: YesOption = False,
) -> None:
    """Undo a posted entry with a reversing entry that points at it (entries are never edited;
    asks first, --yes for scripts)."""
    from legato_pay import ledger

    entry_id = whole_number(entry, "ID")
    confirm(f"Reverse entry {entry_id}?", yes=yes)
    cli = state()
    view = cli.app.run(
        lambda s: ledger.reverse_entry(
            s, entry_id, reason=reason, idempotency_key=key, actor=cli.app.actor
        )
    )
    _emit_entry(view, f"reverses entry {entry_id}")


def _void_expired(session: "Session", *, entry_id: int, actor: str) -> object:
    from legato_pay import ledger

    return ledger.resolve_pending(session, entry_id, post=False, reason="expired", actor=actor)


@app.command("expire")
def expire() -> None:
    """Void every pending entry whose expiry has passed (for cron)."""
    from legato_pay import ledger

    cli = state()
    ids = cli.app.run(lambda s: ledger.expired_pending_ids(s), write=False)
    voided = []
    for entry_id in ids:
        try:
            cli.app.run(functools.partial(_void_expired, entry_id=entry_id, actor=cli.app.actor))
            voided.append(entry_id)
        except Exception as exc:  # resolved concurrently: nothing left to expire
            from legato_pay.errors import InvalidState

            if not isinstance(exc, InvalidState):
                raise
    emit({"voided": voided}, message=f"voided {len(voided)} expired pending entries")


@app.command("entry")
def show_entry(entry: IdArgument) -> None:
    """Show one entry with its legs."""
    from legato_pay import ledger

    entry_id = whole_number(entry, "ID")
    view = state().app.run(lambda s: ledger.get_entry(s, entry_id), write=False)
    _emit_entry(view, f"({view.kind}, {view.status})")


ledger_read.register(app)  # `ledger balance|accounts|history` (reading)


@app.command("seal")
def seal() -> None:
    """Extend the tamper-evident hash chain over every entry not yet sealed (run from cron)."""
    from legato_pay import ledger

    cli = state()
    result = cli.app.run(
        lambda s: ledger.seal(
            s, actor=cli.app.actor, batch_size=cli.app.settings.ledger.seal_batch_size
        )
    )
    emit(result.as_json())


@app.command("verify")
def verify() -> None:
    """Recompute every total from the journal and check every invariant, and every stored
    approval signature (APPROVAL_BAD_SIGNATURE, ...); exits 1 if not ok."""
    from legato_pay import chart, ledger
    from legato_pay.approvals import verify_approvals

    def check(session: Any) -> Any:
        report = ledger.verify_ledger(session, expected_account=chart.expected_account)
        for problem in verify_approvals(session):  # stored approval signatures, re-checked
            details = {k: v for k, v in problem.items() if k not in ("code", "message")}
            report.add(problem["code"], problem["message"], **details)
        return report

    from legato_pay.health import record_verify

    started = time.perf_counter()
    report = state().app.run(check, write=False)
    elapsed = round((time.perf_counter() - started) * 1000)
    state().app.run(lambda s: record_verify(s, report, elapsed))  # for `legato-pay health`
    emit(
        report.as_json(),
        rows=report.problems,
        columns=["code", "message"],
        message=(
            f"ok: {report.accounts} accounts, {report.entries} entries "
            f"({report.sealed_entries} sealed), no problems"
            if report.ok
            else f"NOT OK: {report.problem_count} problems"
        ),
    )
    if not report.ok:
        info("ledger verify found problems")
        raise typer.Exit(1)


from commands.ledger_export import export  # noqa: E402  (its own module: ledger.py is long)

app.command("export")(export)
