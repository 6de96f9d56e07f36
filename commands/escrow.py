"""``legato-pay escrow …``: investors' money held for an app, released by milestones.

This module owns the group: milestones, releases and their approvals, show and list. Disputes
are in ``commands/escrow_disputes.py`` (registered below); escrow-in's deposits and refunds
register onto this same ``app`` from ``commands/escrow_deposits.py``."""

from typing import Annotated, Any

import typer

from commands import escrow_disputes
from commands.apps import check_limit
from commands.output import KeyFileOption, NameOption, YesOption, confirm, emit, state
from legato_pay.errors import InvalidState

app = typer.Typer(help="Escrow: deposits, milestones, releases with approvals, disputes.")
milestones = typer.Typer(help="An app's milestones: percentages of every deposit.")
app.add_typer(milestones, name="milestones")

AppOption = Annotated[str, typer.Option("--app", help="The app (see `apps list`).")]
CursorOption = Annotated[
    str | None, typer.Option("--cursor", help="next_cursor from the previous page.")
]
_MILESTONE_COLUMNS = ["id", "app", "name", "percent", "due", "status", "completed_by"]
_RELEASE_COLUMNS = ["id", "deposit", "app", "milestone", "status", "currency", "amount"]
_RELEASE_TABLE = [*_RELEASE_COLUMNS, "expires_at"]
_RELEASE_CSV = [*_RELEASE_COLUMNS, "amount_minor", "requested_by", "created_at", "expires_at"]
_DEPOSIT_CSV = ["id", "app", "investor", "status", "currency", "amount", "amount_minor"]
_DEPOSIT_CSV.append("created_at")

escrow_disputes.register(app)  # `escrow dispute open|resolve`


def _cursor(value: str | None) -> int | None:
    from legato_pay.payouts.methods import parse_id

    return parse_id(value, field="cursor") if value is not None else None


@milestones.command("add")
def milestones_add(
    app_id: AppOption,
    name: Annotated[str, typer.Option("--name", help="The milestone's name (unique per app).")],
    percent: Annotated[
        str, typer.Option("--percent", help="Its percentage of every deposit (e.g. 12.5).")
    ],
    due: Annotated[str | None, typer.Option("--due", help="Due date, YYYY-MM-DD.")] = None,
) -> None:
    """Add a milestone. An app's milestones never add up to more than 100 % (exit 3
    MILESTONES_OVER_100, nothing added)."""
    from legato_pay.escrow.milestones import add_milestone

    cli = state()
    view = cli.app.run(
        lambda s: add_milestone(
            s, app=app_id, name=name, percent=percent, due=due, actor=cli.app.actor
        )
    )
    emit(view.as_json(), title=f"milestone {view.id} of {view.app}: {view.percent} %")


@milestones.command("list")
def milestones_list(app_id: AppOption) -> None:
    """The app's milestones in the order they were added, with the total percentage."""
    from legato_pay.escrow.milestones import format_bp, list_milestones

    views = state().app.run(lambda s: list_milestones(s, app=app_id), write=False)
    rows = [view.as_json() for view in views]
    total = format_bp(sum(view.percent_bp for view in views))
    emit(
        {"app": app_id, "milestones": rows, "total_percent": total},
        rows=rows,
        columns=_MILESTONE_COLUMNS,
        title=f"milestones of {app_id}",
        totals={"percent": total},
        message=None if rows else f"{app_id} has no milestones",
    )


@milestones.command("complete")
def milestones_complete(
    app_id: AppOption,
    milestone: Annotated[str, typer.Option("--milestone", help="The milestone's name or id.")],
    evidence: Annotated[str, typer.Option("--evidence", help="What shows it is done.")],
) -> None:
    """Mark a milestone completed (once: again is exit 6 INVALID_STATE). With
    ENABLE_AUTOMATIC_RELEASES its share of every confirmed deposit of the app is released."""
    from legato_pay.escrow.releases_auto import complete_milestone

    cli = state()
    done = cli.app.run(
        lambda s: complete_milestone(
            s,
            cli.app.settings,
            app=app_id,
            milestone=milestone,
            evidence=evidence,
            actor=cli.app.actor,
        )
    )
    extra = f", {len(done.released)} automatic releases" if done.released else ""
    emit(done.as_json(), title=f"milestone {done.milestone.name!r} completed{extra}")


def _emit_release(view: Any, title: str, data: dict[str, Any] | None = None) -> None:
    emit(
        data or view.as_json(),
        rows=[view.as_row()],
        columns=_RELEASE_CSV,
        table_columns=_RELEASE_TABLE,
        title=title,
    )


