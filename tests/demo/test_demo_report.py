"""The demo ends by writing the HTML report of its run and saying where it is."""

from __future__ import annotations

from pathlib import Path

from tests.cli_runner import run_cli


def test_the_demo_writes_its_html_report(sqlite_url: str, tmp_path: Path) -> None:
    result = run_cli(sqlite_url, "demo", "--readers", "3", LEGATO_HOME=str(tmp_path), timeout=600)
    assert result.status == 0, result.stderr
    path = Path(result.json["html_report"])
    assert path == tmp_path / "demo-report.html"
    page = path.read_text()
    assert '<section id="gateways">' in page and "<svg" in page and "sandbox" in page
    table = run_cli(
        sqlite_url, "demo", "--readers", "3", output="table", LEGATO_HOME=str(tmp_path), timeout=600
    )
    assert f"HTML report of this run: {path}" in table.stdout
