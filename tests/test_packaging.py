"""A wheel that installs anywhere: built as a release would be (sdist, then the wheel from it),
installed into a fresh virtualenv outside the repository, run from an empty directory.

The defaults (``config/default.yaml``) and the Alembic migrations must travel inside the wheel:
an install that is not editable has no repository beside it to read them from.
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

from tests.conftest import ROOT

pytestmark = pytest.mark.slow

#: What a build needs from the checkout (the Dockerfile's build stage copies the same).
BUILD_INPUTS = [
    "pyproject.toml",
    "setup.py",
    "MANIFEST.in",
    "README.md",
    "config",
    "legato_pay",
    "commands",
]
MIGRATIONS = "legato_pay/store/migrations"


@dataclass(frozen=True)
class Built:
    sdist: Path
    wheel: Path


@dataclass(frozen=True)
class Installed:
    venv: Path
    env: dict[str, str]
    workdir: Path
    home: Path

    def run(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(self.venv / "bin" / "legato-pay"), *args],
            capture_output=True,
            text=True,
            env=self.env,
            cwd=self.workdir,
            timeout=300,
        )


def _check(completed: subprocess.CompletedProcess[str]) -> subprocess.CompletedProcess[str]:
    assert completed.returncode == 0, (
        completed.args,
        completed.stdout[-2000:],
        completed.stderr[-4000:],
    )
    return completed


def _outside_env(home: Path) -> dict[str, str]:
    """The environment minus anything that would point back at the checkout or its settings."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("LEGATO_")
        and key not in {"PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV", "XDG_DATA_HOME", "PYTHONSTARTUP"}
    }
    env.update(HOME=str(home), NO_COLOR="1")
    return env


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Built:
    """sdist and wheel built from a clean copy of the sources, so the checkout stays untouched
    and a file missing from ``BUILD_INPUTS`` or ``MANIFEST.in`` fails here, not at release."""
    source = tmp_path_factory.mktemp("source")
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for name in BUILD_INPUTS:
        origin = ROOT / name
        if origin.is_dir():
            shutil.copytree(origin, source / name, ignore=ignore)
        else:
            shutil.copy2(origin, source / name)
    dist = tmp_path_factory.mktemp("dist")
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
    return Built(sdist=sdist, wheel=wheel)


@pytest.fixture(scope="module")
def installed(built: Built, tmp_path_factory: pytest.TempPathFactory) -> Installed:
    """The wheel in a new virtualenv (no pip of its own: this one's pip installs into it)."""
    base = tmp_path_factory.mktemp("outside")
    venv = base / "venv"
    _check(
        subprocess.run(
            [sys.executable, "-m", "venv", "--without-pip", str(venv)],
            timeout=120,
            capture_output=True,
            text=True,
        )
    )
    home = base / "home"
    workdir = base / "empty"
    home.mkdir()
    workdir.mkdir()
    env = _outside_env(home)
    _check(
        subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "--python",
                str(venv / "bin" / "python"),
                "install",
                "--quiet",
                "--no-compile",
                str(built.wheel),
            ],
            capture_output=True,
            text=True,
            env=env,
            cwd=workdir,
            timeout=600,
        )
    )
    return Installed(venv=venv, env=env, workdir=workdir, home=home)


def test_wheel_ships_the_defaults_and_the_migrations(built: Built) -> None:
    with zipfile.ZipFile(built.wheel) as wheel:
        names = set(wheel.namelist())
        shipped_defaults = wheel.read("legato_pay/defaults/default.yaml")
    assert shipped_defaults == (ROOT / "config" / "default.yaml").read_bytes()
    versions = sorted((ROOT / MIGRATIONS / "versions").glob("*.py"))
    assert versions, "no migrations found in the checkout"
    for path in versions:
        assert f"{MIGRATIONS}/versions/{path.name}" in names
    for name in ("env.py", "script.py.mako", "__init__.py"):
        assert f"{MIGRATIONS}/{name}" in names
    assert not [name for name in names if name.startswith(("config/", "tests/"))]


def test_sdist_carries_config_for_the_wheel_built_from_it(built: Built) -> None:
    with tarfile.open(built.sdist) as sdist:
        names = {name.split("/", 1)[1] for name in sdist.getnames() if "/" in name}
    assert {"config/default.yaml", "setup.py", "MANIFEST.in"} <= names


def test_installed_wheel_runs_the_demo_from_an_empty_directory(installed: Installed) -> None:
    located = _check(
        subprocess.run(
            [
                str(installed.venv / "bin" / "python"),
                "-c",
                "import legato_pay, legato_pay.config as c; print(legato_pay.__file__); print(c.DEFAULT_CONFIG_PATH)",
            ],
            capture_output=True,
            text=True,
            env=installed.env,
            cwd=installed.workdir,
        )
    ).stdout.split()
    assert all(Path(path).is_relative_to(installed.venv) for path in located), located
    assert located[1].endswith("legato_pay/defaults/default.yaml")

    upgrade = json.loads(_check(installed.run("-o", "json", "db", "upgrade")).stdout)
    assert upgrade["from"] is None and upgrade["to"]
    _check(installed.run("demo", "--readers", "6"))
    database = installed.home / ".local" / "share" / "legato-pay" / "legato-pay.db"
    assert database.is_file()

    packages = json.loads(_check(installed.run("-o", "json", "packages", "list")).stdout)
    defaults = yaml.safe_load((ROOT / "config" / "default.yaml").read_text(encoding="utf-8"))
    expected = [package["id"] for package in defaults["packages"]]
    assert len(expected) >= 3
    assert [package["id"] for package in packages] == expected
    current = json.loads(_check(installed.run("-o", "json", "db", "current")).stdout)
    assert current["up_to_date"] is True
    assert list(installed.workdir.iterdir()) == []
