"""``tax certificate``: a writer's withholding-tax credit note for a year, as JSON and HTML.

It names the payer (``tax.payer_name``, ``tax.payer_tin`` in the configuration), the payee (the
writer, their name and tax profile: country, type and TIN exactly as given: a TIN is what a
certificate is for, so it is not masked), each deduction (payout, date paid, gross, rate,
withheld; see ``reporting.tax`` for what counts) and totals per currency. A year without
deductions still gets a certificate: no deductions, no totals, ``"nil": true`` (the payee may
need proof that nothing was withheld). The HTML is one self-contained page (inline style, no
scripts, no external resources) with every value escaped.
"""

from __future__ import annotations

import html
import os
import tempfile
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from legato_pay.config import Settings
from legato_pay.errors import InvalidInput
from legato_pay.ledger.types import utcnow
from legato_pay.money import format_amount
from legato_pay.readers.users import get_user
from legato_pay.reporting.tax import Deduction, deductions, parse_year
from legato_pay.store.tables import TAX_PROFILES

FORMATS = ("html", "json")


@dataclass(frozen=True, slots=True)
class Certificate:
    number: str
    year: int
    payer_name: str
    payer_tin: str | None
    writer: str
    payee_name: str | None
    country: str | None
    payee_type: str | None
    tin: str | None
    issued_at: datetime
    deductions: list[Deduction] = field(default_factory=list)

    def totals(self) -> list[dict[str, Any]]:
        sums: dict[str, list[int]] = {}
        for item in self.deductions:
            figures = sums.setdefault(item.currency, [0, 0, 0])
            figures[0] += 1
            figures[1] += item.gross
            figures[2] += item.withheld
        return [
            {"currency": cur, "deductions": n, "gross_minor": gross, "withheld_minor": withheld}
            for cur, (n, gross, withheld) in sorted(sums.items())
        ]

    def as_json(self) -> dict[str, Any]:
        return {
            "certificate": self.number,
            "year": self.year,
            "issued_at": self.issued_at.isoformat(),
            "payer": {"name": self.payer_name, "tin": self.payer_tin},
            "payee": {
                "writer": self.writer,
                "name": self.payee_name,
                "country": self.country,
                "type": self.payee_type,
                "tin": self.tin,
            },
            "deductions": [item.as_json() for item in self.deductions],
            "totals": self.totals(),
            "nil": not self.deductions,
        }


def build_certificate(
    session: Session,
    settings: Settings,
    *,
    writer: str,
    year: int | str,
    now: datetime | None = None,
) -> Certificate:
    """The certificate's content; USER_NOT_FOUND (5) for an unknown writer, VALIDATION_ERROR
    (3) for a bad year or a user who is not a writer."""
    number = parse_year(year)
    user = get_user(session, writer, kind="writer")
    profile = session.execute(
        select(TAX_PROFILES).where(TAX_PROFILES.c.writer_id == writer)
    ).first()
    return Certificate(
        number=f"WHT-{number}-{writer}",
        year=number,
        payer_name=settings.tax.payer_name,
        payer_tin=settings.tax.payer_tin,
        writer=writer,
        payee_name=user.name,
        country=profile.country if profile else None,
        payee_type=profile.payee_type if profile else None,
        tin=profile.tin if profile else None,
        issued_at=now or utcnow(),
        deductions=deductions(session, writer=writer, year=number),
    )


# -- HTML ---------------------------------------------------------------------------------------

_STYLE = (
    "body{font-family:sans-serif;margin:2em;color:#222}"
    "table{border-collapse:collapse;margin:1em 0}"
    "th,td{border:1px solid #999;padding:4px 8px;text-align:left}"
    "td.n{text-align:right}"
)


def _e(value: object) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def _cells(values: list[tuple[object, bool]], tag: str = "td") -> str:
    return "".join(
        f'<{tag} class="n">{_e(v)}</{tag}>' if numeric else f"<{tag}>{_e(v)}</{tag}>"
        for v, numeric in values
    )


def render_html(certificate: Certificate) -> str:
    """The certificate as one self-contained HTML page, every value escaped."""
    c = certificate
    heads = ["Payout", "Date", "Country", "Gross", "Rate %", "Withheld"]
    rows = "".join(
        "<tr>"
        + _cells(
            [
                (d.payout, True),
                (d.paid_at.date().isoformat(), False),
                (d.country, False),
                (format_amount(d.gross, d.currency), True),
                (d.rate, True),
                (format_amount(d.withheld, d.currency), True),
            ]
        )
        + "</tr>"
        for d in c.deductions
    )
    totals = "".join(
        "<tr>"
        + _cells(
            [
                (t["currency"], False),
                (t["deductions"], True),
                (format_amount(t["gross_minor"], t["currency"]), True),
                (format_amount(t["withheld_minor"], t["currency"]), True),
            ]
        )
        + "</tr>"
        for t in c.totals()
    )
    table = (
        f"<table><tr>{''.join(f'<th>{_e(h)}</th>' for h in heads)}</tr>{rows}</table>"
        if rows
        else "<p>No tax was withheld in this year (nil certificate).</p>"
    )
    total_table = (
        "<table><tr><th>Currency</th><th>Deductions</th><th>Gross</th><th>Withheld</th></tr>"
        f"{totals}</table>"
        if totals
        else ""
    )
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>Withholding tax certificate {_e(c.number)}</title>"
        f"<style>{_STYLE}</style></head><body>"
        f"<h1>Withholding tax credit note {_e(c.year)}</h1>"
        f"<p>Certificate {_e(c.number)}, issued {_e(c.issued_at.date().isoformat())}</p>"
        f"<h2>Payer</h2><p>{_e(c.payer_name)}"
        + (f"<br>TIN {_e(c.payer_tin)}" if c.payer_tin else "")
        + f"</p><h2>Payee</h2><p>{_e(c.payee_name or c.writer)} ({_e(c.writer)})"
        f"<br>Country {_e(c.country or '-')}, {_e(c.payee_type or 'no tax profile')}"
        f"<br>TIN {_e(c.tin or 'none given')}</p>"
        f"<h2>Deductions</h2>{table}"
        + (f"<h2>Totals</h2>{total_table}" if total_table else "")
        + "</body></html>\n"
    )


# -- files ----------------------------------------------------------------------------------------


def output_paths(out: str) -> dict[str, Path]:
    """``--out FILE``: FILE.html or FILE.json writes that one format; any other name writes
    both, FILE.html and FILE.json."""
    if not out or not out.strip():
        raise InvalidInput("--out names a file", details={"field": "out"})
    path = Path(out)
    suffix = path.suffix.lower().lstrip(".")
    if suffix in FORMATS:
        return {suffix: path}
    return {fmt: path.with_name(f"{path.name}.{fmt}") for fmt in FORMATS}


def write_atomically(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` whole or not at all (a temporary file renamed over it)."""
    directory = path.parent if str(path.parent) else Path(".")
    if not directory.is_dir():
        raise InvalidInput(
            f"no directory {directory} to write {path.name} in", details={"out": str(path)}
        )
    handle, temporary = tempfile.mkstemp(dir=directory, prefix=f".{path.name}.")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            stream.write(text)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def write_certificate(certificate: Certificate, out: str) -> list[Path]:
    import json

    written = []
    for fmt, path in output_paths(out).items():
        if fmt == "html":
            text = render_html(certificate)
        else:
            text = json.dumps(certificate.as_json(), indent=2) + "\n"
        write_atomically(path, text)
        written.append(path)
    return written
