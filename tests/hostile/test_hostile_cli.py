"""Every command, driven with generated hostile values for each argument and option.

The commands are read from the Typer app itself (``commands.main.build_app``), so a command or
option added later is driven too, without a change here. Each example makes one or two of a
command's parameters hostile (``strategies.HOSTILE_VALUES``, hostile files) and fills the rest
with what an operator would type against the seeded database, so hostile values reach the
services and the database rather than only the parser. Every answer must keep the contract
(``contract.problems``): a documented status other than 1, one JSON error document on stderr
and nothing on stdout, no traceback, SQL or secret; after each command's batch ``ledger
verify`` must still be ok.

``HOSTILE_EXAMPLES`` sets the examples per command (default 4, reproducible; raise it for a
longer survey);
``HOSTILE_SURVEY=FILE`` records every failing example as a JSON line in FILE instead of
stopping at the first (to list findings); ``HOSTILE_RANDOM=1`` explores new examples
instead of the reproducible default.
"""

from __future__ import annotations

import json
import os
import re
import typing
from dataclasses import dataclass
from itertools import count
from pathlib import Path
from typing import Any

import pytest
import typer.main
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from commands.main import build_app
from tests.hostile.conftest import Seeded
from tests.hostile.contract import Answer, problems, summary
from tests.hostile.strategies import (
    SPECIAL_PATHS,
    file_contents,
    hostile_value,
    plausible_value,
)

pytestmark = pytest.mark.hostile

#: Not driven: ``serve-webhooks`` binds ports (test_hostile_webhooks drives its endpoints);
#: ``demo`` runs a whole day (seconds per example).
EXCLUDED = {("serve-webhooks",), ("demo",)}
EXAMPLES = int(os.environ.get("HOSTILE_EXAMPLES", "4"))
SURVEY = os.environ.get("HOSTILE_SURVEY")
BATTERY = settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=os.environ.get("HOSTILE_RANDOM") != "1",
    database=None,
    phases=[Phase.explicit, Phase.generate],  # no shrinking: a failure prints its command line
    suppress_health_check=list(HealthCheck),
)


@dataclass(frozen=True)
class Param:
    """One parameter of a command, as the battery needs to fill it."""

    name: str
    flag: str | None  # the option's first long name; None for an argument
    is_flag: bool
    required: bool
    many: bool  # a repeatable option or a variadic argument
    is_file: bool


@dataclass(frozen=True)
class Command:
    path: tuple[str, ...]
    params: tuple[Param, ...]

    @property
    def name(self) -> str:
        return " ".join(self.path)


def _is_path(hint: Any) -> bool:
    while typing.get_origin(hint) is typing.Annotated:
        hint = typing.get_args(hint)[0]
    return hint is Path or Path in typing.get_args(hint)


def _params(click_command: Any) -> tuple[Param, ...]:
    hints = typing.get_type_hints(click_command.callback, include_extras=True)
    params = []
    for param in click_command.params:
        is_argument = param.param_type_name == "argument"
        longs = [opt for opt in param.opts if opt.startswith("--")] or list(param.opts)
        params.append(
            Param(
                name=param.name,
                flag=None if is_argument else longs[0],
                is_flag=bool(getattr(param, "is_flag", False)),
                required=bool(param.required),
                many=bool(getattr(param, "multiple", False)) or param.nargs == -1,
                is_file=_is_path(hints.get(param.name)),
            )
        )
    return tuple(params)


def walk(group: Any, path: tuple[str, ...] = ()) -> list[Command]:
    """Every command under a click group, with its parameters."""
    found = []
    for name, command in sorted(group.commands.items()):
        if hasattr(command, "commands"):
            found += walk(command, (*path, name))
        elif (*path, name) not in EXCLUDED:
            found.append(Command((*path, name), _params(command)))
    return found


ROOT_COMMAND = typer.main.get_command(build_app())
COMMANDS = walk(ROOT_COMMAND)
GLOBAL = {param.name: param for param in _params(ROOT_COMMAND)}
_files = count()


def _file(seeded: Seeded, data: st.DataObject, command: str) -> str:
    """A path for a file parameter: a special path, or a file with hostile contents."""
    if data.draw(st.integers(0, 5)) == 0:
        return data.draw(st.sampled_from(SPECIAL_PATHS))
    directory = seeded.workdir / "files"
    directory.mkdir(exist_ok=True)
    path = directory / f"{next(_files)}.in"
    path.write_bytes(data.draw(file_contents(command)))
    return str(path)


def _value(seeded: Seeded, data: st.DataObject, command: str, param: Param, hostile: bool) -> str:
    if param.is_file:
        return _file(seeded, data, command if param.flag != "--config" else "--config")
    if hostile:
        return data.draw(hostile_value())
    return data.draw(plausible_value(param.name, seeded.references))


