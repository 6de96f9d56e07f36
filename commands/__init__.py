"""The Typer command line: one module per command group, thin (parse, call a service, render).

Modules that declare commands do not use ``from __future__ import annotations``: Typer reads
every command's signature on each call, and string annotations cost an ``eval`` per parameter
(it tripled the time Typer spends building the command tree).
"""

import os

# Pydantic looks for plugins by scanning every installed distribution's entry points the first
# time it builds a validator (the settings, Typer's option values). None of ours uses one, and
# the scan costs each command a few milliseconds; a value already set (even empty) is kept.
os.environ.setdefault("PYDANTIC_DISABLE_PLUGINS", "1")
