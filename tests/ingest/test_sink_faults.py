"""The sink's answers over a real socket when the store's storage fails for real:
its directory removed, its file replaced, the disk full, an I/O error of the
kind that remounts a server's file system read-only (an ext4 image shut down
with EXT4_IOC_SHUTDOWN), and a poison mail among good ones.

(`mount -o remount,ro` itself cannot be injected while the store has its
files open for writing: the kernel refuses it. A read-only file system fails
SQLite's writes as the I/O error does, with an OperationalError: 451.)"""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
import smtplib
import subprocess
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from bot.store import Store

from .test_smtp import _send, message_id, running_sink, send


async def _refused(sink, raw: bytes) -> tuple[int, bytes]:  # type: ignore[no-untyped-def]
    with pytest.raises(smtplib.SMTPDataError) as err:
        await send(sink, raw)
    return err.value.smtp_code, err.value.smtp_error


async def test_database_directory_removed_while_running_is_451(
    tmp_path: Path, seed_mails: list[bytes], caplog: pytest.LogCaptureFixture
) -> None:
    where = tmp_path / "var"
    where.mkdir()
    store = await Store.open(f"sqlite+aiosqlite:///{where / 'kvm.db'}")
    try:
        async with running_sink(store) as sink:
            await send(sink, seed_mails[0])
            shutil.rmtree(where)
            with caplog.at_level(logging.CRITICAL, logger="bot.store.guard"):
                for raw in seed_mails[1:4]:  # every retry too: nothing is acknowledged into the void
                    code, text = await _refused(sink, raw)
                    assert code == 451 and text.startswith(b"4.3.0")
        assert [r.levelno for r in caplog.records if r.name == "bot.store.guard"] == [logging.CRITICAL]
        assert "was removed" in (store.file_problem or "")
    finally:
        await store.close()


async def test_database_file_replaced_while_running_is_451(tmp_path: Path, seed_mails: list[bytes]) -> None:
    db = tmp_path / "kvm.db"
    store = await Store.open(f"sqlite+aiosqlite:///{db}")
    try:
        async with running_sink(store) as sink:
            await send(sink, seed_mails[0])
            shutil.copyfile(db, tmp_path / "restored.db")
            os.replace(tmp_path / "restored.db", db)  # e.g. a restore copied over it
            code, _ = await _refused(sink, seed_mails[1])
            assert code == 451
        assert "replaced" in (store.file_problem or "")
    finally:
        await store.close()


@pytest.fixture
def small_fs(tmp_path: Path) -> Iterator[Path]:
    """A real 2 MiB file system of its own (tmpfs), to fill up. Needs root (CI and the development machines run as root)."""
    mnt = tmp_path / f"fs-{uuid.uuid4().hex[:8]}"
    mnt.mkdir()
    got = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(mnt)], capture_output=True)
    if got.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {got.stderr.decode().strip()}")
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], check=False)


async def test_disk_full_is_451_and_the_retry_lands(small_fs: Path, seed_mails: list[bytes]) -> None:
    store = await Store.open(f"sqlite+aiosqlite:///{small_fs / 'kvm.db'}")
    try:
        async with running_sink(store) as sink:
            await send(sink, seed_mails[0])
            filler = small_fs / "filler"
            with open(filler, "wb") as f:  # take every free block
                try:
                    while True:
                        f.write(b"\0" * 65536)
                        f.flush()
                except OSError:
                    pass
            code, _ = await _refused(sink, seed_mails[1])
            assert code == 451
            filler.unlink()
            await send(sink, seed_mails[1])  # the list server's retry, once there is room
        assert [await store.raw(message_id(m)) for m in seed_mails[:2]] == seed_mails[:2]
    finally:
        await store.close()


