"""A wheel that installs anywhere: built as a release would be (sdist, then the wheel from it),
installed into a fresh virtualenv outside the repository, run from an empty directory.

The defaults (``config/default.yaml``) and the Alembic migrations must travel inside the wheel:
an install that is not editable has no repository beside it to read them from. One test walks
the whole way, so parallel workers never build the wheel twice (about 30 s in all).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tarfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from tests.cli_runner import ROOT

#: What a build needs from the checkout (the Dockerfile's build stage copies the same).
BUILD_INPUTS = (
    "pyproject.toml",
    "setup.py",
    "MANIFEST.in",
    "README.md",
    "config",
    "legato_pay",
    "commands",
)
MIGRATIONS = "legato_pay/store/migrations"
#: Variables that would lead an installed command back to the checkout or to test settings.
LEAKY_ENV = {"PYTHONPATH", "PYTHONHOME", "PYTHONSTARTUP", "VIRTUAL_ENV", "XDG_DATA_HOME"}


@dataclass(frozen=True)
class Outside:
    """A virtualenv, a home and an empty working directory, none of them in the repository."""

    venv: Path
    home: Path
    workdir: Path
    env: dict[str, str]

    def run(self, program: str, *args: str) -> subprocess.CompletedProcess[str]:
        return _check(
            subprocess.run(
                [str(self.venv / "bin" / program), *args],
                capture_output=True,
                text=True,
                env=self.env,
                cwd=self.workdir,
                timeout=300,
            )
        )

    def legato(self, *args: str) -> subprocess.CompletedProcess[str]:
        return self.run("legato-pay", *args)


def _check(completed: subprocess.CompletedProcess[str]) -> subprocess.CompletedProcess[str]:
    assert completed.returncode == 0, (
        completed.args,
        completed.stdout[-2000:],
        completed.stderr[-4000:],
    )
    return completed


def build_from_a_clean_copy(tmp_path: Path) -> tuple[Path, Path]:
    """sdist and wheel from a copy of ``BUILD_INPUTS``: the checkout stays untouched, and a file
    missing from that list or from ``MANIFEST.in`` fails here rather than at release."""
    source = tmp_path / "source"
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for name in BUILD_INPUTS:
        origin = ROOT / name
        if origin.is_dir():
            shutil.copytree(origin, source / name, ignore=ignore)
        else:
            source.mkdir(exist_ok=True)
            shutil.copy2(origin, source / name)
    dist = tmp_path / "dist"
    _check(
        subprocess.run(
            [sys.executable, "-m", "build", "--outdir", str(dist), str(source)],
            capture_output=True,
            text=True,
            timeout=600,
        )
    )
    (sdist,) = dist.glob("*.tar.gz")
    (wheel,) = dist.glob("*.whl")
    return sdist, wheel


def assert_sdist_carries_config(sdist: Path) -> None:
    with tarfile.open(sdist) as archive:
        names = {name.split("/", 1)[1] for name in archive.getnames() if "/" in name}
    assert {"config/default.yaml", "setup.py", "MANIFEST.in"} <= names


def assert_wheel_ships_defaults_and_migrations(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        shipped_defaults = archive.read("legato_pay/defaults/default.yaml")
    assert shipped_defaults == (ROOT / "config" / "default.yaml").read_bytes()
    versions = sorted((ROOT / MIGRATIONS / "versions").glob("*.py"))
    assert versions, "no migrations found in the checkout"
    for path in versions:
        assert f"{MIGRATIONS}/versions/{path.name}" in names
    for name in ("env.py", "script.py.mako", "__init__.py"):
        assert f"{MIGRATIONS}/{name}" in names
    assert not [name for name in names if name.startswith(("config/", "tests/"))]


def install_outside(wheel: Path, tmp_path: Path) -> Outside:
    """A new virtualenv without pip of its own (this one's pip installs into it: faster);
    dependencies come from the package index as for any user."""
    venv, home, workdir = tmp_path / "venv", tmp_path / "home", tmp_path / "empty"
    home.mkdir(parents=True)
    workdir.mkdir()
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("LEGATO_") and key not in LEAKY_ENV
    }
    env.update(HOME=str(home), NO_COLOR="1")
    run = [sys.executable, "-m"]
    _check(
        subprocess.run([*run, "venv", "--without-pip", str(venv)], capture_output=True, text=True)
    )
    pip = [
        *run,
        "pip",
        "--python",
        str(venv / "bin" / "python"),
        "install",
        "--quiet",
        "--no-compile",
    ]
    _check(
        subprocess.run(
            [*pip, str(wheel)], capture_output=True, text=True, env=env, cwd=workdir, timeout=600
        )
    )
    return Outside(venv=venv, home=home, workdir=workdir, env=env)


def assert_imports_come_from_the_virtualenv(outside: Outside) -> None:
    script = "import legato_pay, legato_pay.config as c; print(legato_pay.__file__); print(c.DEFAULT_CONFIG_PATH)"
    package, defaults = outside.run("python", "-c", script).stdout.split()
    assert Path(package).is_relative_to(outside.venv), package
    assert Path(defaults).is_relative_to(outside.venv), defaults
    assert defaults.endswith("legato_pay/defaults/default.yaml")


@pytest.mark.slow
def test_wheel_installed_outside_the_repository_runs_the_demo(tmp_path: Path) -> None:
    sdist, wheel = build_from_a_clean_copy(tmp_path)
    assert_sdist_carries_config(sdist)
    assert_wheel_ships_defaults_and_migrations(wheel)
    outside = install_outside(wheel, tmp_path / "outside")
    assert_imports_come_from_the_virtualenv(outside)

    upgrade = json.loads(outside.legato("-o", "json", "db", "upgrade").stdout)
    assert upgrade["from"] is None and upgrade["to"]
    outside.legato("demo", "--readers", "6")
    assert (outside.home / ".local" / "share" / "legato-pay" / "legato-pay.db").is_file()

    packages = json.loads(outside.legato("-o", "json", "packages", "list").stdout)
    defaults = yaml.safe_load((ROOT / "config" / "default.yaml").read_text(encoding="utf-8"))
    expected = [package["id"] for package in defaults["packages"]]
    assert len(expected) >= 3
    assert [package["id"] for package in packages] == expected
    assert json.loads(outside.legato("-o", "json", "db", "current").stdout)["up_to_date"] is True
    assert list(outside.workdir.iterdir()) == [], "nothing written to the working directory"
