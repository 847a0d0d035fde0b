"""The mypyc-compiled parser and tracker give exactly the pure-Python results.

Deployments install the compiled parser (see build_support/kvmbot_build.py);
development and the rest of this suite run the source. mypyc compiles the
same source, but checks annotations at run time and binds calls early, so
this builds them (as a wheel build would, from a copy of the tree) and
compares every field of every parse result over the whole shared corpus and a
few thousand mutated mails, in which the odd code paths run, and every
tracker decision and resulting series over the real archives.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import bot.mail.parse
from build_support import kvmbot_build as BUILD
from tests.conftest import DATA
from tests.mail.compiled_probe import fingerprints, series_fingerprints

PROBE = Path(__file__).resolve().parent / "compiled_probe.py"


@pytest.fixture(scope="module")
def compiled_tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the tree with bot/mail compiled in place (KVMBOT_COMPILE=1)."""
    try:
        import mypyc  # noqa: F401
    except ImportError:
        pytest.fail("mypy (with mypyc) is part of the test extra: pip install -e '.[test]'")
    return BUILD.compiled_copy(tmp_path_factory.mktemp("compiled"))


def run_compiled(tree: Path, sources: list[str]) -> tuple[dict[str, str], list[tuple[str, str]]]:
    env = {**os.environ, "PYTHONPATH": str(tree)}
    done = subprocess.run(
        [sys.executable, str(PROBE), *sources], cwd=tree, env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr[-4000:]
    first, *rest = done.stdout.splitlines()
    return json.loads(first), [tuple(json.loads(line)) for line in rest]


def compare(tree: Path, sources: list[str], at_least: int, *, series: bool = False) -> None:
    if bot.mail.parse.__file__ is None or not bot.mail.parse.__file__.endswith(".py"):
        pytest.skip(f"the installed parser is itself compiled ({bot.mail.parse.__file__}): nothing to compare with")
    modules, compiled = run_compiled(tree, ["--series", *sources] if series else sources)
    for path in BUILD.MODULES:  # each ran compiled, from the copy
        name = path.removesuffix(".py").replace("/", ".")
        assert modules[name].startswith(str(tree)) and modules[name].endswith(".so"), (name, modules[name])
    pure = list(series_fingerprints(sources) if series else fingerprints(sources))
    assert len(pure) >= at_least
    assert len(compiled) == len(pure)
    differ = [p[0] for p, c in zip(pure, compiled, strict=True) if p != c]
    assert not differ, f"{len(differ)} of {len(pure)} results differ when compiled, e.g. {differ[:5]}"


def test_seed_and_mutations_parse_the_same_compiled(compiled_tree: Path) -> None:
    seed = str(DATA / "seed")
    compare(compiled_tree, [seed, f"mutate:3000:7:{seed}"], at_least=3018)


@pytest.mark.corpus
def test_whole_corpus_parses_the_same_compiled(compiled_tree: Path, corpus: Path, kvmarm_git: Path) -> None:
    sources = [
        str(kvmarm_git),
        str(corpus / "kvm-x86-threads"),
        str(corpus / "stable-fixes.mbox"),
        str(corpus / "fixtures"),
        f"mutate:2000:11:{corpus / 'stable-fixes.mbox'}",
    ]
    compare(compiled_tree, sources, at_least=21_367 + 255 + 2000)


@pytest.mark.corpus
def test_tracker_decides_the_same_compiled(compiled_tree: Path, corpus: Path, kvmarm_git: Path) -> None:
    """Every decision and every resulting series, over the kvmarm archive and the x86 threads."""
    sources = [str(kvmarm_git), str(corpus / "kvm-x86-threads")]
    compare(compiled_tree, sources, at_least=21_000 + 1_600, series=True)
