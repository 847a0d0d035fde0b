"""Real mail end to end: the 42 x86 threads and the kvmarm public-inbox archive."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.ingest.sources import iter_path
from bot.series.models import SeriesView
from bot.series.window import Window
from bot.store import IngestStats, Store

from .conftest import outcome
from .test_rows_digest import ARCHIVE_DIGEST, rows_digest

pytestmark = pytest.mark.corpus

TLB = "Fine-grained TLB flush"


def _bulk_db(path: Path, db: Path) -> IngestStats:
    """Ingest once per session (synchronously, outside the tests' event loops)."""

    async def run() -> IngestStats:
        store = await Store.open(f"sqlite+aiosqlite:///{db}")
        try:
            return await store.ingest_many(iter_path(path), source="archive")
        finally:
            await store.close()

    return asyncio.run(run())


@pytest.fixture(scope="session")
def x86_db(corpus: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    db = tmp_path_factory.mktemp("x86") / "x86.db"
    stats = _bulk_db(corpus / "kvm-x86-threads", db)
    assert stats.read == 1358 and stats.new + stats.duplicates == stats.read
    return db


@pytest.fixture
async def x86(x86_db: Path) -> AsyncIterator[Store]:
    store = await Store.open(f"sqlite+aiosqlite:///{x86_db}")
    yield store
    await store.close()


async def _lineage_of(store: Store, needle: str) -> list[SeriesView]:
    hits = [v for v in await store.list_series() if needle in v.title]
    assert hits, needle
    return await store.lineage(hits[0].lineage_id)


async def test_x86_one_posting_per_thread(x86: Store):
    views = await x86.list_series()
    kernel = [v for v in views if "QEMU" not in v.tags]
    assert len(kernel) == 42
    assert all(v.complete and v.cover for v in kernel)
    # The QEMU side of the TscScaling v1 series, sent inside its thread: a
    # posting of its own (for another tree; b4 leaves it out of the series),
    # whatever order the thread arrives in (tests/series/test_companion_patch.py).
    (qemu,) = [v for v in views if "QEMU" in v.tags]
    assert qemu.title == "i386: Support Enlightened VMCS revisions" and qemu.cover is None
    assert not await x86.unparseable()


async def test_hyperv_tlb_flush_is_one_lineage_of_13_versions(x86: Store):
    versions = await _lineage_of(x86, TLB)
    labels = [("RFC " if v.rfc else "") + f"v{v.version}" for v in versions]
    assert labels == ["RFC v1", "v1"] + [f"v{n}" for n in range(3, 14)]
    assert [v.total for v in versions][-1] == 48 and max(v.total for v in versions) == 48
    for older, newer in zip(versions, versions[1:], strict=False):
        assert older.superseded_by == newer.series_id and newer.supersedes == older.series_id
    assert versions[-1].superseded_by is None
    # each version holds its own patches: no message id is shared between versions
    ids = [p.message_id for v in versions for p in v.patches]
    assert len(ids) == len(set(ids)) == sum(v.total + 1 for v in versions)
    # trailers stay with the version they were given on
    rfc = {p.index: p.reviewed_by for p in versions[0].patches if p.reviewed_by}
    assert rfc == {15: ("Michael Kelley <mikelley@microsoft.com>",)}
    # v12: Sean reviewed the cover, which counts for every patch of v12 only
    sean = "Sean Christopherson <seanjc@google.com>"
    v12, v13 = versions[-2], versions[-1]
    assert v12.version == 12 and all(sean in p.reviewed_by for p in v12.patches)
    assert not all(sean in p.reviewed_by for p in v13.patches if p.index)


async def test_other_x86_lineages(x86: Store):
    evmcs = await _lineage_of(x86, "TscScaling and EnclsExitingBitmap whith")
    assert [v.version for v in evmcs if not v.rfc] == [1, 2, 3, 4, 5, 6]
    xen = await _lineage_of(x86, "Xen event channel")
    assert [v.version for v in xen] == [3, 5]
    svm = await _lineage_of(x86, "exit_code bugs")
    assert [v.version for v in svm] == [1, 2]
    assert svm[1].applied_state == "all" and svm[1].applied is not None
    nvmx = await _lineage_of(x86, "Use vmcs_config for setting up nested")
    assert {v.lineage_id for v in nvmx}.isdisjoint({v.lineage_id for v in evmcs})


async def test_x86_bulk_equals_one_by_one(x86: Store, corpus: Path, tmp_path: Path):
    """The bulk path and mail-by-mail ingest build the same series (a few threads)."""
    files = sorted((corpus / "kvm-x86-threads").glob("3[0-9]-*.mbox"))
    one = await Store.open(f"sqlite+aiosqlite:///{tmp_path / 'one.db'}")
    bulk = await Store.open(f"sqlite+aiosqlite:///{tmp_path / 'bulk.db'}")
    try:
        for f in files:
            for rec in iter_path(f):
                await one.ingest(rec.data, source="mbox", source_ref=rec.ref)
        await bulk.ingest_many((r for f in files for r in iter_path(f)), source="mbox", batch_size=97)
        views, events = await outcome(one)
        assert (views, events) == await outcome(bulk) and events
    finally:
        await one.close()
        await bulk.close()


@pytest.fixture(scope="session")
def kvmarm_db(kvmarm_git: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, IngestStats]:
    db = tmp_path_factory.mktemp("kvmarm-store") / "kvmarm.db"
    return db, _bulk_db(kvmarm_git, db)


@pytest.fixture
async def kvmarm(kvmarm_db: tuple[Path, IngestStats]) -> AsyncIterator[tuple[Store, IngestStats]]:
    store = await Store.open(f"sqlite+aiosqlite:///{kvmarm_db[0]}")
    yield store, kvmarm_db[1]
    await store.close()


async def test_kvmarm_archive_end_to_end(kvmarm: tuple[Store, IngestStats]):
    store, stats = kvmarm
    assert stats.read == 21367
    assert stats.new + stats.duplicates == stats.read and stats.fallbacks == 0
    assert await store.count("mails") == stats.new  # every distinct mail kept
    views = await store.list_series()
    assert len(views) > 1000
    complete = sum(v.complete for v in views)
    assert complete / len(views) > 0.9
    # measured on this archive: 661 postings with a Reviewed-by, 265 with
    # applied patches, 75 pull requests, 286 lineages of several versions
    assert sum(any(p.reviewed_by for p in v.patches) for v in views) > 550
    assert sum(v.applied_state != "none" for v in views) > 220
    assert sum(v.pull for v in views) == 75
    lineages: dict[int, int] = {}
    for v in views:
        lineages[v.lineage_id] = lineages.get(v.lineage_id, 0) + 1
    assert 240 < sum(n > 1 for n in lineages.values()) < 340
    # the longest lineage: Steven Price's MTE support, RFC and v1..v15 (one per version)
    mte = max(lineages, key=lineages.__getitem__)
    versions = await store.lineage(mte)
    assert {v.title for v in versions} == {"MTE support for KVM guest"}
    assert [v.version for v in versions if not v.rfc and not v.duplicate_of][:3] == [1, 2, 3]
    # stored mails come back in arrival order with their commit ids
    last = views[-1]
    mails = await store.mails(source_refs=None, since=last.first_seen)
    assert mails and all(len(m.source_ref or "") == 40 for m in mails)
    assert [m.seq for m in mails] == sorted(m.seq for m in mails)


def test_kvmarm_archive_rows_are_unchanged(kvmarm_db: tuple[Path, IngestStats]):
    """Every row of the whole archive's import, to the byte (see test_rows_digest)."""
    digest, counts = rows_digest(kvmarm_db[0])
    assert digest == ARCHIVE_DIGEST, counts


# ---------------------------------------------------------------- the tracker window
# A window of a few series (and no days at all) evicts nearly every series
# after each mail or batch, so that almost every reference to an earlier series
# is a look-up in the database: the results must be those of the index of
# every series, to the last event.
SMALL = Window(days=0, max_series=3)


async def _windowed_bulk(path: Path, db: Path, batch: int) -> tuple[tuple[list[dict], list[tuple]], Store]:
    store = await Store.open(f"sqlite+aiosqlite:///{db}", window=SMALL)
    # Batches below POOL_MIN track on the window (a big first batch loads every
    # series); the window is trimmed after each batch commits.
    await store.ingest_many(iter_path(path), source="archive", batch_size=batch)
    return await outcome(store), store


async def test_x86_with_a_small_window_equals_every_series(x86: Store, corpus: Path, tmp_path: Path):
    expected = await outcome(x86)
    got, store = await _windowed_bulk(corpus / "kvm-x86-threads", tmp_path / "window.db", 10)
    try:
        assert store.window_loads > 500 and store.index_size <= SMALL.max_series  # look-ups did happen
        assert got == expected
    finally:
        await store.close()
    # and after a restart on the window, mail by mail (the SMTP path)
    files = sorted((corpus / "kvm-x86-threads").glob("3[0-9]-*.mbox"))
    one = await Store.open(f"sqlite+aiosqlite:///{tmp_path / 'one.db'}", window=SMALL)
    full = await Store.open(f"sqlite+aiosqlite:///{tmp_path / 'full.db'}")
    try:
        for f in files:
            for rec in iter_path(f):
                await one.ingest(rec.data, source="mbox", source_ref=rec.ref)
                await full.ingest(rec.data, source="mbox", source_ref=rec.ref)
        assert one.window_loads > 200 and one.index_size <= SMALL.max_series
        assert await outcome(one) == await outcome(full)
    finally:
        await one.close()
        await full.close()


async def test_kvmarm_with_a_small_window_equals_every_series(
    kvmarm: tuple[Store, IngestStats], kvmarm_git: Path, tmp_path: Path
):
    expected = await outcome(kvmarm[0])
    got, store = await _windowed_bulk(kvmarm_git, tmp_path / "window.db", 50)
    try:
        assert store.window_loads > 1000 and store.index_size <= SMALL.max_series
        views, events = got
        assert len(views) == len(expected[0]) and len(events) == len(expected[1])
        assert [v["lineage_id"] for v in views] == [v["lineage_id"] for v in expected[0]]
        assert views == expected[0]  # every series, its lineage links, trailers and applied state
        assert events == expected[1]
    finally:
        await store.close()
    # A restart on the window loads only the recent series.
    again = await Store.open(f"sqlite+aiosqlite:///{tmp_path / 'window.db'}", window=Window(days=30, max_series=50))
    try:
        assert 0 < again.index_size <= 50
    finally:
        await again.close()
