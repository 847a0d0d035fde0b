"""Bulk parsing in a worker process (slimmed of the mail texts) gives the same
store as parsing in-process."""

from __future__ import annotations

import pickle
from pathlib import Path

import pytest
from pydantic import BaseModel

from bot.ingest.sources import iter_path
from bot.mail import parse_mail
from bot.mail.models import ParsedMail
from bot.series.diffhash import normalised_files
from bot.store import Store
from bot.store.parsepool import ParsePool, work_chunk
from bot.store.rawcodec import unpack
from bot.store.rows import body_hash

from tests.conftest import DATA

from .conftest import outcome


def _in_process(raw: bytes) -> ParsedMail:
    return parse_mail(raw)  # not the default parser: the worker process is not used


def _crash(raw: bytes) -> ParsedMail:
    raise ValueError("boom")


def test_work_chunk_reports_a_parser_crash_and_still_compresses():
    raw = b"Subject: x\n\nbody\n"
    [(parsed, crash, files)], [raw_z], [digest] = work_chunk(_crash, [raw])
    assert parsed is None and crash == "ValueError('boom')" and files is None
    assert unpack(raw_z) == raw and digest == body_hash(raw)


def test_work_chunk_hashes_each_patch_as_its_row_would():
    raws = [p.read_bytes() for p in sorted((DATA / "seed").glob("*.eml"))]
    worked, _, digests = work_chunk(parse_mail, raws, slim=True)
    assert worked is not None and digests == [body_hash(raw) for raw in raws]
    patches = 0
    for raw, (slim, _, files) in zip(raws, worked, strict=True):
        assert slim is not None
        if parse_mail(raw).has_diff:
            assert files == normalised_files(parse_mail(raw).body) != {}
            patches += 1
        else:
            assert files is None
    assert patches >= 10


def test_work_chunk_without_a_parser_only_compresses():
    raw = b"Subject: x\n\nbody\n"
    worked, [raw_z], [digest] = work_chunk(None, [raw])
    assert worked is None and unpack(raw_z) == raw and digest == body_hash(raw)


def test_parse_results_cross_processes_unchanged_without_pydantic_setstate(monkeypatch: pytest.MonkeyPatch):
    """What the worker sends back is rebuilt equal, nested models and all, by
    `construct` (pydantic's per-model __setstate__ was a third of the pickling)."""
    mails = [parse_mail(p.read_bytes()) for p in sorted((DATA / "seed").glob("*.eml"))]
    blob = pickle.dumps(mails, protocol=pickle.HIGHEST_PROTOCOL)

    def refuse(self: BaseModel, state: object) -> None:
        raise AssertionError("unpickled through BaseModel.__setstate__")

    monkeypatch.setattr(BaseModel, "__setstate__", refuse)
    back = pickle.loads(blob)
    assert len(mails) == 18 and back == mails
    assert [m.model_dump_json() for m in back] == [m.model_dump_json() for m in mails]
    assert all(type(b.subject) is type(m.subject) and b.trailers == m.trailers for b, m in zip(back, mails, strict=True))


async def test_parse_pool_parses_in_another_process():
    pool = ParsePool(parse_mail)
    try:
        raw = b"Message-ID: <a@x>\nSubject: [PATCH] kvm: fix\nFrom: A <a@x.org>\n\nbody\n"
        [(parsed, crash, files)], [raw_z], [digest] = await pool.submit([raw])
        assert crash == "" and parsed == parse_mail(raw) and unpack(raw_z) == raw and digest == body_hash(raw)
        assert files is None  # no diff
        [(slim, _, _)], _, _ = await pool.submit([raw], slim=True)
        slimmed = {"body": "", "commit_message": "", "to": (), "cc": (), "attachments": (), "warnings": (),
                   "diffstat_computed": None}
        assert slim == parse_mail(raw).model_copy(update=slimmed)
        assert parse_mail(raw).body and not slim.body
    finally:
        pool.close()


