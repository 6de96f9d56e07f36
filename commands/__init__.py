"""The Typer command line: one module per command group, thin (parse, call a service, render).

Modules that declare commands do not use ``from __future__ import annotations``: Typer reads
every command's signature on each call, and string annotations cost an ``eval`` per parameter
(it tripled the time Typer spends building the command tree).
"""