async def test_a_poison_mail_among_good_ones_all_get_250(tmp_path: Path, seed_mails: list[bytes]) -> None:
    """15 mails at once, one of which the database cannot store normally: all 15
    get 250 (none is refused, so none is retried forever), 14 are tracked, the
    poison is kept raw and listed by `kvm-patchbot unparsed`."""

    from bot.config import SmtpSettings
    from bot.ingest.groupcommit import GroupCommit
    from bot.ingest.smtp import MailMeta, SmtpSink

    from tests.store.test_durability import poisoning

    store = await Store.open(f"sqlite+aiosqlite:///{tmp_path / 'p.db'}", parser=poisoning)
    good = seed_mails[:14]
    poison = seed_mails[14].replace(b"Subject: ", b"Subject: poison ", 1)
    mails = good[:7] + [poison] + good[7:]
    all_in = asyncio.Event()
    sizes: list[int] = []

    async def commit(batch: list[tuple[bytes, str]]) -> None:
        sizes.append(len(batch))
        await store.ingest_many(batch, source="smtp")

    commits: GroupCommit[tuple[bytes, str]] = GroupCommit(commit)
    arrived = 0

    async def deliver(raw: bytes, meta: MailMeta) -> None:
        # Each mail waits until all 15 are in DATA, then all queue in one loop
        # pass, before the flusher first runs: one batch holds them all.
        nonlocal arrived
        arrived += 1
        if arrived == len(mails):
            all_in.set()
        await all_in.wait()
        await commits.submit((raw, meta.source_ref))

    sink = SmtpSink(SmtpSettings(port=0), deliver)
    await sink.start()
    loop = asyncio.get_running_loop()
    try:
        with ThreadPoolExecutor(max_workers=len(mails)) as clients:  # all 15 at once
            port = sink.address[1]
            # each raises unless its mail got 250
            await asyncio.gather(*(loop.run_in_executor(clients, _send, port, m, "kvm@localhost", None) for m in mails))
    finally:
        await sink.stop()
    try:
        assert sizes == [15]
        assert await store.count("mails") == 15
        (kept,) = await store.unparseable()
        assert kept.message_id == message_id(poison) and kept.errors[-1].startswith("store: ")
        assert await store.raw(kept.message_id) == poison
        # The 14 innocent mails made exactly the series they make without the poison.
        got = [(v.title, v.received) for v in await store.list_series()]
    finally:
        await store.close()
    reference = await Store.open(f"sqlite+aiosqlite:///{tmp_path / 'ref.db'}")
    try:
        await reference.ingest_many(good, source="smtp")
        assert got == [(v.title, v.received) for v in await reference.list_series()] and len(got) >= 5
    finally:
        await reference.close()


EXT4_IOC_SHUTDOWN = 0x8004587D  # _IOR('X', 125, __u32), linux/fs/ext4/ext4.h
EXT4_GOING_FLAGS_NOLOGFLUSH = 2  # stop at once: what is not on the disk yet is gone


@pytest.fixture
def ext4_image(tmp_path: Path) -> Iterator[tuple[Path, Path]]:
    """(image, mount point): a real ext4 file system on a loop device, mounted
    with errors=remount-ro as servers are. Needs root and loop devices."""
    image, mnt = tmp_path / "fs.img", tmp_path / f"ext4-{uuid.uuid4().hex[:8]}"
    mnt.mkdir()
    with open(image, "wb") as f:
        f.truncate(32 * 1024 * 1024)
    steps = (["mkfs.ext4", "-q", "-F", str(image)], ["mount", "-o", "loop,errors=remount-ro", str(image), str(mnt)])
    for cmd in steps:
        try:
            got = subprocess.run(cmd, capture_output=True)
        except FileNotFoundError:
            pytest.skip(f"{cmd[0]} is not installed")
        if got.returncode != 0:
            pytest.skip(f"cannot {cmd[0]} an ext4 image here: {got.stderr.decode().strip()}")
    try:
        yield image, mnt
    finally:
        if subprocess.run(["umount", str(mnt)], capture_output=True, check=False).returncode != 0:
            subprocess.run(["umount", "-l", str(mnt)], capture_output=True, check=False)


async def test_an_io_error_loses_no_acknowledged_mail_and_what_follows_gets_451(
    ext4_image: tuple[Path, Path], tmp_path: Path, seed_mails: list[bytes]
) -> None:
    """The fault that remounts a server's file system read-only: every write
    fails from one instant, and what was only in the page cache is gone. Each
    mail that got its 250 before must be on the disk (synchronous=FULL; with
    NORMAL they were lost); the next one gets 451."""
    import fcntl
    import sqlite3

    image, mnt = ext4_image
    store = await Store.open(f"sqlite+aiosqlite:///{mnt / 'kvm.db'}")
    acked = seed_mails[:12]
    try:
        async with running_sink(store) as sink:
            for raw in acked:
                await send(sink, raw)
            fd = os.open(mnt, os.O_RDONLY)
            try:
                fcntl.ioctl(fd, EXT4_IOC_SHUTDOWN, EXT4_GOING_FLAGS_NOLOGFLUSH.to_bytes(4, "little"))
            finally:
                os.close(fd)
            code, _ = await _refused(sink, seed_mails[12])
            assert code == 451
    finally:
        await store.close()
    await asyncio.to_thread(subprocess.run, ["umount", str(mnt)], check=True)
    # As after the reboot: the image mounted again, its journal replayed.
    await asyncio.to_thread(subprocess.run, ["mount", "-o", "loop", str(image), str(mnt)], check=True)
    con = sqlite3.connect(mnt / "kvm.db")
    try:
        stored = {r[0] for r in con.execute("SELECT message_id FROM mails")}
    finally:
        con.close()  # else the fixture cannot unmount the image
    assert stored == {message_id(m) for m in acked}