@app.command("release")
def release(
    deposit: Annotated[str, typer.Argument(help="The deposit's id.")],
    milestone: Annotated[
        str, typer.Option("--milestone", help="A completed milestone of the deposit's app.")
    ],
    percentage: Annotated[
        str | None,
        typer.Option("--percentage", help="Percent of the deposit (default: the milestone's)."),
    ] = None,
    amount: Annotated[
        str | None, typer.Option("--amount", help="An exact amount (major units).")
    ] = None,
    key: Annotated[
        str | None, typer.Option("--key", help="Idempotency key: a retry releases nothing twice.")
    ] = None,
    yes: YesOption = False,
) -> None:
    """Release escrowed money to the app's funds for a completed milestone (asks on a terminal;
    --yes for scripts). Below
    escrow.release_threshold it posts at once; at or above it, it is held until
    escrow.required_approvers approvers run `escrow approve`. More than is available: exit 4."""
    from legato_pay.escrow.releases import request_release

    cli = state()
    confirm(f"Release escrow deposit {deposit} for milestone {milestone}?", yes=yes)
    view = cli.app.run(
        lambda s: request_release(
            s,
            cli.app.settings,
            deposit=deposit,
            milestone=milestone,
            percentage=percentage,
            amount=amount,
            key=key,
            actor=cli.app.actor,
        )
    )
    note = " (idempotent replay of the original)" if view.replayed else ""
    waiting = " awaiting approval" if view.status == "held" else ""
    _emit_release(view, f"release {view.id} {view.status}{waiting}{note}")


def _subject(value: str) -> tuple[str, str]:
    """``RELEASE`` (an id) or ``dispute:<id>``."""
    if value.startswith("dispute:"):
        return "dispute", value.removeprefix("dispute:")
    return "release", value


@app.command("approve")
def approve(
    subject: Annotated[
        str, typer.Argument(help="A held release's id, or dispute:<id> for a resolution.")
    ],
    key_file: KeyFileOption,
    name: NameOption = None,
) -> None:
    """Approve a held release (or a dispute's resolution) by signing its content with your
    key. It posts once escrow.required_approvers approvers of app:<A> have signed within
    escrow.approval_ttl_hours. The requester, a key off the list: exit 8 UNAUTHORIZED."""
    from legato_pay.approvals.keys import load_private_key

    cli = state()
    kind, number = _subject(subject)
    key = load_private_key(key_file)
    if kind == "dispute":
        escrow_disputes.approve_resolution_command(number, key, name)
        return
    from legato_pay.escrow.releases_approvals import approve_release

    outcome = cli.app.run(
        lambda s: approve_release(
            s, cli.app.settings, number, key=key, name=name, actor=cli.app.actor
        )
    )
    view = outcome.release
    if outcome.expired_now:
        raise InvalidState(
            f"escrow release {view.id} expired (its approvals did not arrive within "
            "escrow.approval_ttl_hours): its held money is back in escrow",
            details={"release": view.id, "status": view.status},
            code="RELEASE_EXPIRED",
        )
    counted = f"{len(outcome.approvers)} of {outcome.required} approvals"
    note = " (already signed by this approver: counted once)" if outcome.replayed else ""
    _emit_release(view, f"release {view.id} {view.status}: {counted}{note}", outcome.as_json())


@app.command("reject")
def reject(
    subject: Annotated[
        str, typer.Argument(help="A held release's id, or dispute:<id> for a resolution.")
    ],
    reason: Annotated[str, typer.Option("--reason", help="Why (signed, kept in the timeline).")],
    key_file: KeyFileOption,
    name: NameOption = None,
    yes: YesOption = False,
) -> None:
    """Reject a held release as an approver (its held money is back in escrow) or a dispute's
    resolution (the dispute is open again). Not an approver, the requester: exit 8."""
    from legato_pay.approvals.keys import load_private_key
    from legato_pay.escrow.signing import check_reason

    cli = state()
    kind, number = _subject(subject)
    check_reason(reason)
    key = load_private_key(key_file)
    confirm(f"Reject {subject}?", yes=yes)
    if kind == "dispute":
        escrow_disputes.reject_resolution_command(number, key, name, reason)
        return
    from legato_pay.escrow.releases_approvals import reject_release

    view = cli.app.run(
        lambda s: reject_release(
            s, cli.app.settings, number, key=key, name=name, reason=reason, actor=cli.app.actor
        )
    )
    _emit_release(view, f"release {view.id} {view.status}")


