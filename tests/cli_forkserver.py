"""A warm ``legato-pay`` launcher for the tests: one interpreter imports the CLI once, then forks
a fresh child process per command.

Each command still runs in its own process, with its own environment, working directory,
stdin/stdout/stderr and exit status, through the real entry point (``commands.main.run``) —
only the ~1 s of imports is paid once instead of per call. The parent never opens a database or
a socket, so children inherit nothing but imported modules.

Protocol: one JSON request per line on stdin ``{"args", "env", "cwd", "timeout"}``; one JSON
answer per line on stdout ``{"status", "stdout", "stderr"}``.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import tempfile
import time


def _child(args: list[str], env: dict[str, str], cwd: str, out: int, err: int) -> None:
    os.environ.clear()
    os.environ.update(env)
    os.chdir(cwd)
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.dup2(out, 1)
    os.dup2(err, 2)
    status = 1
    try:
        from commands.main import run

        run(args)
        status = 0
    except SystemExit as exit_:
        code = exit_.code
        status = code if isinstance(code, int) else (0 if code is None else 1)
    except BaseException:  # pragma: no cover - run() reports errors itself
        import traceback

        traceback.print_exc()
    finally:
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        finally:
            os._exit(status)


#: Modules nearly every command imports after its group (the settings, the application context,
#: the schema check, both database drivers): imported here once instead of in every child, where
#: they took most of a short command's time (``users list``: 1.3-2.0 s a command without them,
#: 0.05-0.6 s with them, at a load average of 15). Importing them reads no setting and opens
#: nothing, so a child still sees only its own environment.
PRELOAD = (
    "legato_pay.config",
    "legato_pay.config_schema",
    "legato_pay.context",
    "legato_pay.store.schema",
    "legato_pay.readers",
    "sqlite3",
    "sqlalchemy.dialects.sqlite.pysqlite",
    "psycopg",
    "sqlalchemy.dialects.postgresql.psycopg",
)


def serve() -> None:
    import importlib

    import commands.main
    import legato_pay.ledger
    import legato_pay.store.tables

    # the imports every command needs, once: all groups, every ledger module (both lazy)
    assert commands.main.app is not None
    for name in legato_pay.ledger.__all__:
        getattr(legato_pay.ledger, name)
    for module in PRELOAD:
        importlib.import_module(module)

    for line in sys.stdin:
        request = json.loads(line)
        with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
            pid = os.fork()
            if pid == 0:
                _child(request["args"], request["env"], request["cwd"], out.fileno(), err.fileno())
            deadline = time.monotonic() + float(request.get("timeout", 120))
            while True:
                done, wait_status = os.waitpid(pid, os.WNOHANG)
                if done:
                    break
                if time.monotonic() > deadline:
                    os.kill(pid, signal.SIGKILL)
                    os.waitpid(pid, 0)
                    wait_status = -1
                    break
                time.sleep(0.002)
            status = os.waitstatus_to_exitcode(wait_status) if wait_status != -1 else -9
            out.seek(0)
            err.seek(0)
            answer = {
                "status": status,
                "stdout": out.read().decode("utf-8", "replace"),
                "stderr": err.read().decode("utf-8", "replace"),
            }
        sys.stdout.write(json.dumps(answer) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    serve()
