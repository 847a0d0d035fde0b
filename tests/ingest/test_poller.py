"""The lore poller and the incremental import, offline: a bare repo fetched over file://."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from bot.ingest.gitimport import plan, run_plan
from bot.ingest.poller import FetchError, Poller, next_epoch_url
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


@pytest.mark.parametrize(
    ("url", "following"),
    [
        ("https://lore.kernel.org/kvm/git/1.git", "https://lore.kernel.org/kvm/git/2.git"),
        ("https://lore.kernel.org/kvm/0", "https://lore.kernel.org/kvm/1"),
        ("https://lore.kernel.org/kvm/9/", "https://lore.kernel.org/kvm/10/"),
        ("file:///srv/lore/kvmarm/git/0.git", "file:///srv/lore/kvmarm/git/1.git"),
        ("https://lore.kernel.org/kvm", None),  # no epoch number: nothing to follow
        ("file:///srv/mirror/kvm1.git", None),
    ],
)
def test_next_epoch_url(url: str, following: str | None) -> None:
    assert next_epoch_url(url) == following


def two_importers(store: Store, news: list[str], past: list[str]):  # type: ignore[no-untyped-def]
    return {"import_chunk": recording_importer(store, news), "import_history": recording_importer(store, past)}


async def test_poller_moves_on_to_the_next_epoch_and_resumes_there(
    store: Store, tmp_path: Path, seed_mails: list[bytes]
) -> None:
    lore = tmp_path / "lore" / "git"
    lore.mkdir(parents=True)
    zero = new_epoch(lore / "0.git")
    old = [add_commit(zero, m) for m in seed_mails[:3]]
    news: list[str] = []
    past: list[str] = []

    def poller() -> Poller:
        return Poller(
            f"file://{zero}", tmp_path / "mirror.git", **two_importers(store, news, past),
            load_cursor=store.get_cursor, save_cursor=store.set_cursor,
        )

    first = poller()
    got = await first.poll()
    assert (got.imported, got.epoch_url) == (3, None)
    assert (past, news) == (old, [])  # the archive's past: stored, not announced

    # The list rolls over: a last mail lands in epoch 0, then mail goes to epoch 1.
    last = add_commit(zero, seed_mails[3])
    one = new_epoch(lore / "1.git")
    newer = [add_commit(one, m) for m in seed_mails[4:6]]
    got = await first.poll()
    assert (got.imported, got.epoch_url) == (3, f"file://{one}")
    assert news == [last, *newer]  # epoch 0 finished first; all of it is news
    assert first.url == f"file://{one}"
    assert await store.get_cursor(first.cursor) == newer[-1]
    assert await store.count("mails") == 6

    # Restarted with the same settings, it polls epoch 1, not epoch 0 again.
    news.clear()
    again = poller()
    latest = add_commit(one, seed_mails[6])
    got = await again.poll()
    assert (got.imported, got.epoch_url) == (1, None)
    assert again.url == f"file://{one}" and news == [latest] and past == old


async def test_a_first_poll_catches_up_through_every_epoch_quietly(
    store: Store, tmp_path: Path, seed_mails: list[bytes]
) -> None:
    zero = new_epoch(tmp_path / "0.git")
    one = new_epoch(tmp_path / "1.git")
    old = [add_commit(zero, m) for m in seed_mails[:2]] + [add_commit(one, m) for m in seed_mails[2:4]]
    new_epoch(tmp_path / "2.git")  # created, but no mail yet: not followed
    news: list[str] = []
    past: list[str] = []
    poller = Poller(
        f"file://{zero}", tmp_path / "mirror.git", **two_importers(store, news, past),
        load_cursor=store.get_cursor, save_cursor=store.set_cursor,
    )
    got = await poller.poll()
    assert (got.imported, got.epoch_url) == (4, f"file://{one}")
    assert (past, news) == (old, [])
