"""Dockerfile, compose.yaml and examples/crontab, checked without a container engine.

Every ``legato-pay …`` command line they hold is run with ``--help`` through the installed
console script: it exits 0 only if the command exists and takes the options written there. The
image's default command and its HEALTHCHECK are run as written (on a free port), and SIGTERM,
the image's stop signal, must end the listener promptly.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.cli_runner import ROOT
from tests.fakes import free_port

CONSOLE_SCRIPT = Path(sys.executable).parent / "legato-pay"
SECRETS = (
    "STRIPE_SECRET_KEY",
    "STRIPE_WEBHOOK_SECRET",
    "PAYSTACK_SECRET_KEY",
    "PAYSTACK_PUBLIC_KEY",
)
LEGATO_SERVICES = ("migrate", "listener", "scheduler")


# -- reading the files ----------------------------------------------------------------------


@dataclass(frozen=True)
class Instruction:
    keyword: str
    arguments: str
    stage: int


def dockerfile() -> list[Instruction]:
    """Instructions in order, continuation lines joined, comments dropped, numbered by stage."""
    instructions: list[Instruction] = []
    pending = ""
    stage = -1
    for raw in (ROOT / "Dockerfile").read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        keyword, _, arguments = (pending + line).partition(" ")
        pending = ""
        stage += keyword.upper() == "FROM"
        instructions.append(Instruction(keyword.upper(), arguments.strip(), stage))
    assert not pending, "the Dockerfile ends inside a continued line"
    return instructions


def compose() -> dict[str, Any]:
    data = yaml.safe_load((ROOT / "compose.yaml").read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def crontab_commands() -> list[str]:
    """The command part of each job line (five schedule fields, then the command)."""
    lines = (ROOT / "examples" / "crontab").read_text(encoding="utf-8").splitlines()
    jobs = [line for line in lines if line.strip() and not line.lstrip().startswith("#")]
    return [line.split(None, 5)[5] for line in jobs if not re.match(r"^\w+=", line)]


def _is_console_script(word: str) -> bool:
    """``legato-pay`` or a path to it in a ``bin/`` directory (not ``/var/lib/legato-pay``)."""
    return word == "legato-pay" or word.endswith("/bin/legato-pay")


def legato_commands(script: str) -> list[tuple[str, ...]]:
    """The arguments of every ``legato-pay`` call in a shell script (any path to the binary),
    up to the end of its simple command or the first redirection. ``$$`` is compose's ``$``."""
    found: list[tuple[str, ...]] = []
    for line in script.replace("$$", "$").splitlines():
        if line.lstrip().startswith("#"):
            continue
        for segment in re.split(r"\|\||&&|[;|&]", line):
            try:
                words = shlex.split(segment, comments=True)
            except ValueError as error:
                raise AssertionError(f"cannot read {segment!r}: {error}") from None
            starts = [i for i, word in enumerate(words) if _is_console_script(word)]
            for start in starts:
                arguments = []
                for word in words[start + 1 :]:
                    if re.match(r"^\d*[<>]", word):
                        break
                    arguments.append(word)
                found.append(tuple(arguments))
    return found


def exec_form(arguments: str) -> list[str]:
    value = json.loads(arguments)
    assert isinstance(value, list) and all(isinstance(word, str) for word in value), arguments
    return value


def as_script(command: str | list[str] | None) -> str:
    """A compose ``command``/``entrypoint`` as shell text: a list is quoted word by word, except
    the script of ``sh -c SCRIPT``, which is taken as it is."""
    if command is None:
        return ""
    if isinstance(command, str):
        return command
    if len(command) >= 3 and Path(command[0]).name in {"sh", "bash"} and command[1] == "-c":
        return command[2]
    return shlex.join(command)


def dockerfile_commands() -> list[tuple[str, ...]]:
    found: list[tuple[str, ...]] = []
    for instruction in dockerfile():
        if instruction.keyword in {"RUN", "CMD", "ENTRYPOINT"}:
            text = instruction.arguments
            if text.startswith("["):
                text = shlex.join(exec_form(text))
            found.extend(legato_commands(text))
    return found


