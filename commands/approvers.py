"""``legato-pay approvers …``: Approver keys and lists for payouts and escrow (maker-checker)."""

from typing import Annotated

import typer

from commands.output import YesOption, confirm, emit, state

app = typer.Typer(help="Approver keys and lists for payouts and escrow (maker-checker).")

_COLUMNS = ["scope", "name", "fingerprint", "added_by", "added_at"]
ScopeOption = Annotated[
    str, typer.Option("--scope", help="payouts, or app:<A> for an app's escrow releases.")
]


@app.command("keygen")
def keygen(
    out: Annotated[
        str,
        typer.Option("--out", help="Private key file to create (the public key goes to FILE.pub)."),
    ],
) -> None:
    """Create an Ed25519 key pair: the private key in FILE (mode 0600, never overwritten: exit
    6 ALREADY_EXISTS), the public key in FILE.pub for `approvers add`."""
    from legato_pay.approvals.keys import keygen as make_keys

    made = make_keys(out)
    emit(
        made,
        columns=["private_key_file", "public_key_file", "fingerprint"],
        title="approver key pair",
    )


@app.command("add")
def add(
    scope: ScopeOption,
    name: Annotated[str, typer.Option("--name", help="The approver's name on the list.")],
    public_key: Annotated[
        str, typer.Option("--public-key", help="The approver's FILE.pub from `approvers keygen`.")
    ],
) -> None:
    """Put an approver and their public key on a scope's list (exit 6 if the name or key is
    already on it, 5 if the app of app:<A> is unknown)."""
    from legato_pay.approvals.approvers import add_approver
    from legato_pay.approvals.keys import read_public_key

    key = read_public_key(public_key)
    cli = state()
    view = cli.app.run(
        lambda s: add_approver(s, scope=scope, name=name, public_key=key, actor=cli.app.actor)
    )
    emit(view.as_json(), title=f"approver {view.name} ({view.scope})")


@app.command("list")
def list_(
    scope: Annotated[
        str | None, typer.Option("--scope", help="Only this scope (payouts or app:<A>).")
    ] = None,
) -> None:
    """Active approvers by scope and name, with their key fingerprints."""
    from legato_pay.approvals.approvers import list_approvers

    views = state().app.run(lambda s: list_approvers(s, scope=scope), write=False)
    rows = [view.as_json() for view in views]
    emit(rows, columns=_COLUMNS, message=None if rows else "no approvers yet")


@app.command("remove")
def remove(
    scope: ScopeOption,
    name: Annotated[str, typer.Option("--name", help="The approver to take off the list.")],
    yes: YesOption = False,
) -> None:
    """Take an approver off a scope's list; their pending approvals become void (exit 5
    APPROVER_NOT_FOUND if they are not on it)."""
    import legato_pay.payouts.approvals  # noqa: F401  (registers its approver-removed hook)
    from legato_pay.approvals.approvers import get_approver, remove_approver

    cli = state()
    cli.app.run(lambda s: get_approver(s, scope, name), write=False)
    confirm(f"Remove approver {name} from {scope} and void their pending approvals?", yes=yes)
    view, voided = cli.app.run(
        lambda s: remove_approver(s, scope=scope, name=name, actor=cli.app.actor)
    )
    subjects = [f"{kind}:{subject}" for kind, subject in voided]
    emit(
        view.as_json() | {"removed": True, "voided_subjects": subjects},
        title=f"removed approver {view.name} ({view.scope})",
    )
