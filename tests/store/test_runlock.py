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


async def test_a_second_kvm_patchbot_run_exits_with_one_clear_line(tmp_path: Path) -> None:
    import asyncio
    import os
    import signal
    import sys

    root = Path(__file__).resolve().parents[2]
    env = {k: v for k, v in os.environ.items() if not k.startswith("KVMBOT_")}
    env.update(PYTHONPATH=str(root), KVMBOT_SMTP__PORT="0", KVMBOT_DISCORD__PREVIEW_FILE=str(tmp_path / "p.jsonl"))

    async def run(stderr: Path) -> asyncio.subprocess.Process:
        with open(stderr, "wb") as err:
            return await asyncio.create_subprocess_exec(
                sys.executable, "-m", "bot", "run", cwd=tmp_path, env=env, stdout=asyncio.subprocess.PIPE, stderr=err
            )

    first = await run(tmp_path / "first.log")
    assert first.stdout is not None
    try:
        assert b"ready" in await asyncio.wait_for(first.stdout.readline(), 60)
        second = await run(tmp_path / "second.log")
        await asyncio.wait_for(second.communicate(), 60)
        assert second.returncode == 1
        lines = (tmp_path / "second.log").read_text().strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("kvm-patchbot run: AlreadyRunning: another `kvm-patchbot run` is using ")
        assert f"(pid {first.pid})" in lines[0]
    finally:
        first.send_signal(signal.SIGTERM)
        await asyncio.wait_for(first.communicate(), 60)
    assert first.returncode == 0
