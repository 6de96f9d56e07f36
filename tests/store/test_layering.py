"""The store is the bottom layer: it never imports the ledger or anything else above it
(dependencies point down: commands → domains → ledger → store)."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

from tests.cli_runner import ROOT

STORE = ROOT / "legato_pay" / "store"
#: What the store may import from the project besides itself.
BELOW_THE_STORE = {"legato_pay.errors"}

_PROBE = """
import sys
from legato_pay.store import dialect, engine, locks, schema, tables
engine.dispose_engines()  # used to import the ledger to clear its account cache
schema.forget_checked()
above = sorted(
    name for name in sys.modules
    if name.startswith("legato_pay.") and not name.startswith("legato_pay.store")
    and name not in {below!r}
)
print(",".join(above))
""".replace("{below!r}", repr(BELOW_THE_STORE))


def _project_imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
        elif isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
    return {name for name in names if name.startswith("legato_pay")}


def test_no_store_module_imports_anything_above_the_store() -> None:
    offenders = {
        str(path.relative_to(ROOT)): sorted(
            name
            for name in _project_imports(path)
            if not name.startswith("legato_pay.store") and name not in BELOW_THE_STORE
        )
        for path in STORE.rglob("*.py")
    }
    assert {path: names for path, names in offenders.items() if names} == {}


def test_importing_and_disposing_the_store_loads_nothing_above_it() -> None:
    completed = subprocess.run(
        [sys.executable, "-c", _PROBE], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert completed.stdout.strip() == ""


def test_disposing_engines_clears_the_ledger_account_cache() -> None:
    """The store clears the ledger's cache through the hook the ledger registered."""
    from legato_pay.ledger import accounts
    from legato_pay.ledger.types import Account
    from legato_pay.store import engine

    accounts._cache[("sqlite://", "probe")] = Account(1, "probe", "USD", "credit", False, False)
    engine.dispose_engines()
    assert ("sqlite://", "probe") not in accounts._cache
