"""How long ``legato-pay`` takes to start, against ``python -c "import typer"`` in the same run.

Three commands run interleaved (baseline, ``-o json balances show --user U`` on SQLite, ``--help``),
each ``--runs`` times (default 7) after one warm-up round that is not counted (it creates the
database, its schema and the settings cache, as a first real call would). Wall time is read
around each process; CPU time is the operating system's account of the finished child. The
ratios are medians over medians, and the targets apply to wall time:

- ``balances show`` ≤ 5 × the baseline,
- ``--help`` ≤ 2.5 × the baseline.

A fourth process, ``python -c "import typer, pydantic.types, sqlalchemy.orm, …sqlite"``, shows
what any command reading the database through SQLAlchemy pays in imports alone (no target).

Every process gets a bytecode cache in the run's scratch directory (``PYTHONPYCACHEPREFIX``,
filled by the warm-up round), as an installed package has one: a ``PYTHONDONTWRITEBYTECODE``
in the caller's environment would otherwise make each run compile the project's modules again.

``--compare DIR`` also times ``balances show`` and ``--help`` from another checkout of the
project (``python -m commands.main`` run in DIR), interleaved with the rest: a before-and-after
in the same minutes. DIR must have the same schema head (it shares the database).
``--compare-python PYTHON`` runs that checkout with another interpreter (say a virtualenv with
another Typer release) and adds that interpreter's ``import typer`` as a second baseline
(``typer_compared``): the compared commands' ratios are taken against it, since the baseline
moves with the Typer release too.

The load average is printed before and after: figures taken with a load average of 1 or more
are not comparable with idle ones. The exit status is 1 when a target is missed, unless
``--report-only``. ``--quick`` (3 runs) is a smoke test of the script itself.

    .venv/bin/python bench/cli_startup.py
    .venv/bin/python bench/cli_startup.py --runs 15 --report-only
    mkdir /tmp/before && git archive main | tar -x -C /tmp/before
    .venv/bin/python bench/cli_startup.py --compare /tmp/before
    .venv/bin/python bench/cli_startup.py --compare /tmp/before --compare-python /tmp/v/bin/python
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

TARGETS = {"balances": 5.0, "help": 2.5}
FLOOR_IMPORTS = "import typer, pydantic.types, sqlalchemy.orm, sqlalchemy.dialects.sqlite"


@dataclass
class Timings:
    """One command's wall and CPU seconds, run by run."""

    argv: list[str]
    cwd: Path | None = None
    wall: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)

    def median(self, kind: str) -> float:
        return statistics.median(self.wall if kind == "wall" else self.cpu)


def legato_pay_command() -> list[str]:
    """The installed console script next to this interpreter, else ``python -m commands.main``."""
    script = Path(sys.executable).with_name("legato-pay")
    if script.exists():
        return [str(script)]
    found = shutil.which("legato-pay")
    return [found] if found else [sys.executable, "-m", "commands.main"]


def bench_environment(home: Path) -> dict[str, str]:
    """The caller's environment without its ``LEGATO_*`` settings, on a fresh home directory,
    with a bytecode cache of its own."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("LEGATO_")}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["PYTHONPYCACHEPREFIX"] = str(home / "pycache")
    env["LEGATO_HOME"] = str(home)
    env["NO_COLOR"] = "1"
    return env


def run_once(
    argv: list[str], env: dict[str, str], *, cwd: Path | None = None, expect: int = 0
) -> tuple[float, float]:
    """Wall and CPU seconds of one run; a run that fails is an error, not a figure."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    completed = subprocess.run(argv, env=env, cwd=cwd, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if completed.returncode != expect:
        raise SystemExit(
            f"{' '.join(argv)} exited {completed.returncode}:\n{completed.stderr.strip()}"
        )
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def uptime() -> str:
    """``uptime``'s line (time of day, load), for the record beside the figures."""
    found = shutil.which("uptime")
    if found is None:
        return f"load average: {load_average()}"
    return subprocess.run([found], capture_output=True, text=True, check=False).stdout.strip()


def load_average() -> list[float]:
    return [round(value, 2) for value in os.getloadavg()]