@app.command("expire")
def expire(
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="List the releases due to expire; change nothing.")
    ] = False,
    yes: YesOption = False,
) -> None:
    """Expire held releases past their expiry (requested + escrow.approval_ttl_hours): their
    held money is back in escrow. Safe to run from cron (--yes)."""
    from legato_pay.escrow.releases import list_releases
    from legato_pay.escrow.releases_approvals import expire_due_releases
    from legato_pay.ledger.types import utcnow

    cli = state()
    if dry_run:
        now = utcnow()
        page, _ = cli.app.run(lambda s: list_releases(s, status="held", limit=10000), write=False)
        due = [v.id for v in page if v.expires_at is not None and v.expires_at <= now]
    else:
        confirm("Expire the held releases past their expiry?", yes=yes)
        due = cli.app.run(lambda s: expire_due_releases(s, cli.app.settings, actor=cli.app.actor))
    verb = "would expire" if dry_run else "expired"
    emit(
        {"expired": due, "dry_run": dry_run},
        rows=[{"release": number} for number in due],
        columns=["release"],
        message=f"{verb} {len(due)} held releases",
    )


def _compact(details: dict[str, Any] | None) -> str:
    """A timeline step's details in a table cell: ``key=value`` pairs, nulls left out."""
    if not details:
        return ""
    return ", ".join(f"{key}={value}" for key, value in details.items() if value is not None)


@app.command("show")
def show(deposit: Annotated[str, typer.Argument(help="The deposit's id.")]) -> None:
    """One deposit: balances (deposited, released, refunded, held, available), its releases,
    disputes, and its timeline with actors (approvals included)."""
    from legato_pay.escrow.show import show_deposit

    data = state().app.run(lambda s: show_deposit(s, deposit), write=False)
    if state().output != "json":
        shown = {k: v for k, v in data["balances"].items() if k.endswith("_display")}
        typer.echo(
            f"deposit {data['id']} {data['status']}: {data['investor']} -> {data['app']} "
            + ", ".join(f"{k.removesuffix('_display')} {v}" for k, v in shown.items())
        )
    rows = [step | {"details": _compact(step["details"])} for step in data["timeline"]]
    emit(
        data,
        rows=rows,
        columns=["at", "action", "subject", "amount", "actor", "details"],
        title=f"deposit {data['id']} timeline",
    )


@app.command("list")
def list_(
    app_id: Annotated[str | None, typer.Option("--app", help="Only this app's.")] = None,
    investor: Annotated[
        str | None, typer.Option("--investor", help="Only this investor's.")
    ] = None,
    status: Annotated[
        str | None, typer.Option("--status", help="pending|confirmed|flagged|failed|expired")
    ] = None,
    limit: Annotated[int, typer.Option("--limit")] = 100,
    cursor: CursorOption = None,
) -> None:
    """Escrow deposits, oldest first, a page at a time."""
    from legato_pay.escrow.show import deposit_json, deposit_row_cells, list_deposits

    check_limit(limit)
    after = _cursor(cursor)
    page, last = state().app.run(
        lambda s: list_deposits(
            s, app=app_id, investor=investor, status=status, after=after, limit=limit
        ),
        write=False,
    )
    next_cursor = str(last) if last is not None else None
    emit(
        {"deposits": [deposit_json(row) for row in page], "next_cursor": next_cursor},
        rows=[deposit_row_cells(row) for row in page],
        columns=_DEPOSIT_CSV,
        table_columns=[c for c in _DEPOSIT_CSV if c != "amount_minor"],
        title="escrow deposits",
        next_cursor=next_cursor,
        message=None if page else "no escrow deposits",
    )


@app.command("releases")
def releases(
    deposit: Annotated[str | None, typer.Option("--deposit", help="Only this deposit's.")] = None,
    status: Annotated[
        str | None, typer.Option("--status", help="held|posted|rejected|expired")
    ] = None,
    limit: Annotated[int, typer.Option("--limit")] = 100,
    cursor: CursorOption = None,
) -> None:
    """Escrow releases, oldest first, a page at a time."""
    from legato_pay.escrow.releases import list_releases

    check_limit(limit)
    after = _cursor(cursor)
    page, last = state().app.run(
        lambda s: list_releases(s, deposit=deposit, status=status, after=after, limit=limit),
        write=False,
    )
    next_cursor = str(last) if last is not None else None
    emit(
        {"releases": [view.as_json() for view in page], "next_cursor": next_cursor},
        rows=[view.as_row() for view in page],
        columns=_RELEASE_CSV,
        table_columns=_RELEASE_TABLE,
        title="escrow releases",
        next_cursor=next_cursor,
        message=None if page else "no escrow releases",
    )


from commands import escrow_deposits  # noqa: E402,F401  (registers deposits, confirm and refunds on ``app``)
