"""Shared fixtures: where the read-only corpus lives, PostgreSQL, the kvmarm archive."""

from __future__ import annotations

import os
import subprocess
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from bot.store import Store

# Most tests check what one mail does to Discord the moment it lands: with the
# routing settle window off. The tests of the window itself (tests/e2e/test_settle.py,
# test_arrival_orders.py) set it, and a fake clock, explicitly.
os.environ.setdefault("KVMBOT_ROUTING__SETTLE_SECONDS", "0")

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


@dataclass
class StoreTarget:
    """Where a test store lives: its URL, and the PostgreSQL schema or SQLite file."""

    url: str
    schema: str | None = None
    sqlite_file: Path | None = None

    async def open(self, url: str | None = None) -> Store:
        return await Store.open(url or self.url, schema=self.schema)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.pg)])
async def store_target(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[StoreTarget]:
    """Each store test runs twice: on a fresh SQLite file, and in a fresh
    PostgreSQL schema (dropped afterwards) so tests never see each other's rows."""
    if request.param == "sqlite":
        db = tmp_path / "store.db"
        yield StoreTarget(f"sqlite+aiosqlite:///{db}", sqlite_file=db)
        return
    url = request.getfixturevalue("pg_url")
    schema = "t_" + uuid.uuid4().hex[:12]
    admin = create_async_engine(url)
    async with admin.begin() as conn:
        await conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield StoreTarget(url, schema=schema)
    finally:
        async with admin.begin() as conn:
            await conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        await admin.dispose()


@pytest.fixture
async def pg_store(pg_url: str) -> AsyncIterator[Store]:
    """A store in a fresh PostgreSQL schema, dropped afterwards."""
    schema = "t_" + uuid.uuid4().hex[:12]
    admin = create_async_engine(pg_url)
    async with admin.begin() as conn:
        await conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    store = await Store.open(pg_url, schema=schema)
    try:
        yield store
    finally:
        await store.close()
        async with admin.begin() as conn:
            await conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        await admin.dispose()


@pytest.fixture
async def store(store_target: StoreTarget) -> AsyncIterator[Store]:
    s = await store_target.open()
    try:
        yield s
    finally:
        await s.close()
