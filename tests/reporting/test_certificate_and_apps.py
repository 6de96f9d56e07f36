"""``tax certificate`` (JSON totals, HTML escaping, nil certificates, files) and ``reports apps``
(distributions per app and month of the record date), on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import update

from legato_pay.errors import InvalidInput, NotFound
from legato_pay.reporting.apps import apps_report
from legato_pay.reporting.certificate import (
    build_certificate,
    output_paths,
    render_html,
    write_certificate,
)
from legato_pay.shares.distributions import distribute_revenue
from legato_pay.store.tables import USERS
from tests.reporting.payout_story import NGN, build_story
from tests.shares.helpers import issue, make_app

HOSTILE = '<script>alert("x")</script> & Co'


def _certificate(app: Any, writer: str, year: int = 2026) -> Any:
    return app.run(
        lambda s: build_certificate(s, app.settings, writer=writer, year=year), write=False
    )


def test_certificate_lists_each_deduction_with_totals(app: Any, tmp_path: Path) -> None:
    ids = build_story(app)
    app.run(lambda s: s.execute(update(USERS).where(USERS.c.id == "wendy").values(name=HOSTILE)))
    made = _certificate(app, "wendy")
    data = made.as_json()
    assert data["payer"] == {"name": "Legato", "tin": None}
    assert data["payee"] == {
        "writer": "wendy",
        "name": HOSTILE,
        "country": "NG",
        "type": "individual",
        "tin": "12345678-0001",  # as given: a certificate is what the TIN is for
    }
    assert [(d["payout"], d["date"], d["withheld_minor"]) for d in data["deductions"]] == [
        (ids["P1"], "2026-03-06", 500 * NGN),
        (ids["P2"], "2026-04-01", 3_000 * NGN),
    ]
    assert data["totals"] == [
        {
            "currency": "NGN",
            "deductions": 2,
            "gross_minor": 70_000 * NGN,
            "withheld_minor": 3_500 * NGN,
        }
    ]
    assert data["nil"] is False

    page = render_html(made)
    assert (
        "<script>" not in page
        and "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; Co" in page
    )
    assert "3,500.00 NGN" in page and "12345678-0001" in page
    assert "http" not in page  # self-contained: nothing loaded from elsewhere

    written = write_certificate(made, str(tmp_path / "wendy-2026"))
    assert sorted(p.name for p in written) == ["wendy-2026.html", "wendy-2026.json"]
    assert json.loads((tmp_path / "wendy-2026.json").read_text())["totals"] == data["totals"]


def test_nil_certificate_and_refusals(app: Any, tmp_path: Path) -> None:
    build_story(app)
    nil = _certificate(app, "ann").as_json()  # no tax profile: nothing withheld
    assert (nil["deductions"], nil["totals"], nil["nil"]) == ([], [], True)
    assert "nil certificate" in render_html(_certificate(app, "wendy", 2025))
    with pytest.raises(NotFound) as unknown:
        _certificate(app, "nobody")
    assert unknown.value.code == "USER_NOT_FOUND"
    with pytest.raises(InvalidInput):
        _certificate(app, "wendy", year=20260)
    assert list(output_paths(str(tmp_path / "c.JSON"))) == ["json"]
    assert list(output_paths(str(tmp_path / "c.html"))) == ["html"]
    with pytest.raises(InvalidInput):
        output_paths(" ")
    with pytest.raises(InvalidInput):
        write_certificate(_certificate(app, "ann"), str(tmp_path / "missing" / "c.json"))


MARCH = datetime(2026, 3, 1, tzinfo=UTC)


def _distribute(app: Any, app_id: str, amount: str, currency: str, record: datetime) -> None:
    app.run(
        lambda s: distribute_revenue(
            s, actor="test", app_id=app_id, amount=amount, currency=currency, record_date=record
        )
    )


def test_apps_report_per_app_month_and_currency(app: Any) -> None:
    make_app(app, "quill", "alice", "bob", "carol")
    issue(app, "alice", 3, at=MARCH)
    issue(app, "bob", 1, at=MARCH)
    _distribute(app, "quill", "100.00", "USD", MARCH + timedelta(days=9))
    _distribute(app, "quill", "40.00", "USD", MARCH + timedelta(days=30))  # 31 March
    _distribute(app, "quill", "8000.00", "NGN", MARCH + timedelta(days=20))
    issue(app, "carol", 4, at=MARCH + timedelta(days=32))
    _distribute(app, "quill", "10.00", "USD", MARCH + timedelta(days=40))  # April, 3 holders

    report = app.run(lambda s: apps_report(s, app="quill", year="2026"), write=False).as_json()
    assert report["rows"] == [
        {"app": "quill", "period": "2026-03", "currency": "NGN", "distributions": 1,
         "amount_minor": 800_000, "investors": 2},
        {"app": "quill", "period": "2026-03", "currency": "USD", "distributions": 2,
         "amount_minor": 14_000, "investors": 2},
        {"app": "quill", "period": "2026-04", "currency": "USD", "distributions": 1,
         "amount_minor": 1_000, "investors": 3},
    ]  # fmt: skip
    assert report["totals"] == [
        {"currency": "NGN", "distributions": 1, "amount_minor": 800_000, "investors": 2},
        {"currency": "USD", "distributions": 3, "amount_minor": 15_000, "investors": 3},
    ]
    assert app.run(lambda s: apps_report(s, year=2025), write=False).rows == []
    with pytest.raises(NotFound):
        app.run(lambda s: apps_report(s, app="nope"), write=False)
