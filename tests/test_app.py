"""The service in-process: SMTP and the lore poller into one store, delivery woken,
and a shutdown that lets an in-flight commit finish."""

from __future__ import annotations

import asyncio
import json
import smtplib
import sqlite3
from pathlib import Path

import pytest

from bot.app import App
from bot.config import Settings
from bot.ingest.smtp import MailMeta
from tests.ingest.inbox import add_commit, new_epoch


def _send(port: int, raw: bytes) -> None:
    with smtplib.SMTP("127.0.0.1", port, local_hostname="client.test", timeout=30) as c:
        c.sendmail("list@vger.kernel.org", ["kvm@localhost"], raw.replace(b"\n", b"\r\n"))


def _seed(seed_dir: Path) -> list[bytes]:
    return [p.read_bytes() for p in sorted(seed_dir.glob("*.eml"))]


def _settings(tmp_path: Path, **extra: object) -> Settings:
    return Settings(
        smtp={"port": 0},
        store={"url": f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}"},
        discord={"preview_file": tmp_path / "preview.jsonl"},
        **extra,
    )


async def test_smtp_and_poller_feed_one_store_and_wake_delivery(tmp_path: Path, seed_dir: Path) -> None:
    seeds = _seed(seed_dir)
    src = new_epoch(tmp_path / "lore.git")
    add_commit(src, seeds[5])  # history: in the archive before the bot first polls it
    settings = _settings(
        tmp_path,
        poller={"enabled": True, "url": f"file://{src}", "mirror": tmp_path / "mirror.git", "interval_seconds": 3600,
                "verify": False},  # lore as the only source: every later mail is news
    )
    app = App(settings)
    await app.start()
    try:
        assert app.poller is not None and app.sink is not None
        await asyncio.wait_for(app.poller.polled.wait(), 30)
        assert app.poller.last_error is None
        for raw in seeds[1:5]:  # the hashed-page-list series reaches the archive later
            add_commit(src, raw)
        assert (await app.poller.poll()).imported == 4
        await asyncio.to_thread(_send, app.sink.address[1], seeds[0])
        await asyncio.to_thread(_send, app.sink.address[1], seeds[1])  # also in the archive
        delivery = app.workers[0]
        await delivery.wait_idle(30)  # type: ignore[attr-defined]
        assert await app.store.count("mails") == 6
        assert (app.stats.new, app.stats.duplicates) == (6, 1)
    finally:
        await app.stop()
    posts = [json.loads(line) for line in (tmp_path / "preview.jsonl").read_text().splitlines()]
    titles = [e["title"] for r in posts if r["action"] == "send" for e in r["post"]["embeds"]]
    assert any("TDP MMU" in t for t in titles)  # the SMTP mail
    assert any("Dynamically allocate hashed page list" in t for t in titles)  # the second poll
    # The first poll of an empty mirror is the archive's past: stored, never announced.
    assert not any("zero-initialize on-stack CPUID" in t for t in titles)


class _Gate(App):
    """An App that tells the test when a delivery has reached the store."""

    def __init__(self, settings: Settings) -> None:
        super().__init__(settings, workers=[])
        self.in_store = asyncio.Event()

    async def deliver(self, raw: bytes, meta: MailMeta) -> None:
        self.in_store.set()
        await super().deliver(raw, meta)


async def test_shutdown_finishes_the_commit_in_flight(tmp_path: Path, seed_dir: Path) -> None:
    raw = _seed(seed_dir)[5]
    app = _Gate(_settings(tmp_path))
    await app.start()
    assert app.sink is not None
    port = app.sink.address[1]
    # Another process holds the SQLite write lock: the commit waits on it.
    blocker = sqlite3.connect(tmp_path / "bot.db", isolation_level=None)
    blocker.execute("BEGIN EXCLUSIVE")
    sending = asyncio.create_task(asyncio.to_thread(_send, port, raw))
    await asyncio.wait_for(app.in_store.wait(), 30)
    sink = app.sink
    stopping = asyncio.create_task(app.stop())
    await asyncio.wait_for(sink.closed.wait(), 30)
    with pytest.raises(ConnectionRefusedError):
        await asyncio.to_thread(_send, port, raw)
    blocker.execute("ROLLBACK")
    blocker.close()
    await asyncio.wait_for(stopping, 30)
    await asyncio.wait_for(sending, 30)  # the client got its 250
    with sqlite3.connect(tmp_path / "bot.db") as con:
        assert con.execute("SELECT count(*) FROM mails").fetchone() == (1,)


async def test_database_down_is_451_through_group_commit(tmp_path: Path, seed_dir: Path) -> None:
    raw = _seed(seed_dir)[6]
    app = App(_settings(tmp_path), workers=[])
    await app.start()
    try:
        assert app.sink is not None
        port = app.sink.address[1]
        blocker = sqlite3.connect(tmp_path / "bot.db", isolation_level=None)
        blocker.execute("BEGIN EXCLUSIVE")  # another process holds the write lock
        with pytest.raises(smtplib.SMTPDataError) as err:
            await asyncio.to_thread(_send, port, raw)
        assert err.value.smtp_code == 451
        blocker.execute("ROLLBACK")
        blocker.close()
        await asyncio.to_thread(_send, port, raw)  # the retry
        await asyncio.to_thread(_send, port, raw)
        assert await app.store.count("mails") == 1
        assert (app.stats.new, app.stats.duplicates) == (1, 1)
    finally:
        await app.stop()
