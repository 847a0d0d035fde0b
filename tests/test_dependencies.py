"""Every third-party import is declared where the code that makes it is installed.

A development machine carries packages installed by hand, so a green suite
there can hide an install step a fresh machine lacks (it did: mypy over
`bench/` needed `b4`, which only the `bench` extra installs). This reads the
imports themselves, so it fails on any machine, however polluted:

- `bot/` may import only `[project] dependencies`;
- `tests/` may import those and the `test` extra;
- `bench/` may import those, the `test` extra and the `bench` extra, but a
  bench-only package must be optional: imported inside `try: ... except
  ImportError`, because the suite type-checks and imports `bench/` without it.
"""

from __future__ import annotations

import ast
import importlib.metadata
import re
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
LOCAL = {"bot", "tests", "bench", "build_support", "kvmbot_build"}
# What a module is called is not what its distribution is called.
MODULE_OF = {"discord.py": {"discord"}, "pyyaml": {"yaml"}, "sqlalchemy": {"sqlalchemy"}}


def _name(requirement: str) -> str:
    return re.split(r"[\s\[<>=!~;]", requirement, maxsplit=1)[0].lower()


def _declared() -> dict[str, set[str]]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    extras = project["optional-dependencies"]
    return {
        "dependencies": {_name(r) for r in project["dependencies"]},
        **{extra: {_name(r) for r in reqs} for extra, reqs in extras.items()},
    }


def _modules_of(distribution: str) -> set[str]:
    """Top-level modules a distribution provides: from its installed files, else by name."""
    found = set(MODULE_OF.get(distribution, ()))
    try:
        files = importlib.metadata.files(distribution) or []
    except importlib.metadata.PackageNotFoundError:
        files = []
    for f in files:
        top = f.parts[0]
        if top.endswith((".dist-info", ".egg-info", ".data")) or top.startswith("__"):
            continue
        found.add(top.removesuffix(".py") if len(f.parts) == 1 else top)
    found.add(distribution.replace("-", "_"))
    return found


def _imports(path: Path) -> list[tuple[str, bool, int]]:
    """(top-level module, guarded by an ImportError handler, line) for each absolute import."""
    tree = ast.parse(path.read_text(), filename=str(path))
    guarded: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Try) and any(
            h.type is not None and "ImportError" in ast.unparse(h.type) for h in node.handlers
        ):
            for inner in node.body:
                guarded.update(id(n) for n in ast.walk(inner))
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        else:
            continue
        out.extend((n.split(".")[0], id(node) in guarded, node.lineno) for n in names)
    return sorted(out, key=lambda t: t[2])


def _third_party(folder: str) -> list[tuple[str, bool, str]]:
    out = []
    for path in sorted((ROOT / folder).rglob("*.py")):
        for module, guarded, line in _imports(path):
            if module in sys.stdlib_module_names or module in LOCAL or module == "__future__":
                continue
            out.append((module, guarded, f"{path.relative_to(ROOT)}:{line}"))
    return out


def _allowed(*groups: str) -> set[str]:
    declared = _declared()
    return {m for g in groups for dist in declared[g] for m in _modules_of(dist)}


@pytest.mark.parametrize(("folder", "groups"), [("bot", ("dependencies",)), ("tests", ("dependencies", "test"))])
def test_imports_are_declared(folder: str, groups: tuple[str, ...]) -> None:
    allowed = _allowed(*groups)
    undeclared = [f"{where}: {module}" for module, _, where in _third_party(folder) if module not in allowed]
    assert not undeclared, f"imported but not in {' + '.join(groups)} of pyproject.toml: {undeclared}"


def test_bench_imports_are_declared_and_bench_only_ones_optional() -> None:
    base = _allowed("dependencies", "test")
    bench = _allowed("bench")
    problems = []
    for module, guarded, where in _third_party("bench"):
        if module in base:
            continue
        if module not in bench:
            problems.append(f"{where}: {module} is in no extra")
        elif not guarded:
            problems.append(f"{where}: {module} is bench-only, so import it inside try/except ImportError")
    assert not problems, problems


def test_the_check_sees_imports_and_guards(tmp_path: Path) -> None:
    """The reader itself: a guarded and an unguarded import, told apart."""
    src = tmp_path / "m.py"
    src.write_text("import os\ntry:\n    import b4\nexcept ImportError:\n    b4 = None\nfrom discord.ext import commands\n")
    assert _imports(src) == [("os", False, 1), ("b4", True, 3), ("discord", False, 6)]
    assert "discord" in _allowed("dependencies") and "b4" not in _allowed("dependencies", "test")
