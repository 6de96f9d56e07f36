"""``legato-pay ledger …``: accounts, postings, pending/post/void, reversals, balances, verify."""

import functools
import json
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from commands.output import emit, info, parse_time, state
from legato_pay.errors import InvalidInput

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

app = typer.Typer(help="The double-entry ledger: accounts, entries, balances, verification.")


def _entry_json(view: Any) -> dict[str, Any]:
    from legato_pay.money import format_amount

    data: dict[str, Any] = view.as_json()
    for leg in data["legs"]:
        leg["display"] = format_amount(leg["amount"] or leg["pending_amount"], leg["currency"])
    return data


def _emit_entry(view: Any, verb: str) -> None:
    data = _entry_json(view)
    rows = [
        {
            "account": leg["account"],
            "side": leg["side"],
            "amount": leg["display"],
            "kind": "pending" if leg["pending_amount"] else "posted",
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
        int | None, typer.Option("--expires-in", help="Pending only: seconds until it expires.")
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
    if expires_in is not None and expires_in <= 0:
        raise InvalidInput("--expires-in must be positive", details={"expires_in": expires_in})
    spec = ledger.transfer(
        source,
        destination,
        minor,
        code,
        pending=pending,
        idempotency_key=key,
        reason=reason,
        effective_at=parse_time(effective_at, "effective_at"),
        expires_at=utcnow() + timedelta(seconds=expires_in) if expires_in else None,
    )
    cli = state()
    view = ledger.post_entry(cli.app.engine, spec, actor=cli.app.actor)
    _emit_entry(view, "pending" if pending else "posted")


@app.command("post-batch")
def post_batch(
    file: Annotated[
        Path, typer.Argument(help="JSON lines: {from, to, amount, currency, key?, reason?}.")
    ],
) -> None:
    """Post many entries atomically: all of them or, on any error, none."""
    from legato_pay import ledger
    from legato_pay.money import normalize_currency, parse_amount

    specs = []
    try:
        lines = file.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise InvalidInput(
            f"cannot read {file}: {exc.strerror}", details={"file": str(file)}
        ) from None
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
            code = normalize_currency(str(item["currency"]))
            specs.append(
                ledger.transfer(
                    str(item["from"]),
                    str(item["to"]),
                    parse_amount(str(item["amount"]), code),
                    code,
                    pending=bool(item.get("pending", False)),
                    idempotency_key=item.get("key"),
                    reason=item.get("reason"),
                )
            )
        except (ValueError, KeyError, TypeError) as exc:
            raise InvalidInput(
                f"line {number} is not a valid entry: {exc}", details={"line": number}
            ) from None
    if not specs:
        raise InvalidInput("the batch file holds no entries", details={"file": str(file)})
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
    entry_id: Annotated[int, typer.Argument(help="The pending entry.")],
    amount: Annotated[
        str | None, typer.Option("--amount", help="Post only this much; the rest is released.")
    ] = None,
    key: Annotated[str | None, typer.Option("--key")] = None,
    reason: Annotated[str | None, typer.Option("--reason")] = None,
) -> None:
    """Post a pending entry, in full or in part."""
    from legato_pay import ledger
    from legato_pay.money import parse_amount

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
    entry_id: Annotated[int, typer.Argument(help="The pending entry.")],
    key: Annotated[str | None, typer.Option("--key")] = None,
    reason: Annotated[str | None, typer.Option("--reason")] = None,
) -> None:
    """Void a pending entry: the reserved value returns."""
    from legato_pay import ledger

    cli = state()
    view = cli.app.run(
        lambda s: ledger.resolve_pending(
            s, entry_id, post=False, idempotency_key=key, reason=reason, actor=cli.app.actor
        )
    )
    _emit_entry(view, f"voids pending entry {entry_id}")


@app.command("reverse")
def reverse(
    entry_id: Annotated[int, typer.Argument(help="The entry to undo.")],
    reason: Annotated[str, typer.Option("--reason", help="Why (kept in the journal).")],
    key: Annotated[str | None, typer.Option("--key")] = None,
) -> None:
    """Undo a posted entry with a reversing entry that points at it (entries are never edited)."""
    from legato_pay import ledger

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
def show_entry(entry_id: Annotated[int, typer.Argument()]) -> None:
    """Show one entry with its legs."""
    from legato_pay import ledger

    view = state().app.run(lambda s: ledger.get_entry(s, entry_id), write=False)
    _emit_entry(view, f"({view.kind}, {view.status})")


@app.command("balance")
def balance(
    code: Annotated[str, typer.Argument(help="Account code.")],
    as_of: Annotated[
        str | None, typer.Option("--as-of", help="Balance as of this time (ISO 8601).")
    ] = None,
) -> None:
    """Posted, pending and available balance (positive when the account holds value)."""
    from legato_pay import ledger
    from legato_pay.money import format_amount

    moment = parse_time(as_of, "as_of")
    result = state().app.run(lambda s: ledger.get_balance(s, code, as_of=moment), write=False)
    data = result.as_json()
    rows = [
        {"balance": name, "amount": format_amount(data[name], result.currency), "minor": data[name]}
        for name in ("posted", "pending", "available")
    ]
    emit(data, rows=rows, columns=["balance", "amount", "minor"], title=f"{code}")


@app.command("accounts")
def accounts(
    prefix: Annotated[str | None, typer.Option("--prefix", help="Only codes starting so.")] = None,
    limit: Annotated[int, typer.Option("--limit")] = 1000,
) -> None:
    """List accounts with their balances."""
    from legato_pay import ledger
    from legato_pay.ledger.queries import account_totals
    from legato_pay.ledger.types import balance_from_totals
    from legato_pay.money import format_amount

    def work(session: Any) -> list[dict[str, Any]]:
        result = []
        for account in ledger.list_accounts(session, prefix=prefix, limit=limit):
            bal = balance_from_totals(account, account_totals(session, account))
            result.append(
                {
                    "code": account.code,
                    "currency": account.currency,
                    "no_overdraft": account.no_overdraft,
                    "hot": account.hot,
                    "posted": bal.posted,
                    "pending": bal.pending,
                    "available": bal.available,
                    "display": format_amount(bal.posted, account.currency),
                }
            )
        return result

    rows = state().app.run(work, write=False)
    emit(rows, columns=["code", "currency", "no_overdraft", "hot", "display", "available"])


@app.command("history")
def history(
    code: Annotated[str, typer.Argument()],
    limit: Annotated[int, typer.Option("--limit")] = 50,
    cursor: Annotated[
        str | None, typer.Option("--cursor", help="next_cursor from the previous page.")
    ] = None,
) -> None:
    """An account's legs, newest first, a page at a time."""
    from legato_pay import ledger

    page = state().app.run(
        lambda s: ledger.history(s, code, limit=limit, cursor=cursor), write=False
    )
    emit(
        {
            "account": page.account,
            "currency": page.currency,
            "entries": page.rows,
            "next_cursor": page.next_cursor,
        },
        rows=page.rows,
        columns=[
            "entry_id",
            "kind",
            "side",
            "amount",
            "pending_amount",
            "balance_after",
            "created_at",
            "reason",
        ],
        message=f"next page: --cursor {page.next_cursor}" if page.next_cursor else None,
    )


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
    """Recompute every total from the journal and check every invariant; exits 1 if not ok."""
    from legato_pay import chart, ledger

    report = state().app.run(
        lambda s: ledger.verify_ledger(s, expected_account=chart.expected_account), write=False
    )
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