@pytest.mark.corpus
async def test_pooled_bulk_equals_in_process_bulk(corpus: Path, tmp_path: Path):
    mails = [r for r in iter_path(corpus / "kvm-x86-threads")]
    assert len(mails) > 1000  # enough for the worker process (POOL_MIN)
    pooled = await Store.open(f"sqlite+aiosqlite:///{tmp_path / 'pooled.db'}")
    local = await Store.open(f"sqlite+aiosqlite:///{tmp_path / 'local.db'}", parser=_in_process)
    try:
        # 3 batches: results come back from the worker in order
        a = await pooled.ingest_many(mails, source="mbox", batch_size=500)
        b = await local.ingest_many(mails, source="mbox", batch_size=500)
        assert pooled._parse_pool.parses and pooled._parse_pool._pool is not None  # it did run
        assert not local._parse_pool.parses  # the test's parser: the worker only compressed
        assert (a.new, a.duplicates, a.events, a.series_created) == (b.new, b.duplicates, b.events, b.series_created)
        views, events = await outcome(pooled)
        assert (views, events) == await outcome(local) and events
    finally:
        await pooled.close()
        await local.close()
    assert pooled._parse_pool._pool is None  # close() ended the worker


async def test_a_dead_worker_leaves_the_import_to_this_process(tmp_path: Path):
    from concurrent.futures.process import BrokenProcessPool

    from tests.helpers import raw_mail

    mails = [raw_mail(f"m{i}@x", f"[PATCH] KVM: x86: fix {i}", at=i) for i in range(1200)]
    store = await Store.open(f"sqlite+aiosqlite:///{tmp_path / 'dead.db'}")
    calls = []

    def dead(raws: list[bytes], *, slim: bool = False):  # type: ignore[no-untyped-def]
        calls.append(len(raws))
        raise BrokenProcessPool("gone")

    store._parse_pool.submit = dead  # type: ignore[method-assign]
    try:
        got = await store.ingest_many(mails, source="mbox")
        assert calls == [0, 1000]  # started early, tried once, then compressed in a thread and parsed here
        assert (got.new, got.fallbacks) == (1200, 0)
        assert await store.count("mails") == 1200
        raw = await store.raw("m7@x")
        assert raw == mails[7]
    finally:
        await store.close()


async def test_an_import_of_unknown_length_starts_the_worker_before_its_first_batch(tmp_path: Path):
    from tests.helpers import raw_mail

    mails = [raw_mail(f"m{i}@x", f"[PATCH] KVM: x86: fix {i}", at=i) for i in range(600)]
    store = await Store.open(f"sqlite+aiosqlite:///{tmp_path / 'early.db'}")
    started_when_read: list[bool] = []

    def records():  # type: ignore[no-untyped-def]
        started_when_read.append(store._parse_pool._pool is not None)
        yield from mails

    try:
        await store.ingest_many(mails[:3], source="mbox")  # a short list: no worker
        assert store._parse_pool._pool is None
        got = await store.ingest_many(records(), source="mbox")
        assert started_when_read == [True]  # already starting when the first mail was read
        assert got.new == 597
        assert await store.count("mails") == 600
    finally:
        await store.close()


_UNGUARDED_SCRIPT = """
import asyncio, sys
sys.path.insert(0, {root!r})
from bot.series.diffhash import normalised_files
from bot.store import Store
from tests.helpers import raw_mail

with open({marker!r}, "a") as fh:  # top level, no __name__ guard: runs again wherever this is imported
    fh.write("ran\\n")

async def main():
    store = await Store.open("sqlite+aiosqlite:///" + {db!r})
    try:
        got = await store.ingest_many(
            [raw_mail(f"m{{i}}@x", f"[PATCH] KVM: x86: fix {{i}}", at=i) for i in range(600)], source="mbox"
        )
        print(got.new, got.fallbacks, store._parse_pool._pool is not None)
    finally:
        await store.close()

asyncio.run(main())
"""


def test_the_worker_does_not_run_the_callers_main_module_again(tmp_path: Path):
    import subprocess
    import sys

    root = str(Path(__file__).resolve().parents[2])
    marker, db = tmp_path / "marker", tmp_path / "script.db"
    script = tmp_path / "unguarded.py"
    script.write_text(_UNGUARDED_SCRIPT.format(root=root, marker=str(marker), db=str(db)))
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["600", "0", "True"]  # all new, no batch redone, the worker ran
    assert marker.read_text() == "ran\n"  # once: the spawned worker did not import the script