def compose_commands(service: str) -> list[tuple[str, ...]]:
    definition = compose()["services"][service]
    return [
        *legato_commands(as_script(definition.get("entrypoint"))),
        *legato_commands(as_script(definition.get("command"))),
    ]


def readme_docker_commands() -> list[tuple[str, ...]]:
    """``legato-pay`` calls in the README's Docker example (``docker compose exec … legato-pay``)."""
    section = (ROOT / "README.md").read_text(encoding="utf-8").split("\n## Docker\n", 1)[1]
    block = section.split("```bash\n", 1)[1].split("```", 1)[0]
    return legato_commands(block)


def every_command() -> dict[tuple[str, ...], list[str]]:
    """Each distinct command line, with where it was written."""
    sources: dict[tuple[str, ...], list[str]] = {}
    for arguments in dockerfile_commands():
        sources.setdefault(arguments, []).append("Dockerfile")
    for service in compose()["services"]:
        for arguments in compose_commands(service):
            sources.setdefault(arguments, []).append(f"compose.yaml:{service}")
    for line in crontab_commands():
        for arguments in legato_commands(line):
            sources.setdefault(arguments, []).append("examples/crontab")
    for arguments in readme_docker_commands():
        sources.setdefault(arguments, []).append("README.md (Docker)")
    return sources


COMMANDS = every_command()


def clean_env(tmp_path: Path) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("LEGATO_")}
    env.update(LEGATO_HOME=str(tmp_path), HOME=str(tmp_path), NO_COLOR="1")
    return env


# -- every command exists with those options -----------------------------------------------


def test_the_files_hold_the_commands_they_should() -> None:
    assert len(COMMANDS) >= 8
    assert readme_docker_commands() == [("-o", "json", "ledger", "verify")]
    assert dockerfile_commands() == [
        ("serve-webhooks", "--host", "0.0.0.0", "--port", "8000"),
    ]
    assert compose_commands("migrate") == [("db", "upgrade")]
    assert [words[0] for words in compose_commands("listener")] == ["serve-webhooks"]
    cron = [words for line in crontab_commands() for words in legato_commands(line)]
    assert len(cron) == len(crontab_commands()) >= 4
    assert compose_commands("scheduler") == cron, "the scheduler runs examples/crontab's jobs"


@pytest.mark.parametrize("arguments", list(COMMANDS), ids=[" ".join(words) for words in COMMANDS])
def test_command_exists_with_its_options(arguments: tuple[str, ...], tmp_path: Path) -> None:
    completed = subprocess.run(
        [str(CONSOLE_SCRIPT), *arguments, "--help"],
        capture_output=True,
        text=True,
        env=clean_env(tmp_path),
        cwd=tmp_path,
        timeout=120,
    )
    where = ", ".join(COMMANDS[arguments])
    assert completed.returncode == 0, (where, arguments, completed.stdout, completed.stderr)
    assert "Usage:" in completed.stdout
    assert list(tmp_path.iterdir()) == [], "--help must not touch a database"


# -- the Dockerfile ----------------------------------------------------------------------------


def only(keyword: str, stage: int | None = None) -> Instruction:
    found = [
        i for i in dockerfile() if i.keyword == keyword and (stage is None or i.stage == stage)
    ]
    assert len(found) == 1, (keyword, found)
    return found[0]


def test_dockerfile_builds_the_wheel_in_one_stage_and_runs_it_slim_in_another() -> None:
    instructions = dockerfile()
    bases = [i.arguments for i in instructions if i.keyword == "FROM"]
    assert len(bases) == 2
    assert all("python:" in base and "-slim" in base for base in bases), bases
    final = max(i.stage for i in instructions)
    copied = {
        source.rstrip("/")
        for i in instructions
        if i.keyword == "COPY" and i.stage == 0
        for source in i.arguments.split()[:-1]
    }
    # the wheel's own inputs, as tests/test_packaging.py builds it: the defaults need config/,
    # setup.py (the hook that copies them in) and MANIFEST.in
    assert {"pyproject.toml", "setup.py", "MANIFEST.in", "README.md", "config"} <= copied
    assert {"legato_pay", "commands"} <= copied
    build_runs = " ".join(i.arguments for i in instructions if i.keyword == "RUN" and i.stage == 0)
    assert "pip wheel" in build_runs and "pip install" in build_runs
    assert any(
        i.keyword == "COPY" and i.arguments.startswith("--from=build") and i.stage == final
        for i in instructions
    )
    assert not any(
        i.keyword in {"COPY", "ADD"} and i.arguments.split()[0] == "." for i in instructions
    )


