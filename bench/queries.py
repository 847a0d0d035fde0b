"""Slash-command query benchmark: each query's server-side time on a store of
about 100,000 real mails, on SQLite and on PostgreSQL.

The store is the kvmarm public-inbox archive (21,367 mails) five times over.
Copy k renames every Message-ID, and the In-Reply-To and References naming
them, to `<k.id>` (so each copy threads exactly as the original), and moves
its Dates k * 4 years later (the archive spans under four years; copies that
overlapped in time would be taken for resends of one another).

Each query is what a command runs between receiving the interaction and
answering it, without Discord: the store's queries and the page rendering
(`bot.store.queries`, `bot.notify.pages`), with inputs drawn from the store
(words of real titles, real series ids, commit ids named by real Fixes: tags,
moments inside the last copy for the stable queue). Printed per database:
n, p50, p99 and max in milliseconds; the target is p99 <= 50 ms for search,
show, versions, stable pending and fixes. Figures are printed, never asserted.

Usage: python bench/queries.py [--archive BUNDLE_OR_GITDIR] [--copies 5] [--db sqlite,postgresql]
         [--pg-url URL] [--keep DIR] [--runs 300]
--keep DIR keeps the SQLite file (and the PostgreSQL schema bench_queries) to reuse on the next run.
PostgreSQL: --pg-url, else KVMBOT_TEST_PG_URL; without either it is skipped.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator
from datetime import datetime, timedelta
from email.utils import format_datetime, parsedate_to_datetime
from pathlib import Path

from bot.config import SubscriptionFilter
from bot.notify import pages
from bot.notify.filters import matches
from bot.store import Store
from bot.store import queries

ROOT = Path(__file__).resolve().parent.parent

BUNDLE = ROOT.parent / "shared" / "corpus" / "kvmarm-epoch0.bundle"
SCHEMA = "bench_queries"
SHIFT_YEARS = 4
TARGET_MS = 50.0
TARGETED = ("search", "show", "versions", "stable pending", "fixes")
_ID_HEADERS = (b"message-id", b"in-reply-to", b"references")
_ID = re.compile(rb"<([^<>\s]+)>")


# ---------------------------------------------------------------- the store


def _split(raw: bytes) -> tuple[bytes, bytes]:
    for sep in (b"\r\n\r\n", b"\n\n"):
        at = raw.find(sep)
        if at >= 0:
            return raw[:at], raw[at:]
    return raw, b""


def _shift_date(value: bytes, years: int) -> bytes:
    try:
        when = parsedate_to_datetime(value.decode("ascii", "replace").strip())
        return b" " + format_datetime(when.replace(year=when.year + years)).encode()
    except (TypeError, ValueError, IndexError):
        return value


def renamed(raw: bytes, copy: int) -> bytes:
    """Copy `copy` of a mail: its ids renamed, its Date moved; the body untouched."""
    if copy == 0:
        return raw
    head, body = _split(raw)
    lines = head.split(b"\n")
    out: list[bytes] = []
    for line in lines:
        if line[:1] in (b" ", b"\t") and out:
            out[-1] += b"\n" + line
            continue
        out.append(line)
    prefix = f"<{copy}.".encode()
    for i, header in enumerate(out):
        name, _, value = header.partition(b":")
        key = name.strip().lower()
        if key in _ID_HEADERS:
            out[i] = name + b":" + _ID.sub(lambda m: prefix + m.group(1) + b">", value)
        elif key == b"date":
            out[i] = name + b":" + _shift_date(value, copy * SHIFT_YEARS)
    return b"\n".join(out) + body


def _archive(arg: str | None, tmp: Path) -> Path:
    path = Path(arg) if arg else BUNDLE
    if path.is_file() and path.suffix == ".bundle":
        dest = tmp / "archive.git"
        subprocess.run(["git", "clone", "--quiet", "--bare", str(path), str(dest)], check=True)
        return dest
    return path


def _mails(archive: Path, copies: int) -> Iterator[tuple[bytes, str]]:
    from bot.ingest.sources import iter_path

    originals = [(r.data, r.ref) for r in iter_path(archive)]
    for copy in range(copies):
        for raw, ref in originals:
            yield renamed(raw, copy), f"{copy}:{ref}"


async def build(store: Store, archive: Path, copies: int) -> None:
    if await store.count("mails"):
        print(f"  reusing the store: {await store.count('mails')} mails")
        return
    start = time.perf_counter()
    chunk: list[tuple[bytes, str]] = []
    for item in _mails(archive, copies):
        chunk.append(item)
        if len(chunk) == 5000:
            await store.ingest_many(chunk, source="backfill:bench")
            chunk = []
    if chunk:
        await store.ingest_many(chunk, source="backfill:bench")
    print(f"  built in {time.perf_counter() - start:.0f} s")


# ---------------------------------------------------------------- the queries


class Inputs:
    """What the queries are asked, drawn from the store itself."""

    def __init__(self, rng: random.Random, titles: list[str], ids: list[int], lineage_ids: list[int],
                 mids: list[str], shas: list[str], span: tuple[datetime, datetime]) -> None:
        self.rng = rng
        self.words = [w for t in titles for w in queries.title_words(t) if len(w) >= 3]
        self.ids, self.lineage_ids, self.mids, self.shas, self.span = ids, lineage_ids, mids, shas, span

    def search_words(self) -> tuple[str, ...]:
        picked = self.rng.sample(self.words, self.rng.choice((1, 1, 2)))
        return tuple(w[: self.rng.randint(3, len(w))] for w in picked)

    def moment(self) -> datetime:
        low, high = self.span
        return low + (high - low) * self.rng.random()


async def inputs(store: Store, rng: random.Random) -> Inputs:
    from sqlalchemy import func, select

    from bot.store import schema as t

    async with store.engine.connect() as conn:
        titles = list(await conn.scalars(select(t.series.c.title).order_by(func.random()).limit(2000)))
        ids = list(await conn.scalars(select(t.series.c.id).order_by(func.random()).limit(2000)))
        multi = select(t.series.c.id).where(t.series.c.lineage_id.in_(
            select(t.series.c.lineage_id).group_by(t.series.c.lineage_id).having(func.count() > 1)))
        lineage_ids = list(await conn.scalars(multi.order_by(func.random()).limit(2000)))
        mids = list(await conn.scalars(select(t.patches.c.message_id).order_by(func.random()).limit(2000)))
        shas = list(await conn.scalars(select(t.fixes.c.sha).order_by(func.random()).limit(2000)))
        low, high = (await conn.execute(select(func.min(t.series.c.first_seen), func.max(t.series.c.first_seen)))).one()
    # The stable queue is asked about the last copy, as a bot is about the recent past.
    low = high - (high - low) / 5
    return Inputs(rng, titles, ids, lineage_ids, mids, shas, (low, high))


def measures(store: Store, given: Inputs) -> dict[str, Callable[[], Awaitable[object]]]:
    rng = given.rng

    async def search() -> object:
        s = queries.SeriesSearch(words=given.search_words())
        views = await queries.search_series(store, s, limit=pages.PER_PAGE + 1)
        return pages.search_page(s, views[: pages.PER_PAGE], 0, len(views) > pages.PER_PAGE)

    async def search_common() -> object:
        s = queries.SeriesSearch(words=(rng.choice(("kvm", "arm64", "kvm arm64")),), state=rng.choice(queries.STATES))
        views = await queries.search_series(store, s, limit=pages.PER_PAGE + 1, offset=rng.choice((0, 0, 10, 50)))
        return pages.search_page(s, views[: pages.PER_PAGE], 0, len(views) > pages.PER_PAGE)

    async def show() -> object:
        view = await (store.get_series(rng.choice(given.ids)) if rng.random() < 0.5
                      else queries.series_by_message(store, rng.choice(given.mids)))
        assert view is not None
        lineage = await queries.lineage_of(store, view.lineage_id)
        await queries.posts_of(store, [view.series_id], [1, 2, 3])
        return pages.series_answer(view, lineage, [])

    async def versions() -> object:
        view = await store.get_series(rng.choice(given.lineage_ids or given.ids))
        assert view is not None
        lineage = await queries.lineage_of(store, view.lineage_id)
        await queries.posts_of(store, [v.series_id for v in lineage], [1, 2, 3])
        return pages.versions_page(view, lineage, {})

    async def stable() -> object:
        now = given.moment()  # "the last 30 days" as asked at that moment of the last copy
        entries = await queries.stable_pending(store, now - timedelta(days=30), now)
        return pages.stable_page(entries, 30, 0)

    async def fixes() -> object:
        sha = rng.choice(given.shas)[: rng.choice((7, 12, 12, 40))]
        return pages.fixes_page(sha, await queries.fixes_of(store, sha), 0)

    async def titles() -> object:
        word = rng.choice(given.words)
        return await queries.series_titles(store, word[: rng.randint(1, min(len(word), 5))])

    async def subscribe_count() -> object:
        now = given.moment()
        recent = await store.list_series(since=now - timedelta(days=30), until=now)
        flt = SubscriptionFilter(subsystems=["KVM: arm64"])
        return sum(1 for v in recent if matches(flt, v))

    async def stats() -> object:
        end = given.moment()
        return pages.stats_page(await queries.activity(store, end - timedelta(days=84), end), chart=None)

    return {
        "search": search, "search (common words, pages)": search_common, "show": show, "versions": versions,
        "stable pending": stable, "fixes": fixes, "autocomplete titles": titles,
        "subscribe: 30-day match count": subscribe_count, "stats (84 days, no chart)": stats,
    }


async def measure(label: str, store: Store, runs: int) -> None:
    print(f"{label}: {await store.count('mails')} mails, {await store.count('series')} series, "
          f"{await store.count('patches')} patches, {await store.count('fixes')} Fixes: tags")
    given = await inputs(store, random.Random(13))
    for name, query in measures(store, given).items():
        n = runs if name in TARGETED or name.startswith("search") or name.startswith("auto") else max(runs // 10, 5)
        for _ in range(3):  # warm the caches the way a running bot has them
            await query()
        times = []
        for _ in range(n):
            start = time.perf_counter()
            await query()
            times.append((time.perf_counter() - start) * 1000)
        times.sort()
        p99 = times[min(len(times) - 1, int(len(times) * 0.99))]
        verdict = ""
        if name in TARGETED:
            verdict = f"   target p99 <= {TARGET_MS:.0f} ms: " + ("met" if p99 <= TARGET_MS else "NOT MET")
        print(f"  {name:32} n={n:<4} p50 {statistics.median(times):6.1f} ms  p99 {p99:6.1f} ms  "
              f"max {times[-1]:6.1f} ms{verdict}")


async def run_sqlite(args: argparse.Namespace, archive: Path, where: Path) -> None:
    store = await Store.open(f"sqlite+aiosqlite:///{where / 'queries.db'}")
    try:
        await build(store, archive, args.copies)
        await measure("sqlite", store, args.runs)
    finally:
        await store.close()


async def run_postgresql(args: argparse.Namespace, archive: Path, url: str) -> None:
    from sqlalchemy import text
    from sqlalchemy.ext.asyncio import create_async_engine

    admin = create_async_engine(url)
    async with admin.begin() as conn:
        if not args.keep:
            await conn.execute(text(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE"))
        await conn.execute(text(f"CREATE SCHEMA IF NOT EXISTS {SCHEMA}"))
    store = await Store.open(url, schema=SCHEMA)
    try:
        await build(store, archive, args.copies)
        async with store.engine.connect() as conn:  # fresh statistics, as autovacuum would have them
            await conn.execution_options(isolation_level="AUTOCOMMIT")
            await conn.execute(text("ANALYZE"))
        await measure("postgresql", store, args.runs)
    finally:
        await store.close()
        if not args.keep:
            async with admin.begin() as conn:
                await conn.execute(text(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE"))
        await admin.dispose()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--archive", help="public-inbox git dir or .bundle (default: the kvmarm bundle)")
    ap.add_argument("--copies", type=int, default=5)
    ap.add_argument("--db", default="sqlite,postgresql")
    ap.add_argument("--pg-url", default=os.environ.get("KVMBOT_TEST_PG_URL"))
    ap.add_argument("--keep", type=Path, help="keep (and reuse) the built stores here")
    ap.add_argument("--runs", type=int, default=300, help="runs of each targeted query")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        where = args.keep or Path(tmp)
        where.mkdir(parents=True, exist_ok=True)
        archive = _archive(args.archive, Path(tmp))
        print(f"archive: {archive} x{args.copies}  cpus: {os.cpu_count()}  python {sys.version.split()[0]}")
        if "sqlite" in args.db:
            asyncio.run(run_sqlite(args, archive, where))
        if "postgresql" in args.db:
            if not args.pg_url:
                print("postgresql: skipped (no --pg-url and no KVMBOT_TEST_PG_URL)")
            else:
                asyncio.run(run_postgresql(args, archive, args.pg_url))
    return 0


if __name__ == "__main__":
    sys.exit(main())

