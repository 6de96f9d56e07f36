"""The demo's last step: the HTML report of the run's own window, written next to the data."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from legato_pay.config import default_data_dir
from legato_pay.ledger.types import utcnow
from legato_pay.reporting.html import SectionRequest, write_report
from legato_pay.reporting.periods import Window

if TYPE_CHECKING:
    from legato_pay.context import AppContext
    from legato_pay.demo.day import DemoSummary

FILE_NAME = "demo-report.html"


def write_demo_report(app: AppContext, summary: DemoSummary, directory: Path | None = None) -> Path:
    """``reports html`` over this run (``started_at`` to ``finished_at``), into ``directory``
    (default: ``$LEGATO_HOME``, else ~/.local/share/legato-pay); returns the file's path."""
    folder = directory or default_data_dir()
    folder.mkdir(parents=True, exist_ok=True)
    window = Window(summary.started_at, summary.finished_at or utcnow(), "this demo run")
    request = SectionRequest(window, "day", None, app.settings)
    written = app.run(lambda s: write_report(s, folder / FILE_NAME, request), write=False)
    return written.path
