"""Only the optional compiled parser and tracker live here; everything else is in pyproject.toml.

See build_support/kvmbot_build.py for when they are compiled.
"""

from __future__ import annotations

import sys
from pathlib import Path

from setuptools import setup
from setuptools.command.build_ext import build_ext

sys.path.insert(0, str(Path(__file__).resolve().parent / "build_support"))
from kvmbot_build import MODULES, compile_wanted, mode  # noqa: E402


class OptionalBuildExt(build_ext):
    """In auto mode a failed compile leaves a pure-Python install, not a broken one."""

    def run(self) -> None:
        try:
            super().run()
        except Exception as exc:  # noqa: BLE001 - any compiler or linker failure
            if mode() == "1":
                raise
            for ext in self.extensions:  # a half-built set would fail at import
                Path(self.get_ext_fullpath(ext.name)).unlink(missing_ok=True)
            print(f"warning: compiling the parser and tracker failed ({exc}); installing pure Python", file=sys.stderr)


def ext_modules() -> list:
    # setuptools' editable build runs this file with "editable_wheel" in argv.
    if not compile_wanted(editable="editable_wheel" in sys.argv):
        return []
    try:
        from mypyc.build import mypycify
    except ImportError:
        if mode() == "1":
            raise SystemExit("KVMBOT_COMPILE=1 needs mypy (which carries mypyc) installed") from None
        print("warning: mypy is not installed; installing pure Python", file=sys.stderr)
        return []
    return mypycify(["--ignore-missing-imports", *MODULES], opt_level="3", group_name="kvmbot_core")


setup(ext_modules=ext_modules(), cmdclass={"build_ext": OptionalBuildExt})