def test_dockerfile_runs_as_a_non_root_user() -> None:
    final = max(i.stage for i in dockerfile())
    user = only("USER", final).arguments
    assert user not in {"root", "0"} and not user.startswith(("root:", "0:"))
    later = [i.keyword for i in dockerfile() if i.stage == final]
    assert later.index("USER") < later.index("CMD")


def test_dockerfile_command_is_exec_form_and_listens_on_every_interface() -> None:
    command = exec_form(only("CMD").arguments)
    assert command[:2] == ["legato-pay", "serve-webhooks"]
    assert command[command.index("--host") + 1] == "0.0.0.0"
    assert not any(i.keyword == "ENTRYPOINT" for i in dockerfile()), "PID 1 is legato-pay itself"
    assert only("STOPSIGNAL").arguments == "SIGTERM"


def test_dockerfile_healthcheck_asks_healthz_with_python() -> None:
    options, _, command = only("HEALTHCHECK").arguments.partition("CMD ")
    assert "--interval=" in options and "--timeout=" in options
    words = exec_form(command)
    assert words[:2] == ["python", "-c"]
    assert "/healthz" in words[2] and "curl" not in command


def test_image_command_serves_healthz_and_stops_on_sigterm(tmp_path: Path) -> None:
    """The CMD and HEALTHCHECK as written (port 8000 swapped for a free one), then the stop
    signal: uvicorn's graceful shutdown must end the process well within compose's grace period."""
    port = str(free_port())
    command = [port if word == "8000" else word for word in exec_form(only("CMD").arguments)]
    check = exec_form(only("HEALTHCHECK").arguments.partition("CMD ")[2])
    check = [word.replace(":8000/", f":{port}/") for word in check]
    check[0] = sys.executable
    env = clean_env(tmp_path)
    process = subprocess.Popen(
        [str(CONSOLE_SCRIPT), *command[1:]],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            probe = subprocess.run(check, capture_output=True, env=env, timeout=30)
            if probe.returncode == 0:
                break
            assert process.poll() is None, process.communicate()[0]
            assert time.monotonic() < deadline, probe.stderr
            time.sleep(0.2)
        stopped_at = time.monotonic()
        process.send_signal(getattr(signal, only("STOPSIGNAL").arguments))
        output = process.communicate(timeout=20)[0]
        assert time.monotonic() - stopped_at < 10
        assert process.returncode in (0, -signal.SIGTERM), output
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.communicate()


# -- compose.yaml ------------------------------------------------------------------------------


def test_compose_has_postgres_with_a_health_check() -> None:
    db = compose()["services"]["db"]
    assert db["image"].startswith("postgres:")
    assert "pg_isready" in " ".join(db["healthcheck"]["test"])
    assert db["environment"]["POSTGRES_PASSWORD"].startswith("${POSTGRES_PASSWORD")


def test_compose_services_wait_for_the_database_and_the_migration() -> None:
    services = compose()["services"]
    for name in LEGATO_SERVICES:
        assert services[name]["depends_on"]["db"]["condition"] == "service_healthy", name
    for name in ("listener", "scheduler"):
        migrate = services[name]["depends_on"]["migrate"]
        assert migrate["condition"] == "service_completed_successfully", name
    assert services["migrate"]["restart"] == "no"
    assert services["listener"]["stop_signal"] == "SIGTERM"


def test_compose_configures_every_service_from_the_environment() -> None:
    services = compose()["services"]
    for name in LEGATO_SERVICES:
        environment = services[name]["environment"]
        assert "@db:5432/" in environment["LEGATO_DATABASE_URL"], name
        assert "${POSTGRES_PASSWORD" in environment["LEGATO_DATABASE_URL"], name
        for secret in SECRETS:
            assert environment[secret].startswith(f"${{{secret}"), (name, secret)
        assert environment["LEGATO_ACTOR"]