def command_line(
    seeded: Seeded, data: st.DataObject, command: Command
) -> tuple[list[str], dict[str, str]]:
    """The command with every required parameter, some optional ones, one or two hostile;
    and the hostile ones, by parameter name."""
    fillable = [param for param in command.params if not param.is_flag]
    hostile = set()
    if fillable:
        names = [param.name for param in fillable]
        hostile = data.draw(st.sets(st.sampled_from(names), min_size=1, max_size=2), "hostile")
    args: list[str] = []
    chosen: dict[str, str] = {}
    for param in command.params:
        if param.is_flag:
            if data.draw(st.booleans()):
                args.append(str(param.flag))
            continue
        wanted = param.required or param.name in hostile or data.draw(st.booleans())
        if not wanted:
            continue
        times = data.draw(st.integers(1, 2)) if param.many else 1
        for _ in range(times):
            value = _value(seeded, data, command.name, param, param.name in hostile)
            args += [value] if param.flag is None else [param.flag, value]
            if param.name in hostile:
                chosen[param.flag or param.name.upper()] = value
    return [*command.path, *args], chosen


#: Commands that create the record their first argument names: the id they store.
CREATORS = ("add", "create", "open")
#: What an id may hold (README "Conventions" 6: whole strings, ASCII only).
ID_CHARACTERS = re.compile(r"[A-Za-z0-9_.:@-]+", re.ASCII)


def stored_bad_id(command: Command, answer: Answer, hostile: dict[str, str]) -> list[str]:
    """A creating command that succeeded with a hostile id outside the id alphabet stored it:
    ``users add $'carol\\n'`` made a user no one can type again."""
    if answer.status != 0 or command.path[-1] not in CREATORS:
        return []
    first = next((p for p in command.params if p.flag is None), None)
    value = hostile.get(first.name.upper()) if first is not None else None
    if value is None or ID_CHARACTERS.fullmatch(value):
        return []
    return [f"stored the id {value[:40]!r}"]


def judge(
    seeded: Seeded, answer: Answer, what: str, hostile: dict[str, str], command: Command | None
) -> None:
    """Fail on a broken contract, or record it when surveying."""
    found = problems(answer, seeded.secrets)
    if command is not None:
        found += stored_bad_id(command, answer, hostile)
    if not found:
        return
    case = {
        "backend": seeded.url.split(":", 1)[0].split("+", 1)[0],
        "what": what,
        "hostile": hostile,
        "args": list(answer.args),
        "files": {
            value: Path(value).read_bytes()[:120].decode("utf-8", "backslashreplace")
            for value in hostile.values()
            if value.startswith(str(seeded.workdir))
        },
        "problems": found,
        "answer": summary(answer),
    }
    if SURVEY:
        with open(SURVEY, "a", encoding="utf-8") as out:
            out.write(json.dumps(case) + "\n")
        return
    shown = [arg if len(arg) < 80 else f"{arg[:40]}…({len(arg)} chars)" for arg in answer.args]
    pytest.fail(f"{what}: {shown!r} broke the contract: {found}; {summary(answer)}")


def assert_ledger_verifies(seeded: Seeded) -> None:
    verify = seeded.run("ledger", "verify")
    assert verify.status == 0, verify.stderr
    assert verify.json["ok"] is True and verify.json["problems"] == [], verify.stdout


@pytest.mark.parametrize("command", COMMANDS, ids=[command.name for command in COMMANDS])
def test_command_keeps_the_contract_under_hostile_input(seeded: Seeded, command: Command) -> None:
    @BATTERY
    @given(data=st.data())
    def examples(data: st.DataObject) -> None:
        args, hostile = command_line(seeded, data, command)
        judge(seeded, seeded.run(*args), command.name, hostile, command)

    examples()
    assert_ledger_verifies(seeded)


#: Commands to carry a hostile global option: a read, a write through the ledger, a check.
CARRIERS = [
    ["balances", "show", "alice"],
    ["ledger", "post", "--from", "world:USD", "--to", "ops:float", "--amount", "0.01",
     "--currency", "USD"],
    ["ledger", "verify"],
]  # fmt: skip


@pytest.mark.parametrize("option", ["actor", "config", "db"])
def test_global_options_keep_the_contract(seeded: Seeded, option: str) -> None:
    param = GLOBAL[option]

    @BATTERY
    @given(data=st.data())
    def examples(data: st.DataObject) -> None:
        if option == "config":  # a path typed as text: give it hostile files
            value = _file(seeded, data, "--config")
        else:
            value = _value(seeded, data, option, param, hostile=True)
        carrier = data.draw(st.sampled_from(CARRIERS))
        quiet = ["--quiet"] if data.draw(st.booleans()) else []
        args = [*quiet, str(param.flag), value, *carrier]
        judge(seeded, seeded.run(*args), f"global {param.flag}", {str(param.flag): value}, None)

    examples()
    assert_ledger_verifies(seeded)


def test_the_walk_finds_every_group_and_the_parameters_it_fills() -> None:
    """The battery drives what the app has: every group's commands, files recognised."""
    groups = {command.path[0] for command in COMMANDS}
    assert {"ledger", "users", "purchases", "reports", "webhooks", "engagement"} <= groups
    by_name = {command.name: command for command in COMMANDS}
    assert by_name["ledger post-batch"].params[0].is_file
    assert by_name["engagement import"].params[0].is_file
    assert [p.is_file for p in by_name["access check-bulk"].params] == [False, False, True]
    assert not any(param.is_file for param in by_name["ledger post"].params)
    assert "demo" not in by_name and "serve-webhooks" not in by_name
    assert GLOBAL["config"].flag == "--config"
