"""The cache of compiled copies (build_support/kvmbot_build.py): reused only for
exactly what it was built from."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from build_support import kvmbot_build as BUILD


@pytest.fixture
def tree(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A copy of the build inputs, as the ROOT the key is computed over."""
    root = tmp_path / "tree"
    root.mkdir()
    for name in BUILD._BUILD_INPUTS:
        src = BUILD.ROOT / name
        if src.is_dir():
            shutil.copytree(src, root / name, ignore=shutil.ignore_patterns("__pycache__", "*.so"))
        else:
            shutil.copy2(src, root / name)
    monkeypatch.setattr(BUILD, "ROOT", root)
    return root


def test_the_key_follows_every_byte_of_the_inputs(tree: Path) -> None:
    key = BUILD._build_key()
    assert BUILD._build_key() == key
    parse = tree / "bot" / "mail" / "parse.py"
    parse.write_bytes(parse.read_bytes() + b"\n")
    changed = BUILD._build_key()
    assert changed != key
    (tree / "bot" / "mail" / "parse.cpython-311-x86_64-linux-gnu.so").write_bytes(b"a build product")
    (tree / "bot" / "mail" / "__pycache__").mkdir(exist_ok=True)
    (tree / "bot" / "mail" / "__pycache__" / "parse.pyc").write_bytes(b"bytecode")
    assert BUILD._build_key() == changed  # build products are not inputs


def test_a_stored_copy_is_reused_without_its_marker(tree: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cache = tmp_path / "cache"
    monkeypatch.setenv("KVMBOT_BUILD_CACHE", str(cache))
    built = tmp_path / "built"
    (built / "bot" / "mail").mkdir(parents=True)
    (built / "bot" / "mail" / "parse.so").write_bytes(b"compiled")
    BUILD._keep(built, cache, BUILD._build_key())
    got = BUILD.compiled_copy(tmp_path / "dest")  # no compile: the stored copy
    assert (got / "bot" / "mail" / "parse.so").read_bytes() == b"compiled"
    assert not (got / ".complete").exists()
    assert [d.name for d in cache.iterdir()] == [BUILD._build_key()]


def test_no_cache_when_turned_off(monkeypatch: pytest.MonkeyPatch) -> None:
    for off in ("", "0"):
        monkeypatch.setenv("KVMBOT_BUILD_CACHE", off)
        assert BUILD._cache_dir() is None
    monkeypatch.delenv("KVMBOT_BUILD_CACHE")
    monkeypatch.setenv("XDG_CACHE_HOME", "/x")
    assert BUILD._cache_dir() == Path("/x/kvm-patchbot/compiled")
