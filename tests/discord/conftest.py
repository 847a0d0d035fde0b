"""Seed mails in arrival order, a fresh SQLite store per test."""

from __future__ import annotations

import csv
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.store import Store
from tests.conftest import StoreTarget


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


@pytest.fixture
async def any_store(store_target: StoreTarget) -> AsyncIterator[Store]:
    """For the preview worker on both databases; the Discord tests use SQLite (`store`)."""
    s = await store_target.open()
    try:
        yield s
    finally:
        await s.close()