def measure(
    runs: int, env: dict[str, str], compare: Path | None, compare_python: str
) -> dict[str, Timings]:
    cli = legato_pay_command()
    commands = {
        "typer": Timings([sys.executable, "-c", "import typer"]),
        "balances": Timings([*cli, "-o", "json", "balances", "show", "--user", "U"]),
        "help": Timings([*cli, "--help"]),
        # No target: what any command that reads the database through SQLAlchemy pays in
        # imports alone (Typer's own parameter parsing loads pydantic).
        "sqlalchemy_floor": Timings([sys.executable, "-c", FLOOR_IMPORTS]),
    }
    if compare is not None:
        if compare_python != sys.executable:
            commands["typer_compared"] = Timings([compare_python, "-c", "import typer"])
        other = [compare_python, "-m", "commands.main"]
        commands["balances_compared"] = Timings(
            [*other, "-o", "json", "balances", "show", "--user", "U"], cwd=compare
        )
        commands["help_compared"] = Timings([*other, "--help"], cwd=compare)
    run_once([*cli, "-o", "json", "users", "add", "U"], env)
    for timings in commands.values():  # warm-up: schema, caches (settings, bytecode, files)
        run_once(timings.argv, env, cwd=timings.cwd)
    for round_ in range(runs):
        names = list(commands)
        # rotate the order so no command always runs right after the same neighbour
        for name in names[round_ % len(names) :] + names[: round_ % len(names)]:
            wall, cpu = run_once(commands[name].argv, env, cwd=commands[name].cwd)
            commands[name].wall.append(wall)
            commands[name].cpu.append(cpu)
    return commands


def baseline_of(name: str, commands: dict[str, Timings]) -> Timings:
    """The compared checkout's commands over its own interpreter's ``import typer`` when it
    has one; everything else (that baseline too) over this interpreter's."""
    if name.endswith("_compared") and name != "typer_compared" and "typer_compared" in commands:
        return commands["typer_compared"]
    return commands["typer"]


def ratios(commands: dict[str, Timings]) -> dict[str, dict[str, float | bool]]:
    """Each measured command's median over its baseline's, in wall and CPU time."""
    result: dict[str, dict[str, float | bool]] = {}
    for name in [name for name in commands if name != "typer"]:
        baseline = baseline_of(name, commands)
        wall = commands[name].median("wall") / baseline.median("wall")
        cpu = commands[name].median("cpu") / baseline.median("cpu")
        result[name] = {"wall": round(wall, 2), "cpu": round(cpu, 2)}
        if name in TARGETS:
            result[name] |= {"target": TARGETS[name], "met": wall <= TARGETS[name]}
    return result


def shown_program(program: str) -> str:
    """The program's name, with its virtualenv when it is not this one's interpreter."""
    path = Path(program)
    if program == sys.executable or path.parent.name != "bin":
        return path.name
    return str(path)


def report(
    commands: dict[str, Timings],
    load_before: list[float],
    found: dict[str, dict[str, float | bool]],
) -> dict[str, object]:
    document: dict[str, object] = {"load_average_before": load_before, "runs": 0}
    for name, timings in commands.items():
        document["runs"] = len(timings.wall)
        document[name] = {
            "command": " ".join([shown_program(timings.argv[0]), *timings.argv[1:]]),
            **({"in": str(timings.cwd)} if timings.cwd else {}),
            "wall_median_s": round(timings.median("wall"), 4),
            "cpu_median_s": round(timings.median("cpu"), 4),
            "wall_min_s": round(min(timings.wall), 4),
            "wall_max_s": round(max(timings.wall), 4),
        }
    document["ratios"] = found
    document["load_average_after"] = load_average()
    return document


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=7, help="measured runs of each command")
    parser.add_argument("--quick", action="store_true", help="smoke test: 3 runs")
    parser.add_argument(
        "--report-only", action="store_true", help="exit 0 even when a target is missed"
    )
    parser.add_argument(
        "--compare", type=Path, metavar="DIR", help="also time another checkout (before/after)"
    )
    parser.add_argument(
        "--compare-python",
        metavar="PYTHON",
        default=sys.executable,
        help="interpreter for the --compare checkout (another virtualenv: another Typer)",
    )
    options = parser.parse_args()
    runs = 3 if options.quick else options.runs
    load_before = load_average()
    print(f"load average before: {load_before}", file=sys.stderr)
    print(uptime(), file=sys.stderr)
    with tempfile.TemporaryDirectory(prefix="legato-startup-") as home:
        compare = options.compare.resolve() if options.compare else None
        commands = measure(runs, bench_environment(Path(home)), compare, options.compare_python)
    found = ratios(commands)
    print(json.dumps(report(commands, load_before, found), indent=2))
    print(uptime(), file=sys.stderr)
    missed = [name for name, ratio in found.items() if ratio.get("met") is False]
    if missed and not options.report_only:
        print(f"target missed: {', '.join(missed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
