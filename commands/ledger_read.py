"""``legato-pay ledger balance|accounts|history``: reading the ledger's balances and legs.
Registered in the ``ledger`` group (``commands/ledger.py``, which owns the postings)."""

from typing import TYPE_CHECKING, Annotated, Any

import typer

from commands.output import emit, money_cell, parse_range, parse_time, state

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from legato_pay.ledger.types import Balance

#: CSV columns (minor units) and table columns (formatted amounts) of the list commands.
ACCOUNT_COLUMNS = [
    "code",
    "currency",
    "no_overdraft",
    "hot",
    "posted_minor",
    "pending_minor",
    "available_minor",
]
HISTORY_COLUMNS = [
    "entry_id",
    "kind",
    "side",
    "currency",
    "amount_minor",
    "pending_amount_minor",
    "balance_after_minor",
    "created_at",
    "reason",
]
HISTORY_TABLE_COLUMNS = [
    "entry_id",
    "kind",
    "side",
    "amount",
    "pending",
    "balance_after",
    "created_at",
    "reason",
]


def balance(
    code: Annotated[str, typer.Argument(help="Account code.")],
    as_of: Annotated[
        str | None,
        typer.Option(
            "--as-of",
            help="Balance as of this time, by when entries were recorded (ISO 8601).",
        ),
    ] = None,
) -> None:
    """Posted, pending and available balance (positive when the account holds value)."""
    from legato_pay.ledger.current import current_balance

    moment = parse_time(as_of, "--as-of")

    def full(session: "Session") -> "Balance":  # as of a time, an unknown code's error, or no file
        from legato_pay import ledger

        return ledger.get_balance(session, code, as_of=moment)

    app = state().app
    result = app.run(full, write=False) if moment else app.read(current_balance(code), full=full)
    data: dict[str, Any] = {"account": result.account, "currency": result.currency}
    for name in ("posted", "pending", "available"):
        data[f"{name}_minor"] = getattr(result, name)
    if result.as_of is not None:
        data["as_of"] = result.as_of.isoformat()
    rows = [
        {"balance": name, "amount": money_cell(getattr(result, name), result.currency)}
        for name in ("posted", "pending", "available")
    ]
    emit(data, rows=rows, columns=["balance", "amount"], title=f"{code}")


def accounts(
    prefix: Annotated[str | None, typer.Option("--prefix", help="Only codes starting so.")] = None,
    limit: Annotated[str, typer.Option("--limit", metavar="N", help="At most 10000.")] = "1000",
    cursor: Annotated[
        str | None, typer.Option("--cursor", help="next_cursor from the previous page.")
    ] = None,
) -> None:
    """List accounts with their balances, by code, a page at a time; totals per currency."""
    from commands.ledger import MAX_PAGE, whole_number
    from legato_pay.ledger.queries import account_page

    size = whole_number(limit, "--limit", high=MAX_PAGE)
    page = state().app.run(
        lambda s: account_page(s, prefix=prefix, limit=size, after=cursor), write=False
    )
    rows = [
        {
            "code": account.code,
            "currency": account.currency,
            "no_overdraft": account.no_overdraft,
            "hot": account.hot,
            "posted_minor": bal.posted,
            "pending_minor": bal.pending,
            "available_minor": bal.available,
            "posted": money_cell(bal.posted, account.currency),
            "available": money_cell(bal.available, account.currency),
        }
        for account, bal in page.accounts
    ]
    totals = {
        currency: {"posted_minor": p, "pending_minor": pe, "available_minor": a}
        for currency, (p, pe, a) in page.totals.items()
    }
    shown = {f"posted {cur}": money_cell(t[0], cur) for cur, t in page.totals.items()}
    emit(
        {"accounts": rows, "totals": totals, "next_cursor": page.next_cursor},
        rows=rows,
        columns=ACCOUNT_COLUMNS,
        table_columns=["code", "no_overdraft", "hot", "posted", "available"],
        totals={"accounts": len(rows), **shown},
        next_cursor=page.next_cursor,
    )


def history(
    code: Annotated[str, typer.Argument()],
    limit: Annotated[str, typer.Option("--limit", metavar="N", help="At most 10000.")] = "50",
    cursor: Annotated[
        str | None, typer.Option("--cursor", help="next_cursor from the previous page.")
    ] = None,
    since: Annotated[
        str | None, typer.Option("--from", help="Only legs created at or after (ISO 8601).")
    ] = None,
    until: Annotated[
        str | None, typer.Option("--to", help="Only legs created before (ISO 8601).")
    ] = None,
) -> None:
    """An account's legs, newest first, a page at a time (next_cursor in every format)."""
    from commands.ledger import MAX_PAGE, whole_number
    from legato_pay import ledger

    page_size = whole_number(limit, "--limit", high=MAX_PAGE)
    start, end = parse_range(since, until)
    page = state().app.run(
        lambda s: ledger.history(s, code, limit=page_size, cursor=cursor, start=start, end=end),
        write=False,
    )
    entries = []
    rows = []
    for leg in page.rows:
        currency = leg["currency"]
        after = leg["balance_after"]
        entry = {
            "entry_id": leg["entry_id"],
            "kind": leg["kind"],
            "side": leg["side"],
            "currency": currency,
            "amount_minor": leg["amount"],
            "pending_amount_minor": leg["pending_amount"],
            "balance_after_minor": after,
            "created_at": leg["created_at"],
            "effective_at": leg["effective_at"],
            "actor": leg["actor"],
            "reason": leg["reason"],
        }
        entries.append(entry)
        rows.append(
            {
                **entry,
                "amount": money_cell(leg["amount"], currency),
                "pending": money_cell(leg["pending_amount"], currency),
                "balance_after": None if after is None else money_cell(after, currency),
            }
        )
    emit(
        {
            "account": page.account,
            "currency": page.currency,
            "entries": entries,
            "next_cursor": page.next_cursor,
        },
        rows=rows,
        columns=HISTORY_COLUMNS,
        table_columns=HISTORY_TABLE_COLUMNS,
        next_cursor=page.next_cursor,
    )


def register(app: typer.Typer) -> None:
    """Add ``balance``, ``accounts`` and ``history`` to the ledger command group ``app``."""
    app.command("balance")(balance)
    app.command("accounts")(accounts)
    app.command("history")(history)
