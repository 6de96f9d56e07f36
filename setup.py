"""Build hook: the wheel carries the repository's ``config/`` as ``legato_pay/defaults/``.

``config/default.yaml`` stays the one file operators read and copy; the build copies it into the
package, so a wheel, ``pip install .`` or ``pipx install`` has its defaults without a second copy
in the repository. Editable installs and checkouts read ``config/`` in place (``legato_pay.config``
looks in the package first, then beside it). Everything else is declared in pyproject.toml.
"""

from __future__ import annotations

from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

CONFIG_DIR = Path(__file__).resolve().parent / "config"
PACKAGED_CONFIG = Path("legato_pay", "defaults")


class BuildPyWithDefaults(build_py):
    """``build_py`` that also copies ``config/*.yaml`` into the built package."""

    def run(self) -> None:
        super().run()
        if self.editable_mode:  # an editable install reads config/ where it is
            return
        target = Path(self.build_lib) / PACKAGED_CONFIG
        self.mkpath(str(target))
        for source in sorted(CONFIG_DIR.glob("*.yaml")):
            self.copy_file(str(source), str(target / source.name))


setup(cmdclass={"build_py": BuildPyWithDefaults})
