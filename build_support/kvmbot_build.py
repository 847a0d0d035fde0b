"""Build backend: setuptools, plus the mail parser and tracker compiled with mypyc.

The parser (`bot/mail`) and the series tracker (`bot/series`), pure typed
Python, are the hot path of every import and of the SMTP sink; compiled to C
by mypyc they run about 1.4x faster with the same source and the same
results (`tests/mail/test_compiled.py` checks that on the whole corpus).
Which installs compile, set by `KVMBOT_COMPILE`:

- unset ("auto"): a wheel (`pip install .`, the deployment) is compiled; an
  editable install (`pip install -e .`, development) is not, so an edited
  `.py` file is what runs. Where the compiler fails, auto falls back to pure
  Python with a warning;
- `1`: always compile, and fail loudly if that fails;
- `0`: never compile.

mypy (which carries mypyc) is a build requirement only when compiling.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import sysconfig
import tempfile
from pathlib import Path

from setuptools import build_meta as _setuptools  # type: ignore[import-untyped]  # (no stubs shipped)
from setuptools.build_meta import *  # type: ignore[import-untyped]  # noqa: F403 - the PEP 517 hooks we do not change

# Pure code with no pydantic classes of its own: the models
# (bot/mail/models.py, bot/series/models.py) stay interpreted, as pydantic needs.
MODULES = [
    "bot/mail/applied.py",
    "bot/mail/classify.py",
    "bot/mail/construct.py",
    "bot/mail/diff.py",
    "bot/mail/headers.py",
    "bot/mail/mime.py",
    "bot/mail/parse.py",
    "bot/mail/people.py",
    "bot/mail/subject.py",
    "bot/mail/trailers.py",
    "bot/series/bridge.py",
    "bot/series/decision.py",
    "bot/series/diffhash.py",
    "bot/series/late.py",
    "bot/series/lineage.py",
    "bot/series/memindex.py",
    "bot/series/neighbours.py",
    "bot/series/replies.py",
    "bot/series/state.py",
    "bot/series/threads.py",
    "bot/series/titles.py",
    "bot/series/tracker.py",
    "bot/series/window.py",
]
MYPY = "mypy>=1.11,<3"
ROOT = Path(__file__).resolve().parent.parent
# What a build reads: copied as a whole, so the copy builds as the tree would.
_BUILD_INPUTS = ("bot", "build_support", "setup.py", "pyproject.toml", "README.md")


def mode() -> str:
    """"auto", "1" or "0", from KVMBOT_COMPILE."""
    value = os.environ.get("KVMBOT_COMPILE", "auto").strip().lower() or "auto"
    if value not in ("auto", "1", "0"):
        raise SystemExit(f"KVMBOT_COMPILE must be 1, 0 or unset, not {value!r}")
    return value


def compile_wanted(*, editable: bool) -> bool:
    value = mode()
    return value == "1" or (value == "auto" and not editable)


def get_requires_for_build_wheel(config_settings=None):  # type: ignore[no-untyped-def]
    extra = [MYPY] if compile_wanted(editable=False) else []
    return _setuptools.get_requires_for_build_wheel(config_settings) + extra


def get_requires_for_build_editable(config_settings=None):  # type: ignore[no-untyped-def]
    extra = [MYPY] if compile_wanted(editable=True) else []
    return _setuptools.get_requires_for_build_editable(config_settings) + extra


_CACHE_KEEP = 4  # compiled copies kept in the cache (one per recent state of the tree)


def compiled_copy(dest: Path) -> Path:
    """A copy of the tree in `dest` with the parser and tracker compiled in place, as a
    wheel build would compile it (for the tests and benchmarks that compare
    it with the source). Needs mypy installed; raises on a failed build.

    The C compile of the group takes a minute or more, so a built copy is kept
    in a cache keyed by the bytes of every build input, the Python, mypy and
    the C compiler: a copy is reused only for exactly what it was built from.
    `KVMBOT_BUILD_CACHE`: the cache folder (default ~/.cache/kvm-patchbot/compiled);
    empty or 0 builds every time."""
    cache = _cache_dir()
    key = _build_key() if cache is not None else ""
    if cache is not None and (cache / key / ".complete").is_file():
        shutil.copytree(cache / key, dest, dirs_exist_ok=True, ignore=shutil.ignore_patterns(".complete"))
        return dest
    _copy_inputs(dest)
    done = subprocess.run(
        [sys.executable, "setup.py", "build_ext", "--inplace"],
        cwd=dest, env={**os.environ, "KVMBOT_COMPILE": "1"}, capture_output=True, text=True,
    )
    if done.returncode != 0:
        raise RuntimeError(f"compiling the parser and tracker failed:\n{done.stderr[-4000:]}")
    if cache is not None:
        _keep(dest, cache, key)
    return dest


def _copy_inputs(dest: Path) -> None:
    for name in _BUILD_INPUTS:
        src = ROOT / name
        if src.is_dir():
            shutil.copytree(src, dest / name, ignore=shutil.ignore_patterns("__pycache__", "*.so"), dirs_exist_ok=True)
        else:
            shutil.copy2(src, dest / name)


def _cache_dir() -> Path | None:
    value = os.environ.get("KVMBOT_BUILD_CACHE")
    if value is not None and value.strip() in ("", "0"):
        return None
    if value:
        return Path(value)
    home = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(home) / "kvm-patchbot" / "compiled"


def _build_key() -> str:
    """What a compiled copy depends on: the build inputs as copied, the Python, mypy and the compiler."""
    h = hashlib.sha256()
    for name in _BUILD_INPUTS:
        src = ROOT / name
        files = [src] if src.is_file() else sorted(
            f for f in src.rglob("*") if f.is_file() and "__pycache__" not in f.parts and f.suffix != ".so"
        )
        for f in files:
            h.update(f"{f.relative_to(ROOT)}\0{f.stat().st_size}\0".encode())
            h.update(f.read_bytes())
    import mypy.version  # mypyc's code generation

    cc = (sysconfig.get_config_var("CC") or "cc").split()[0]
    try:
        compiler = subprocess.run([cc, "--version"], capture_output=True, text=True, timeout=30).stdout
    except OSError:
        compiler = ""
    h.update(f"{sys.version}\0{mypy.version.__version__}\0{compiler}".encode())
    return h.hexdigest()[:32]


def _keep(built: Path, cache: Path, key: str) -> None:
    """Store `built` as cache/key, atomically (a rename), then drop the oldest copies."""
    try:
        cache.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(dir=cache, prefix=".staging-"))
        shutil.copytree(built, staging, dirs_exist_ok=True, ignore=shutil.ignore_patterns("build"))
        (staging / ".complete").touch()
        try:
            staging.rename(cache / key)
        except OSError:  # another run stored the same key first
            shutil.rmtree(staging, ignore_errors=True)
        kept = sorted((d for d in cache.iterdir() if not d.name.startswith(".")), key=lambda d: d.stat().st_mtime)
        for old in kept[:-_CACHE_KEEP]:
            shutil.rmtree(old, ignore_errors=True)
    except OSError as exc:  # a cache that cannot be written costs time, never the build
        print(f"warning: not caching the compiled copy in {cache}: {exc}", file=sys.stderr)
