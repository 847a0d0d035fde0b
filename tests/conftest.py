"""Shared fixtures: where the read-only corpus lives, PostgreSQL, the kvmarm archive."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DATA = Path(__file__).resolve().parent / "data"
SHARED = Path(os.environ.get("KVMBOT_SHARED", ROOT.parent / "shared"))
CORPUS = SHARED / "corpus"
CHECKLISTS = SHARED / "checklists"


@pytest.fixture(scope="session")
def data_dir() -> Path:
    return DATA


@pytest.fixture(scope="session")
def seed_dir() -> Path:
    """The 18 seed mails and the old tool's digest (copied into tests/data)."""
    return DATA / "seed"


@pytest.fixture(scope="session")
def corpus() -> Path:
    if not CORPUS.is_dir():
        pytest.skip(f"shared corpus not found at {CORPUS} (set KVMBOT_SHARED)")
    return CORPUS


@pytest.fixture(scope="session")
def kvmarm_git(corpus: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A bare clone of the real kvmarm public-inbox epoch (21,367 mails), once per run."""
    bundle = corpus / "kvmarm-epoch0.bundle"
    dest = tmp_path_factory.mktemp("kvmarm") / "0.git"
    subprocess.run(
        ["git", "clone", "--quiet", "--bare", str(bundle), str(dest)],
        check=True,
    )
    return dest


@pytest.fixture(scope="session")
def pg_url() -> str:
    """The PostgreSQL URL for tests; skips visibly where none is configured."""
    url = os.environ.get("KVMBOT_TEST_PG_URL")
    if not url:
        pytest.skip("KVMBOT_TEST_PG_URL is not set: PostgreSQL tests skipped")
    return url
