"""``legato-pay escrow dispute open|resolve`` and the dispute side of ``escrow approve|reject
dispute:<id>``; registered on the escrow group by ``register(app)``. Behind
ENABLE_DISPUTE_RESOLUTION (off: exit 14 FEATURE_DISABLED)."""

from typing import Annotated, Any

import typer

from commands.output import emit, state

dispute = typer.Typer(help="Disputes: freeze a deposit, resolve it with approvals.")
ReasonOption = Annotated[str, typer.Option("--reason", help="Why (kept in the timeline).")]


def register(app: typer.Typer) -> None:
    app.add_typer(dispute, name="dispute")


def _emit(view: Any, title: str, data: dict[str, Any] | None = None) -> None:
    emit(data or view.as_json(), title=title)


@dispute.command("open")
def open_(
    deposit: Annotated[str, typer.Argument(help="The deposit's id.")],
    reason: ReasonOption,
) -> None:
    """Open a dispute on a confirmed deposit: its releases and refunds are refused (exit 6
    DEPOSIT_IN_DISPUTE, nothing changes) until the dispute is resolved."""
    from legato_pay.escrow.disputes import open_dispute

    cli = state()
    view = cli.app.run(
        lambda s: open_dispute(
            s, cli.app.settings, deposit=deposit, reason=reason, actor=cli.app.actor
        )
    )
    _emit(view, f"dispute {view.id} open on deposit {view.deposit}")


@dispute.command("resolve")
def resolve(
    dispute_id: Annotated[str, typer.Argument(help="The dispute's id.")],
    reason: ReasonOption,
    release: Annotated[
        bool, typer.Option("--release", help="Everything available goes to the app's funds.")
    ] = False,
    refund: Annotated[
        bool, typer.Option("--refund", help="Everything available goes back to the investor.")
    ] = False,
    split: Annotated[
        str | None,
        typer.Option("--split", help="P/Q: P % to the app, Q % to the investor (P + Q = 100)."),
    ] = None,
) -> None:
    """Ask for a resolution: the dispute becomes resolving; it posts once
    escrow.required_approvers approvers of app:<A> run `escrow approve dispute:<id>`."""
    from legato_pay.escrow.disputes import request_resolution

    cli = state()
    view = cli.app.run(
        lambda s: request_resolution(
            s,
            cli.app.settings,
            dispute_id,
            release=release,
            refund=refund,
            split=split,
            reason=reason,
            actor=cli.app.actor,
        )
    )
    _emit(view, f"dispute {view.id} {view.status}: {view.outcome} awaiting approvals")


def approve_resolution_command(number: str, key: Any, name: str | None) -> None:
    from legato_pay.escrow.disputes_approvals import approve_dispute

    outcome = approve_dispute(state().app, number, key=key, name=name)
    view = outcome.dispute
    counted = f"{len(outcome.approvers)} of {outcome.required} approvals"
    if outcome.refund is not None:
        counted += f", refund {outcome.refund.id} {outcome.refund.status}"
    _emit(view, f"dispute {view.id} {view.status}: {counted}", outcome.as_json())


def reject_resolution_command(number: str, key: Any, name: str | None, reason: str) -> None:
    from legato_pay.escrow.disputes_approvals import reject_resolution

    cli = state()
    view = cli.app.run(
        lambda s: reject_resolution(
            s, cli.app.settings, number, key=key, name=name, reason=reason, actor=cli.app.actor
        )
    )
    _emit(view, f"dispute {view.id} {view.status}: resolution rejected")
