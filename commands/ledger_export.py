"""``legato-pay ledger export``: the books for an accounting tool (``legato_pay.ledger.export``),
to a file written whole or to stdout. Registered in the ``ledger`` group (``commands/ledger.py``).
"""

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from commands.output import emit, info, parse_range, state
from legato_pay.errors import InvalidInput, UsageError

if TYPE_CHECKING:
    from sqlalchemy.orm import Session


def export(
    book_format: Annotated[
        str, typer.Option("--format", help="beancount, hledger or csv (one row per posted leg).")
    ],
    since: Annotated[
        str | None, typer.Option("--from", help="Only legs created at or after (ISO 8601).")
    ] = None,
    until: Annotated[
        str | None,
        typer.Option("--to", help="Only legs created before (ISO 8601); default: every leg."),
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option(
            "--out", help="Write here (replaced whole, only once complete); default: stdout."
        ),
    ] = None,
) -> None:
    """The books for an accounting tool: posted value as beancount or hledger journals (with
    opening balances at --from and balance assertions at --to) or CSV legs; streamed."""
    from legato_pay.ledger.export import EXPORT_FORMATS, export_ledger

    if book_format not in EXPORT_FORMATS:
        raise InvalidInput(
            f"--format must be one of {', '.join(EXPORT_FORMATS)}",
            details={"format": book_format[:100], "formats": list(EXPORT_FORMATS)},
        )
    start, end = parse_range(since, until)
    cli = state()
    if out is None and cli.output == "json":
        raise UsageError(
            "under --output json stdout holds the summary: give the books a file (--out FILE)",
            details={"field": "--out"},
        )

    def work(session: "Session", stream: Any) -> Any:
        return export_ledger(session, stream, format=book_format, start=start, end=end)

    if out is None:
        summary = cli.app.run(lambda s: work(s, sys.stdout), write=False)
        sys.stdout.flush()
        info(
            f"exported {summary.entries} entries ({summary.legs} legs), {summary.accounts} accounts"
        )
        return

    def into_file(stream: Any) -> Any:
        def attempt(session: "Session") -> Any:
            stream.seek(0)  # a retried attempt starts the file again
            stream.truncate()
            return work(session, stream)

        return cli.app.run(attempt, write=False)

    summary = _export_to_file(out, into_file)
    data = {**summary.as_json(), "file": str(out)}
    emit(
        data,
        message=f"exported {summary.entries} entries ({summary.legs} legs), "
        f"{summary.accounts} accounts to {out}",
    )


def _unwritable(path: Path, reason: str) -> InvalidInput:
    return InvalidInput(f"cannot write {path}: {reason}", details={"file": str(path)})


def _export_to_file(path: Path, write: Any) -> Any:
    """Run ``write(stream)`` into a file beside ``path`` and move it into place only once it
    is complete: a failed export never leaves half a file. A path that names something other
    than a regular file (a directory, ``/dev/null``) is refused rather than replaced; that and
    unwritable paths are ``VALIDATION_ERROR``."""
    import os
    import tempfile

    try:
        if os.path.lexists(path) and not (path.is_file() and not path.is_symlink()):
            raise _unwritable(path, "not a regular file (the books replace a file whole)")
    except (OSError, ValueError):
        raise _unwritable(path, "cannot be checked") from None
    try:
        descriptor, temporary = tempfile.mkstemp(
            prefix=f".{path.name}.", suffix=".part", dir=path.parent if str(path.parent) else "."
        )
    except OSError as exc:
        raise _unwritable(path, exc.strerror or "unwritable") from None
    try:
        with open(descriptor, "w", encoding="utf-8", newline="") as stream:
            result = write(stream)
        os.replace(temporary, path)
    except OSError as exc:
        raise _unwritable(path, exc.strerror or "unwritable") from None
    finally:
        if os.path.exists(temporary):
            os.unlink(temporary)
    return result
