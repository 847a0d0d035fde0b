"""A second service on one database refuses to start (SQLite and PostgreSQL)."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.app import App
from bot.config import Settings
from bot.store.runlock import AlreadyRunning, RunLock, advisory_key

from tests.conftest import StoreTarget


async def test_second_run_on_one_sqlite_file_refuses_until_the_first_stops(tmp_path: Path) -> None:
    def settings() -> Settings:
        return Settings(smtp={"port": 0}, store={"url": f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}"})

    first = App(settings(), workers=[])
    await first.start()
    try:
        second = App(settings(), workers=[])
        with pytest.raises(AlreadyRunning, match=r"another `kvm-patchbot run` is using .*bot\.db \(pid \d+\)"):
            await second.start()
        assert second.sink is None  # nothing of it was left listening
    finally:
        await first.stop()
    again = App(settings(), workers=[])
    await again.start()
    await again.stop()


async def test_the_lock_refuses_a_second_holder_of_the_same_database(store_target: StoreTarget) -> None:
    a = await store_target.open()
    b = await store_target.open()
    try:
        lock = await RunLock.acquire(a.engine)
        with pytest.raises(AlreadyRunning, match="another `kvm-patchbot run` is using"):
            await RunLock.acquire(b.engine)
        await lock.release()
        relock = await RunLock.acquire(b.engine)  # released: free again
        await relock.release()
    finally:
        await a.close()
        await b.close()


def test_the_postgresql_key_is_per_database_and_schema() -> None:
    keys = {advisory_key(d, s) for d in ("kvm", "test") for s in ("public", "t_1")}
    assert len(keys) == 4 and all(-(2**63) <= k < 2**63 for k in keys)
