"""--chart: bars on one scale, exact figures, readable without colour and on narrow terminals."""

from __future__ import annotations

import pytest

from commands.charts import bar_length, chart_lines, render_chart

ROWS = [
    {"period": "2026-01-01", "paid": 12345, "refunded": -500},
    {"period": "2026-01-02", "paid": 100, "refunded": 0},
]


def test_bars_share_one_scale_and_end_with_exact_amounts() -> None:
    lines = chart_lines(ROWS, "period", ["paid", "refunded"], "USD", width=80)
    prefixes = [prefix.strip() for prefix, _, _, _ in lines]
    assert prefixes == ["2026-01-01 paid", "refunded", "2026-01-02 paid", "refunded"]
    bars = [bar for _, bar, _, _ in lines]
    assert set(bars[0]) == {"█"} and set(bars[1]) == {"░"}  # a negative figure: its own glyph
    prefix, bar, amount, _ = lines[0]
    assert len(f"{prefix}{bar} {amount}") == 80  # the largest figure fills the width exactly
    assert len(bars[2]) == 1 and bars[3] == ""  # small but non-zero: one cell; zero: none
    assert [amount for _, _, amount, _ in lines] == [
        "123.45 USD",
        "-5.00 USD",
        "1.00 USD",
        "0.00 USD",
    ]


def test_bar_length_rounds_half_up_in_integers() -> None:
    assert bar_length(50, 100, 9) == 5 and bar_length(1, 1000, 10) == 1
    assert bar_length(0, 100, 10) == 0 and bar_length(5, 0, 10) == 0


def test_a_narrow_terminal_prints_figures_without_bars() -> None:
    lines = chart_lines(ROWS, "period", ["paid"], None, width=18)
    assert [(bar, amount) for _, bar, amount, _ in lines] == [("", "12345"), ("", "100")]


def test_render_without_colour(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NO_COLOR", "1")
    monkeypatch.setenv("COLUMNS", "60")
    render_chart(ROWS, "period", ["paid", "refunded"], "USD")
    out = capsys.readouterr().out
    assert "\x1b[" not in out
    assert out.splitlines()[0] == "█ paid  ▓ refunded"
    assert all(len(line) <= 60 for line in out.splitlines())
    render_chart([], "period", ["paid"], None)
    assert capsys.readouterr().out == "(nothing to chart)\n"
