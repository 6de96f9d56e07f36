"""``legato-pay tax certificate``: a writer's withholding-tax credit note for a year.

Registered on the tax group by ``register(app)`` (``commands.tax`` calls it)."""

from typing import Annotated

import typer

from commands.output import emit, state


def certificate(
    writer: Annotated[str, typer.Option("--writer", help="The writer (payee).")],
    year: Annotated[str, typer.Option("--year", help="The year, e.g. 2026.")],
    out: Annotated[
        str,
        typer.Option(
            "--out",
            help="FILE.html or FILE.json writes that format; any other FILE writes "
            "FILE.html and FILE.json.",
        ),
    ],
) -> None:
    """Write a withholding-tax certificate: payer, payee (TIN as given), each deduction
    (payout, date, gross, rate, withheld) and totals per currency. A year without deductions
    gives a nil certificate. Unknown writer: exit 5 (USER_NOT_FOUND)."""
    from legato_pay.reporting.certificate import build_certificate, output_paths, write_certificate

    cli = state()
    output_paths(out)  # a bad --out is refused before reading anything
    made = cli.app.run(
        lambda s: build_certificate(s, cli.app.settings, writer=writer, year=year), write=False
    )
    written = write_certificate(made, out)
    data = made.as_json() | {"files": [str(path) for path in written]}
    emit(
        data,
        rows=[{"file": str(path)} for path in written],
        columns=["file"],
        title=f"certificate {made.number}: {len(made.deductions)} deductions",
    )


def register(app: typer.Typer) -> None:
    app.command("certificate")(certificate)
