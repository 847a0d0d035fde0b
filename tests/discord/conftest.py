"""Seed mails in arrival order, a fresh SQLite store per test."""

from __future__ import annotations

import csv
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from bot.store import Store


def seed_mails(seed_dir: Path) -> list[bytes]:
    with (seed_dir / "INDEX.tsv").open() as fh:
        rows = sorted(csv.DictReader(fh, delimiter="\t"), key=lambda r: int(r["arrival"]))
    return [(seed_dir / r["file"]).read_bytes() for r in rows]


@pytest.fixture(scope="session")
def seeds(seed_dir: Path) -> list[bytes]:
    return seed_mails(seed_dir)


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    s = await Store.open(f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}")
    try:
        yield s
    finally:
        await s.close()


@pytest.fixture(params=["sqlite", "postgresql"])
async def any_store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Store]:
    """A fresh SQLite file, or a fresh PostgreSQL schema (dropped afterwards)."""
    if request.param == "sqlite":
        s = await Store.open(f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}")
        try:
            yield s
        finally:
            await s.close()
        return
    url = request.getfixturevalue("pg_url")
    schema = "t_" + uuid.uuid4().hex[:12]
    admin = create_async_engine(url)
    async with admin.begin() as conn:
        await conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        s = await Store.open(url, schema=schema)
        try:
            yield s
        finally:
            await s.close()
    finally:
        async with admin.begin() as conn:
            await conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        await admin.dispose()
