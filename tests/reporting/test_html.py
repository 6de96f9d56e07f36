"""reports html: one self-contained page built from ReportResults, checked as a browser sees it."""

from __future__ import annotations

import shutil
import subprocess
import zlib
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from legato_pay.reporting.html import SECTIONS, SectionRequest, render_result, write_report
from legato_pay.reporting.periods import parse_period
from legato_pay.reporting.result import ReportResult
from legato_pay.reporting.svg import bar_chart
from tests.cli_runner import run_cli
from tests.reporting.ops_month import build_month

JANUARY = parse_period("2026-01")


class Tags(HTMLParser):
    """Counts start tags and collects text."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: dict[str, int] = {}
        self.text: list[str] = []
        self.sections: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags[tag] = self.tags.get(tag, 0) + 1
        if tag == "section":
            self.sections.append(dict(attrs)["id"] or "")

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def parsed(page: str) -> Tags:
    tags = Tags()
    tags.feed(page)
    return tags


def test_sections_registry_names_every_section() -> None:
    assert [name for name, _ in SECTIONS] == ["platform", "writers", "gateways", "coins", "fx"]


def test_result_rendering_escapes_and_formats() -> None:
    result = ReportResult(
        "a <b> title",
        ["label", "amount_minor", "currency"],
        [{"label": "<img src=x onerror=1>", "amount_minor": 123456, "currency": "NGN"}],
        {"count": 1},
        {"paid": [("2026-01-01", 5), ("2026-01-02", -2)]},
        ["amount_minor"],
    )
    html = render_result(result)
    assert "<img" not in html and "&lt;img src=x onerror=1&gt;" in html
    assert "a &lt;b&gt; title" in html and "1,234.56 NGN" in html
    assert html.count("<rect") == 2 + 1  # two bars and one legend swatch
    assert "2026-01-02 paid: -2" in html


def test_bar_chart_scales_to_the_largest_value() -> None:
    svg = bar_chart({"n": [("a", 10), ("b", 5)]})
    assert 'height="176"' in svg and 'height="88"' in svg  # 176 cells of plot for the largest


def test_page_on_the_scripted_month(app: Any, tmp_path: Path) -> None:
    build_month(app)
    out = tmp_path / "report.html"
    request = SectionRequest(JANUARY, "day", None, app.settings)
    written = app.run(lambda s: write_report(s, out, request), write=False)
    page = out.read_text()
    assert written.size == len(page.encode()) and written.sections[2] == "gateways"
    tags = parsed(page)
    assert tags.sections == ["platform", "writers", "gateways", "coins", "fx"]
    ours = section_tags(page)
    assert (ours["gateways"].get("table"), ours["gateways"].get("svg")) == (3, 1)
    assert (ours["fx"].get("table"), ours["fx"].get("svg")) == (2, 1)
    assert all(ours[name].get("h3") for name in ("platform", "writers", "coins"))
    assert "<script" not in page and "http://" not in page.replace("http://www.w3.org/2000/svg", "")
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "19.97 USD" in page


def section_tags(page: str) -> dict[str, dict[str, int]]:
    """Tag counts per ``<section id=…>`` of the page."""
    found = {}
    for part in page.split('<section id="')[1:]:
        name, _, body = part.partition('"')
        found[name] = parsed(body.split("</section>")[0]).tags
    return found


def _distinct_colours(png: bytes) -> int:
    """Distinct pixel values of an 8-bit RGB(A) PNG, decoded with zlib (no imaging library)."""
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    position, chunks, header = 8, [], b""
    while position < len(png):
        length = int.from_bytes(png[position : position + 4], "big")
        kind = png[position + 4 : position + 8]
        data = png[position + 8 : position + 8 + length]
        if kind == b"IHDR":
            header = data
        elif kind == b"IDAT":
            chunks.append(data)
        position += 12 + length
    width = int.from_bytes(header[0:4], "big")
    depth, colour_type = header[8], header[9]
    assert depth == 8 and colour_type in (2, 6)
    channels = 3 if colour_type == 2 else 4
    raw = zlib.decompress(b"".join(chunks))
    stride = width * channels
    seen: set[bytes] = set()
    previous = bytearray(stride)
    index = 0
    while index < len(raw):
        kind, line = raw[index], bytearray(raw[index + 1 : index + 1 + stride])
        index += 1 + stride
        for i in range(stride):
            left = line[i - channels] if i >= channels else 0
            up = previous[i]
            corner = previous[i - channels] if i >= channels else 0
            if kind == 1:
                line[i] = (line[i] + left) & 0xFF
            elif kind == 2:
                line[i] = (line[i] + up) & 0xFF
            elif kind == 3:
                line[i] = (line[i] + (left + up) // 2) & 0xFF
            elif kind == 4:
                guess = left + up - corner
                pa, pb, pc = abs(guess - left), abs(guess - up), abs(guess - corner)
                pick = left if pa <= pb and pa <= pc else up if pb <= pc else corner
                line[i] = (line[i] + pick) & 0xFF
        for i in range(0, stride, channels * 7):  # every 7th pixel is plenty
            seen.add(bytes(line[i : i + channels]))
        previous = line
    return len(seen)


@pytest.mark.skipif(shutil.which("chromium") is None, reason="chromium is not installed")
def test_headless_chromium_sees_tables_and_charts(sqlite_url: str, tmp_path: Path) -> None:
    from legato_pay.context import AppContext

    build_month(AppContext.create(database_url=sqlite_url, actor="test"))
    out = tmp_path / "report.html"
    wrote = run_cli(sqlite_url, "reports", "html", "--period", "2026-01", "--out", str(out))
    assert wrote.status == 0 and wrote.json["path"] == str(out.resolve())
    browser = [
        "chromium",
        "--headless",
        "--disable-gpu",
        "--no-sandbox",
        f"--user-data-dir={tmp_path / 'profile'}",
    ]
    dom = subprocess.run(
        [*browser, "--dump-dom", out.as_uri()], capture_output=True, text=True, timeout=90
    ).stdout
    tags, ours = parsed(dom), section_tags(dom)
    assert tags.sections == ["platform", "writers", "gateways", "coins", "fx"]
    assert ours["gateways"]["table"] == 3 and ours["fx"]["table"] == 2
    assert tags.tags.get("svg", 0) >= 2 and tags.tags.get("rect", 0) > 10
    shot = tmp_path / "out.png"
    subprocess.run(
        [*browser, f"--screenshot={shot}", "--window-size=1200,2000", out.as_uri()],
        capture_output=True,
        timeout=90,
        cwd=tmp_path,
    )
    assert _distinct_colours(shot.read_bytes()) > 5  # text, bars in several colours: not blank


def test_cli_refuses_paths_it_must_not_write(sqlite_url: str, tmp_path: Path) -> None:
    result = run_cli(sqlite_url, "reports", "html", "--out", str(tmp_path / "nope" / "r.html"))
    assert result.status == 3 and result.error["code"] == "VALIDATION_ERROR"
    assert not (tmp_path / "nope").exists()
    for path in ("/dev/null", "/", str(tmp_path), "/proc/self/mem"):
        refused = run_cli(sqlite_url, "reports", "html", "--out", path)
        assert (refused.status, refused.error["code"]) == (3, "VALIDATION_ERROR"), path
    assert Path("/dev/null").is_char_device()  # never replaced by a file
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".report-")] == []
