"""Run one ``legato-pay`` command behind a start gate, for the tests of concurrent commands.

``python tests/start_gate.py GATE ARGS…`` imports the CLI (the slow part), says it is ready by
creating ``GATE.ready-<pid>``, waits until the file ``GATE`` exists, then runs ``ARGS`` through
the real entry point. ``run_parallel`` (``tests/cli_runner.py``) opens the gate only once every
process is ready, so all of them reach their critical section together instead of one after
another as their imports happen to finish: a file-based barrier across interpreters that
``multiprocessing.Barrier`` cannot span (these are separate ``python`` processes, as an
operator's would be).
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

#: How long a process waits for the gate before giving up (the parent died, or never opens it).
GATE_TIMEOUT_SECONDS = 120


def main() -> None:
    gate = Path(sys.argv[1])
    args = sys.argv[2:]
    from commands.main import run

    gate.with_name(f"{gate.name}.ready-{os.getpid()}").touch()
    deadline = time.monotonic() + GATE_TIMEOUT_SECONDS
    while not gate.exists():
        if time.monotonic() > deadline:
            sys.stderr.write("start gate never opened\n")
            sys.exit(99)
        time.sleep(0.002)
    run(args)


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    main()
