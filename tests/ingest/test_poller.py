"""The lore poller and the incremental import, offline: a bare repo fetched over file://."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from bot.ingest.gitimport import plan, run_plan
from bot.ingest.poller import FetchError, Poller
from bot.ingest.record import RawMail
from bot.store import Store

from .inbox import add_commit, new_epoch


def recording_importer(store: Store, seen: list[str]):  # type: ignore[no-untyped-def]
    async def chunk(mails: list[RawMail]) -> None:
        seen.extend(m.ref for m in mails)
        await store.ingest_many([(m.data, m.ref) for m in mails], source="lore")

    return chunk


async def test_poll_imports_exactly_the_new_commits(store: Store, tmp_path: Path, seed_mails: list[bytes]) -> None:
    src = new_epoch(tmp_path / "src.git")
    first = [add_commit(src, m) for m in seed_mails[:3]]
    seen: list[str] = []
    poller = Poller(
        f"file://{src}",
        tmp_path / "mirror" / "kvm.git",
        import_chunk=recording_importer(store, seen),
        load_cursor=store.get_cursor,
        save_cursor=store.set_cursor,
    )
    assert (await poller.poll()).imported == 3
    assert seen == first
    assert await store.get_cursor(poller.cursor) == first[-1]

    later = [add_commit(src, m) for m in seed_mails[3:6]]
    deletion = add_commit(src, None)  # public-inbox removed a mail: a commit without `m`
    seen.clear()
    assert (await poller.poll()).imported == 3
    assert seen == later
    assert await store.count("mails") == 6
    assert await store.get_cursor(poller.cursor) == deletion

    seen.clear()
    assert (await poller.poll()).imported == 0
    assert seen == []


async def test_interrupted_import_resumes_without_repeating(store: Store, tmp_path: Path, seed_mails: list[bytes]) -> None:
    repo = new_epoch(tmp_path / "epoch.git")
    commits = [add_commit(repo, m) for m in seed_mails[:7]]
    stop = asyncio.Event()
    seen: list[str] = []
    importer = recording_importer(store, seen)

    async def chunk_then_stop(mails: list[RawMail]) -> None:
        await importer(mails)
        stop.set()  # as SIGTERM would, while a chunk is being committed

    todo = plan(repo, None)
    assert todo is not None and todo.total == 7
    saved: list[str] = []

    async def save(commit: str) -> None:
        saved.append(commit)
        await store.set_cursor("c", commit)

    assert await run_plan(todo, chunk_then_stop, save, chunk=3, stop=stop) == 3
    assert saved == [commits[2]]
    rest = plan(repo, await store.get_cursor("c"))
    assert rest is not None and rest.total == 4
    assert await run_plan(rest, importer, save, chunk=3) == 4
    assert seen == commits  # each commit read once, in order
    assert await store.count("mails") == 7
    assert plan(repo, await store.get_cursor("c")) is None


async def test_fetch_failure_is_a_clear_error(tmp_path: Path) -> None:
    async def never(_: object) -> None:
        raise AssertionError("nothing to import")

    async def no_cursor(_: str) -> None:
        return None

    async def save(_: str, __: str) -> None:
        raise AssertionError("no cursor to save")

    poller = Poller(
        f"file://{tmp_path / 'missing.git'}", tmp_path / "mirror.git",
        import_chunk=never, load_cursor=no_cursor, save_cursor=save,
    )
    with pytest.raises(FetchError, match="missing.git"):
        await poller.poll()
