"""A revenue run in a process of its own, for the kill -9 and concurrency tests.

    python -m tests.revenue.runner DATABASE_URL PERIOD STARTED_FILE RELEASE_FILE

Posts two entries per batch; after the first batch (inside the run's transaction) it creates
STARTED_FILE and waits for RELEASE_FILE, so a test can kill it or race it mid-run. Prints the
run as JSON, or ``{"error": …}`` with the error's exit status.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from legato_pay.context import AppContext
from legato_pay.errors import LegatoError
from legato_pay.revenue import runs
from tests.revenue.helpers import AFTER


def main() -> int:
    url, period, started, release = sys.argv[1:5]
    runs.BATCH = 2
    app = AppContext.create(database_url=url, actor="runner")

    def pause(done: int, total: int) -> None:
        if done == 2:
            Path(started).write_text("started")
            while not Path(release).exists():
                time.sleep(0.02)

    try:
        [view] = runs.run_revenue(app, period=period, now=AFTER, progress=pause)
    except LegatoError as error:
        print(json.dumps({"error": error.as_dict()}))
        return error.exit_status
    print(json.dumps(view.as_json()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
