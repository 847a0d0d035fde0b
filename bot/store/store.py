"""The Store: every mail's raw bytes first, then the series it changes and the
events that say so, in one transaction per mail (or per batch in bulk)."""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from collections import deque
from collections.abc import Callable, Iterable, Sized
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from datetime import datetime, timezone
from itertools import chain
from typing import Any

from sqlalchemy import bindparam, delete, func, insert, select, update
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from bot.mail.models import Kind, ParsedMail
from bot.series import Decision, MemoryIndex, Role, decide, waits_for_parent
from bot.series.models import Event, EventKind
from bot.series.window import Key, Known, Missing, Probe, Window, evict
from bot.store import schema as t
from bot.store.admin import AdminMixin
from bot.store.bulkwrite import insert_many
from bot.store.engine import chunked, insert_ignore, make_engine, read_engine, settle_sqlite_threads, sqlite_threads, upsert
from bot.store.gcpause import heap_frozen
from bot.store.guard import FileGuard, StoreUnavailable, sqlite_file
from bot.store.kept import KeptMixin
from bot.store.migrate import upgrade
from bot.store.models import IngestResult, IngestStats, ReparseStats
from bot.store.orphans import Orphans
from bot.store.parsepool import Chunk, ParsePool, Worked
from bot.store.rawcodec import pack, pack_all, unpack
from bot.store.reads import ReadMixin
from bot.store.rows import RowBatch, body_hash, mail_row, series_row, storable
from bot.store.window import load_series, matching, newest_activity, recent_ids, reserve_ids
from bot.store.writegate import Writes

log = logging.getLogger(__name__)

Parser = Callable[[bytes], ParsedMail]
BATCH = 1000  # mails per transaction: bigger batches gain little and cost RSS
# A bulk import whose first batch has this many mails parses and compresses in
# worker processes (see parsepool): below that, starting them (~0.15 s) costs
# more than it saves, e.g. for an SMTP group commit.
POOL_MIN = 500
# The database cannot take mail now (down, full, read-only, its file gone):
# raised to the caller, whose SMTP client gets 451 and retries.
_DB_DOWN = (OperationalError, InterfaceError, StoreUnavailable)
# How many early replies one posted patch may adopt from the database.
ADOPT_MAX = 200
# How deep a chain of stored replies below a newly arrived patch is followed.
ADOPT_DEPTH = 8
# Replies below a mail placed in a series may have been waiting for it.
_PLACED = (Role.COVER, Role.PATCH, Role.REPLY)
# Bumped by every reparse: another process's index of the old derived rows is
# then stale even though no mail was added (see `_sync_index`).
_GENERATION = "store.generation"
# Known keys of a windowed index are forgotten past this many (they are asked again).
_KNOWN_MAX = 100_000
# Look-up rounds one decision may take: each loads what the last one missed.
_ROUNDS_MAX = 50
_SET_SERIES_BY_ID = (
    update(t.mails).where(t.mails.c.message_id == bindparam("b_mid")).values(series_id=bindparam("b_sid"))
)


# The bulk path's two look-ups per batch, built once with an expanding bind:
# `.in_(ids)` coerced each of ~900 ids into a literal per query.
_STORED_HASHES = select(t.mails.c.message_id, t.mails.c.body_hash).where(
    t.mails.c.message_id.in_(bindparam("ids", expanding=True))
)
_STORED_REPLIES = select(t.mails.c.raw).where(
    t.mails.c.in_reply_to.in_(bindparam("ids", expanding=True)),
    t.mails.c.series_id.is_(None),
    t.mails.c.unparsed.is_(False),
).order_by(t.mails.c.seq)

_GENERATION_Q = select(t.cursors.c.value).where(t.cursors.c.name == _GENERATION)
# The newest mail and the reparse generation, in one query.
_WATERMARK = select(select(func.max(t.mails.c.seq)).scalar_subquery(), _GENERATION_Q.scalar_subquery())


def _default_parser() -> Parser:
    from bot.mail import parse_mail

    return parse_mail


def _now() -> datetime:
    return datetime.now(timezone.utc)


def fallback_message_id(raw: bytes) -> str:
    """An id for a mail the parser could not even read: derived from its bytes."""
    return hashlib.sha256(raw).hexdigest()[:40] + "@unparsed.kvm-patchbot.invalid"


def _record(rec: Any) -> tuple[bytes, str | None]:
    """(raw, source_ref) from bytes, a (raw, ref) pair, or a `bot.ingest` RawMail (.data, .ref)."""
    if isinstance(rec, (bytes, bytearray, memoryview)):
        return bytes(rec), None
    if isinstance(rec, tuple):
        return bytes(rec[0]), rec[1]
    return bytes(rec.data), rec.ref


def _reason(exc: Exception) -> str:
    """One line for the mail's error list: a driver error's text carries its SQL."""
    text = str(exc).strip().splitlines()
    return storable(f"{type(exc).__name__}: {text[0][:300] if text else ''}")


def _variant_row(
    message_id: str, raw: bytes, digest: str, source: str, source_ref: str | None, now: datetime
) -> dict[str, Any]:
    return {
        "message_id": message_id, "body_hash": digest, "raw": pack(raw), "size": len(raw),
        "source": source, "source_ref": source_ref, "received_at": now,
    }


def _crashed(raw: bytes, exc: str) -> ParsedMail:
    return ParsedMail(
        message_id=fallback_message_id(raw),
        synthetic_id=True,
        kind=Kind.UNPARSEABLE,
        size=len(raw),
        errors=(f"parser crashed: {exc}",),
    )


def _outcome(parsed: ParsedMail) -> tuple[ParsedMail, list[str], bool]:
    return parsed, list(parsed.errors), parsed.kind is Kind.UNPARSEABLE


def _compress_all(raws: list[bytes]) -> Chunk:
    # For imports too small to start the worker for (e.g. an SMTP group commit).
    # (Hashing here would give the GIL back for each mail: see rawcodec.pack_all.)
    return Chunk(None, pack_all(raws))


async def _first_members(conn: AsyncConnection, series_ids: set[int]) -> dict[int, str]:
    """Each series' first member (its cover, else its lowest patch): what it is
    known by across a reparse that renumbers it."""
    firsts: dict[int, tuple[int, str]] = {}
    for part in chunked(sorted(series_ids), 900):
        q = select(t.patches.c.series_id, t.patches.c.slot, t.patches.c.message_id)
        for sid, slot, mid in await conn.execute(q.where(t.patches.c.series_id.in_(part))):
            if sid not in firsts or slot < firsts[sid][0]:
                firsts[sid] = (slot, mid)
    return {sid: mid for sid, (_, mid) in firsts.items()}


def moved_posts(
    posts: list[dict[str, Any]], firsts: dict[int, str], index: MemoryIndex
) -> tuple[list[dict[str, Any]], int]:
    """The posts rows after a reparse, and how many changed series: each follows
    its series' first member to the series that mail is in now. A post whose
    mail is in no series, or whose series already has a post in that channel
    (two series merged), is dropped: its series gets a new card rather than
    another series' card."""
    kept: list[dict[str, Any]] = []
    taken: set[tuple[int, int]] = set()
    moved = 0
    for post in posts:
        mid = firsts.get(post["series_id"])
        member = index.member(mid) if mid is not None else None
        if member is None or (member.series_id, post["channel_id"]) in taken:
            continue
        taken.add((member.series_id, post["channel_id"]))
        kept.append({**post, "series_id": member.series_id})
        moved += member.series_id != post["series_id"]
    return kept, moved


@dataclass
class _Prepared:
    """A bulk batch tracked in memory, waiting to be written."""

    items: list[tuple[bytes, str | None]]
    source: str
    mail_rows: list[dict[str, Any]] = field(default_factory=list)
    mail_hashes: dict[str, str] = field(default_factory=dict)  # Message-ID -> body hash, of mail_rows
    variants: list[dict[str, Any]] = field(default_factory=list)  # mail_variants rows
    late: list[dict[str, Any]] = field(default_factory=list)  # early replies stored before
    batch: RowBatch = field(default_factory=RowBatch)
    stats: IngestStats = field(default_factory=IngestStats)
    pinned: set[int] = field(default_factory=set)  # series it changes: kept in the window until it commits


class Store(ReadMixin, AdminMixin, KeptMixin):
    """One database (SQLite or PostgreSQL) and the tracker's in-memory index of it.

    Ingests are serialised by an asyncio lock, and on SQLite every write
    transaction by `writes` (mail first); one process should write at a
    time (a second writer is noticed and the index reloaded, see `_sync_index`).
    """

    def __init__(self, engine: AsyncEngine, parser: Parser, window: Window | None = None) -> None:
        self._engine = engine
        # Every read; on PostgreSQL one round trip, not three (`read_engine`).
        self.reads = read_engine(engine)
        # Every write transaction, module functions' too (`bot.store.writegate`).
        self.writes = Writes(engine)
        path = sqlite_file(engine.url.database) if engine.dialect.name == "sqlite" else None
        self._guard = FileGuard(path) if path is not None and path.exists() else None
        self._parser = parser
        self._index = MemoryIndex()
        # The tracker window (bot.series.window): which series stay in memory.
        self._window = window or Window()
        # Lookups the windowed index answers in full; None: it holds every series.
        self._known: Known | None = None
        # A windowed index that has evicted nothing since it was loaded with every
        # stored series (a new or small store) answers every lookup itself: no
        # queries until the first eviction.
        self._complete = False
        self.window_lookups = 0  # lookup rounds that asked the database (for tests and figures)
        self._touched: dict[int, datetime] = {}  # series -> the last mail that touched it
        self._newest: datetime | None = None  # the newest activity seen: what the window counts back from
        self.window_loads = 0  # series brought into the window by look-ups (for tests and figures)
        self._lock = asyncio.Lock()
        self._stale = True  # the in-memory index must be reloaded before use
        # The newest mail the index has seen. One process writes at a time; if
        # another (e.g. `kvm-patchbot ingest` beside `run`) added mail since,
        # the index is reloaded before deciding anything.
        self._seen_seq: int | None = None
        self._generation: str | None = None  # the reparse generation the index was loaded at
        # A worker process can only import a module-level parser; with another it only compresses.
        self._parse_pool = ParsePool(parser if parser is _default_parser() else None)
        # Small imports (an SMTP group commit) compress here, a batch ahead. One
        # thread for the store's life: one per call cost a thread's start and
        # join every commit (2.6% of the main thread on bench/load.py).
        self._pack = ThreadPoolExecutor(max_workers=1, thread_name_prefix="pack")

    @classmethod
    async def open(
        cls, url: str, *, schema: str | None = None, parser: Parser | None = None, window: Window | None = None
    ) -> Store:
        """Connect, apply migrations, load the tracker index (the series of
        `window`, default all). `schema`: PostgreSQL search_path."""
        if parser is None:
            parser = _default_parser()
        threads = sqlite_threads()
        engine = make_engine(url, schema=schema)
        try:
            async with engine.begin() as conn:
                await conn.run_sync(upgrade)
            store = cls(engine, parser, window)
            await store._reload_index()
        except BaseException:
            await engine.dispose()
            await settle_sqlite_threads(threads)
            raise
        return store

    async def close(self) -> None:
        self._parse_pool.close()
        self._pack.shutdown(wait=True, cancel_futures=True)
        await self._engine.dispose()

    async def __aenter__(self) -> Store:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    @property
    def engine(self) -> AsyncEngine:
        return self._engine

    # ------------------------------------------------------------ parsing

    def _parse(self, raw: bytes) -> tuple[ParsedMail, list[str], bool]:
        try:
            parsed = self._parser(raw)
        except Exception as exc:  # a parser bug must not lose the mail
            log.exception("parser failed on a %d-byte mail", len(raw))
            parsed = _crashed(raw, repr(exc))
        return _outcome(parsed)

    def _from_worker(self, raw: bytes, worked: Worked) -> tuple[ParsedMail, list[str], bool]:
        parsed, crash, _ = worked
        if parsed is None:  # the worker caught a parser crash; say so here, as _parse does
            log.error("parser failed on a %d-byte mail: %s", len(raw), crash)
            parsed = _crashed(raw, crash)
        return _outcome(parsed)

    # ------------------------------------------------------------ index

    async def _reload_index(self, *, full: bool = False) -> None:
        """Load the tracker index: the window's recent series, or with `full`
        (or no window) every series."""
        index = MemoryIndex()
        known: Known | None = None
        complete = False
        async with self.reads.connect() as conn:
            newest = await newest_activity(conn)
            if full or not self._window.bounded:
                await load_series(conn, index, None)
            else:
                recent = await recent_ids(conn, self._window, newest)
                await load_series(conn, index, recent)
                known = Known()
                stored = await conn.scalar(select(func.count()).select_from(t.series)) or 0
                complete = len(recent) >= stored
            await reserve_ids(conn, index)
            seen, generation = (await conn.execute(_WATERMARK)).one()
        self._index = index
        self._known = known
        self._complete = complete
        self._touched = {}
        self._newest = newest
        self._seen_seq = seen
        self._generation = generation
        self._stale = False

    @property
    def index_size(self) -> int:
        """Series in the tracker's memory now."""
        return len(self._index)

    async def _decide(self, conn: AsyncConnection | None, p: ParsedMail, now: datetime) -> Decision:
        """`decide` on the index; on a windowed one, first bring in from the
        database every series the mail's lookups name (see bot.series.window)."""
        if self._known is None or conn is None or self._complete:
            d = decide(p, self._index, received_at=now)
        else:
            for _ in range(_ROUNDS_MAX):
                probe = Probe(self._index, self._known, p.date or now)  # the time `decide` goes by
                try:
                    found: Decision | None = decide(p, probe, received_at=now)
                except Missing:
                    found = None
                if not probe.missing and found is not None:
                    break
                await self._bring_in(conn, probe.missing)
            else:
                raise RuntimeError(f"tracking {p.message_id}: the window still misses {sorted(map(str, probe.missing))[:5]}")
            d = found
        self._note_activity(d, p.date or now)
        return d

    async def _bring_in(self, conn: AsyncConnection, keys: set[Key]) -> None:
        """Load the stored series matching `keys` into the window; the keys are known then."""
        assert self._known is not None
        self.window_lookups += 1
        wanted = [sid for sid in await matching(conn, keys) if sid not in self._index]
        if wanted:
            await load_series(conn, self._index, wanted)
            self.window_loads += len(wanted)
        if len(self._known) > _KNOWN_MAX:
            self._known = Known()
        for key in keys:
            self._known.add(key)

    @staticmethod
    def _touched_by(d: Decision) -> set[int]:
        """Every series a decision changes, its reply's trailers and applied patches included."""
        ids = set(d.touched)
        ids.update(x.series_id for x in d.trailers)
        ids.update(x.series_id for x in d.applied)
        if d.series_id is not None:
            ids.add(d.series_id)
        return ids

    def _note_activity(self, d: Decision, when: datetime) -> None:
        if not self._window.bounded:
            return
        when = min(when, _now())  # a Date in the future does not push the window on
        for sid in self._touched_by(d):
            self._touched[sid] = when
        if self._newest is None or when > self._newest:
            self._newest = when

    def _trim(self, keep: set[int] | frozenset[int] = frozenset()) -> None:
        """Evict what is outside the window (never `keep`: series of a batch not yet committed)."""
        if not self._window.bounded or self._newest is None:
            return
        if self._known is None:
            self._known = Known()  # from an index of every series to the window
            self._complete = True  # (complete until something is evicted)
        gone = evict(self._index, self._touched, self._window, min(self._newest, _now()), keep)
        if gone:
            self._complete = False  # its keys were never recorded as known: ask from now on
        for sid in gone:
            self._known.forget(self._index, sid)
            self._index.remove_series(sid)
            self._touched.pop(sid, None)

    async def _sync_index(self) -> None:
        """Reload the index if it is stale, or another writer stored mail or
        reparsed the store since."""
        if not self._stale:
            async with self.reads.connect() as conn:
                top, generation = (await conn.execute(_WATERMARK)).one()
            if top == self._seen_seq and generation == self._generation:
                return
            log.info("the store changed under us (mail %s, we saw %s; reparse generation %s, we saw %s): reloading",
                     top, self._seen_seq, generation, self._generation)
        await self._reload_index()

    def _fresh_refs(self, d: Decision) -> list[str]:
        if d.series_id is None:
            return []
        out = []
        for ref in dict.fromkeys(d.refs):
            if d.series_id not in self._index.series_referencing(ref):
                out.append(ref)
        return out

    async def _write(self, conn: AsyncConnection, batch: RowBatch, *, returning: bool = False) -> list[int]:
        """Write a batch's rows, parents first; the touched series from the index."""
        await insert_many(conn, t.lineages, batch.lineages)
        rows = batch.series_rows
        if rows is None:
            rows = [series_row(self._index.series(sid)) for sid in sorted(batch.touched)]
        await insert_many(conn, t.series, rows, how="upsert", conflict=("id",))
        await insert_many(conn, t.patches, batch.patches)
        await insert_many(conn, t.trailers, batch.trailers)
        await insert_many(conn, t.fixes, batch.fixes)
        await insert_many(conn, t.stable_requests, batch.stable)
        await insert_many(conn, t.applied, batch.applied)
        await insert_many(conn, t.series_refs, batch.refs, how="ignore")
        await insert_many(conn, t.pending_replies, batch.pending, how="ignore")
        if batch.resolved:
            await conn.execute(delete(t.pending_replies).where(t.pending_replies.c.message_id.in_(batch.resolved)))
        if not batch.events:
            return []
        if returning:
            result = await conn.execute(
                insert(t.events).returning(t.events.c.id, sort_by_parameter_order=True), batch.events
            )
            return [r[0] for r in result]
        await insert_many(conn, t.events, batch.events)
        return []

    # ------------------------------------------------------------ ingest

    async def ingest(
        self, raw: bytes, *, source: str = "smtp", source_ref: str | None = None
    ) -> IngestResult:
        """Store one mail and everything it changes, committed before returning.

        Re-delivery of a stored Message-ID changes nothing and emits nothing.
        Raises only when the database itself fails."""
        async with self._lock:
            self.check_file()
            result = await self._ingest_locked(raw, source, source_ref)
            self.check_file()  # the commit reached the file we opened, not an orphan
            return result

    def check_file(self) -> None:
        """Raise StoreUnavailable if the SQLite file was removed or replaced."""
        if self._guard is not None:
            self._guard.check()

    @property
    def file_problem(self) -> str | None:
        """Why the store's file can no longer be written, once known."""
        return None if self._guard is None else self._guard.problem

    async def _ingest_locked(self, raw: bytes, source: str, source_ref: str | None) -> IngestResult:
        await self._sync_index()
        parsed, errors, unparsed = self._parse(raw)
        try:
            return await self._ingest_parsed(raw, parsed, errors, unparsed, source, source_ref)
        except _DB_DOWN:
            raise
        except Exception as exc:
            # The database would not take what the parser made of this mail (a
            # lone surrogate, a NUL for PostgreSQL, a value out of range...). The
            # mail is kept raw and reported rather than refused: a 451 here would
            # be answered to every retry, forever.
            log.exception("storing %r normally failed; keeping it raw", parsed.message_id)
            self._stale = True
            await self._reload_index()
            return await self._keep_raw(raw, parsed, source, source_ref, f"store: {_reason(exc)}")

    async def _keep_raw(
        self, raw: bytes, parsed: ParsedMail, source: str, source_ref: str | None, reason: str
    ) -> IngestResult:
        """Store a mail with only what every database takes: its raw bytes, a
        cleaned Message-ID (else one made from its bytes) and why; never tracked."""
        errors = [storable(e) for e in parsed.errors] + [reason]
        failure: Exception | None = None
        for mid in dict.fromkeys((storable(parsed.message_id), fallback_message_id(raw))):
            row = {
                "message_id": mid, "raw": pack(raw), "size": len(raw), "source": source,
                "source_ref": storable(source_ref) if source_ref else None, "received_at": _now(),
                "kind": str(Kind.UNPARSEABLE), "subject": storable(parsed.subject.raw),
                "author_name": storable(parsed.author.name), "author_email": storable(parsed.author.email),
                "date": None, "list_id": None, "in_reply_to": None, "series_id": None,
                "errors": errors, "unparsed": True, "body_hash": body_hash(raw),
            }
            try:
                async with self.writes.begin(urgent=True) as conn:
                    known = await conn.scalar(select(t.mails.c.kind).where(t.mails.c.message_id == mid))
                    if known is not None:
                        return IngestResult(message_id=mid, new=False, kind=known)
                    seq = (await conn.execute(insert(t.mails).returning(t.mails.c.seq), row)).scalar_one()
            except _DB_DOWN:
                raise
            except Exception as exc:
                log.exception("keeping %r raw failed", mid)
                failure = exc
                continue
            self._seen_seq = seq
            return IngestResult(message_id=mid, new=True, kind=str(Kind.UNPARSEABLE), errors=tuple(errors))
        assert failure is not None
        raise failure

    async def _ingest_parsed(
        self, raw: bytes, parsed: ParsedMail, errors: list[str], unparsed: bool, source: str, source_ref: str | None
    ) -> IngestResult:
        now = _now()
        decision: Decision | None = None
        event_ids: list[int] = []
        adopted: list[Event] = []
        digest = body_hash(raw)
        try:
            async with self.writes.begin(urgent=True) as conn:
                known = (
                    await conn.execute(
                        select(t.mails.c.kind, t.mails.c.series_id, t.mails.c.body_hash, t.mails.c.raw).where(
                            t.mails.c.message_id == parsed.message_id
                        )
                    )
                ).first()
                if known is not None:
                    kind, series_id, known_hash, known_raw = known
                    variant = (known_hash or body_hash(unpack(known_raw))) != digest
                    if variant:
                        await self._add_variants(conn, [_variant_row(parsed.message_id, raw, digest, source, source_ref, now)])
                    return IngestResult(
                        message_id=parsed.message_id, new=False, kind=kind, series_id=series_id, variant=variant
                    )
                row = mail_row(
                    parsed, raw_z=pack(raw), body_hash=digest, size=len(raw), source=source,
                    source_ref=source_ref, received_at=now, errors=errors, unparsed=unparsed,
                    series_id=None,
                )
                seq = (await conn.execute(insert(t.mails).returning(t.mails.c.seq), row)).scalar_one()
                if not unparsed:
                    try:
                        async with conn.begin_nested():
                            decision = await self._decide(conn, parsed, now)
                            fresh = self._fresh_refs(decision)
                            self._stale = True  # until this commits
                            self._index.apply(decision)
                            batch = RowBatch()
                            batch.add(decision, fresh, now)
                            event_ids = await self._write(conn, batch, returning=True)
                            if decision.series_id is not None:
                                await conn.execute(
                                    update(t.mails)
                                    .where(t.mails.c.seq == seq)
                                    .values(series_id=decision.series_id)
                                )
                            if decision.role in _PLACED:
                                adopted = await self._adopt_stored(conn, decision.message_id, now)
                                if decision.series_id is not None:
                                    adopted += await self._adopt_pending(conn, decision.series_id, now)
                    except _DB_DOWN:
                        raise
                    except Exception as exc:  # a tracker bug: keep the mail, report it
                        log.exception("tracking %s failed", parsed.message_id)
                        decision = None
                        errors.append(f"tracker: {exc!r}")
                        await conn.execute(
                            update(t.mails).where(t.mails.c.seq == seq).values(errors=errors, unparsed=True)
                        )
        except BaseException:
            self._stale = True
            raise
        if decision is None:
            if self._stale:
                await self._reload_index()
            else:
                self._seen_seq = seq
            return IngestResult(
                message_id=parsed.message_id, new=True, kind=str(parsed.kind), errors=tuple(errors)
            )
        self._stale = False
        self._seen_seq = seq
        self._trim()
        events = tuple(
            e.model_copy(update={"event_id": eid, "created_at": now})
            for e, eid in zip(decision.events, event_ids, strict=True)
        ) + tuple(adopted)
        return IngestResult(
            message_id=parsed.message_id,
            new=True,
            kind=str(parsed.kind),
            series_id=decision.series_id,
            events=events,
            errors=tuple(errors),
        )

    async def _add_variants(self, conn: AsyncConnection, rows: list[dict[str, Any]]) -> None:
        """Keep mails that reuse a stored Message-ID with another body (once each)."""
        q = insert_ignore(conn, t.mail_variants).returning(t.mail_variants.c.id, t.mail_variants.c.message_id)
        for row in rows:  # rare: one statement each
            for vid, mid in (await conn.execute(q, row)).all():
                log.warning(
                    "mail <%s> arrived again with a different body: kept as variant %d (see `kvm-patchbot variants`)",
                    mid, vid,
                )

    async def _adopt_stored(self, conn: AsyncConnection, message_id: str, now: datetime) -> list[Event]:
        """Decide again the stored replies that answered this new patch (or
        replies to those) before it arrived; returns their events."""
        out: list[Event] = []
        queue, visited = [message_id], 0
        while queue and visited < ADOPT_MAX:
            parent = queue.pop()
            rows = await conn.execute(
                select(t.mails.c.seq, t.mails.c.raw).where(
                    t.mails.c.in_reply_to == parent,
                    t.mails.c.series_id.is_(None),
                    t.mails.c.unparsed.is_(False),
                ).order_by(t.mails.c.seq)
            )
            for seq, raw_z in rows.all():
                visited += 1
                p, _, unparsed = self._parse(unpack(raw_z))
                queue.append(p.message_id)
                if unparsed or not waits_for_parent(p, Decision(p.message_id, Role.NONE)):
                    continue
                d = await self._decide(conn, p, now)
                if d.role is not Role.REPLY:
                    continue
                fresh = self._fresh_refs(d)
                self._index.apply(d)
                batch = RowBatch()
                batch.add(d, fresh, now)
                out += await self._place_reply(conn, seq, d, batch, now)
        return out

    async def _place_reply(
        self, conn: AsyncConnection, seq: int, d: Decision, batch: RowBatch, now: datetime
    ) -> list[Event]:
        """Write a stored reply's decision, file the mail under its series; its events, numbered."""
        ids = await self._write(conn, batch, returning=True)
        await conn.execute(update(t.mails).where(t.mails.c.seq == seq).values(series_id=d.series_id))
        return [
            e.model_copy(update={"event_id": eid, "created_at": now})
            for e, eid in zip(d.events, ids, strict=True)
        ]

    async def _adopt_pending(self, conn: AsyncConnection, series_id: int, now: datetime) -> list[Event]:
        """Decide again the replies of this series whose applied notice named
        a patch that had not arrived (`pending_replies`); returns their events."""
        rows = await conn.execute(
            select(t.mails.c.seq, t.mails.c.raw)
            .join(t.pending_replies, t.pending_replies.c.message_id == t.mails.c.message_id)
            .where(t.pending_replies.c.series_id == series_id)
            .order_by(t.mails.c.seq)
        )
        out: list[Event] = []
        for seq, raw_z in rows.all():
            p, _, unparsed = self._parse(unpack(raw_z))
            d = await self._decide(conn, p, now)
            batch = RowBatch()
            if unparsed or d.role is not Role.REPLY:
                batch.resolved.append(p.message_id)
                await self._write(conn, batch)
                continue
            fresh = self._fresh_refs(d)
            self._index.apply(d)
            batch.add(d, fresh, now)
            if not d.waits or d.series_id != series_id:
                batch.resolved.append(p.message_id)
            out += await self._place_reply(conn, seq, d, batch, now)
        return out

    async def ingest_many(
        self,
        records: Iterable[Any],
        *,
        source: str,
        batch_size: int = BATCH,
        progress: Callable[[IngestStats], None] | None = None,
    ) -> IngestStats:
        """Bulk backfill: `records` are raw bytes, (raw, source_ref) pairs or
        `bot.ingest` RawMail objects (.data, .ref). One transaction per batch, no
        per-mail SELECT; same results as calling `ingest` for each in order."""
        stats = IngestStats()
        start = time.perf_counter()
        async with self._lock:
            self.check_file()
            await self._sync_index()
            await self._ingest_all(records, source, batch_size, progress, stats, self._pack)
            self.check_file()
        stats.seconds = time.perf_counter() - start
        return stats

    async def _ingest_all(
        self,
        records: Iterable[Any],
        source: str,
        batch_size: int,
        progress: Callable[[IngestStats], None] | None,
        stats: IngestStats,
        pool: ThreadPoolExecutor,
    ) -> None:
        """Batches in a pipeline: while batch N is written (the database works in
        its own thread), batch N+1 is tracked, and N+2 (and N+3, one batch per
        worker) compressed and, with the default parser, parsed in the worker
        processes; small imports compress in a thread and parse here."""
        start = time.perf_counter()
        orphans = Orphans()
        loop = asyncio.get_running_loop()
        chunks = ([_record(r) for r in chunk] for chunk in chunked(records, batch_size))
        if not isinstance(records, Sized) or len(records) >= POOL_MIN:
            # Possibly big: the worker starts while the first batch is read
            # (kvmarm: ~6% faster). A small iterator leaves it idle until close.
            self._parse_pool.start()
        first = next(chunks, None)
        big = first is not None and len(first) >= POOL_MIN
        workers = self._parse_pool if big else None
        if big and self._known is not None:
            # A big import tracks on every series (no look-ups: as fast as an
            # unbounded index) and the window is trimmed back when it is done.
            await self._reload_index(full=True)
        # Batches handed on before their turn: one per worker process keeps them all busy.
        depth = self._parse_pool.processes if big else 1

        def compress(batch: list[tuple[bytes, str | None]]) -> asyncio.Future[Chunk]:
            """Compress the batch (and parse it, if the worker can) in the worker, else in a thread."""
            nonlocal workers
            raws = [raw for raw, _ in batch]
            if workers is not None:
                try:
                    return workers.submit(raws, slim=True)
                except BrokenProcessPool:  # the worker died (its batch goes one by one): carry on without it
                    log.exception("the parse worker is gone; the import goes on in this process")
                    workers.close()  # the next import starts a new one
                    workers = None
            return loop.run_in_executor(pool, _compress_all, raws)

        def done(count: int = 1) -> None:
            stats.batches += count
            stats.seconds = time.perf_counter() - start
            if progress is not None:
                progress(stats)

        writing: tuple[_Prepared, asyncio.Task[int]] | None = None
        ahead: deque[tuple[list[tuple[bytes, str | None]], asyncio.Future[Chunk]]] = deque()

        batches = chain([first], chunks) if first is not None else iter(())

        def refill() -> None:
            while len(ahead) < depth and (batch := next(batches, None)) is not None:
                ahead.append((batch, compress(batch)))

        with heap_frozen(big):
            try:
                refill()
                while ahead:
                    items, compressed = ahead.popleft()
                    refill()
                    prepared: _Prepared | None = None
                    try:
                        pending = dict(writing[0].mail_hashes) if writing else {}
                        prepared = await self._prepare(items, source, compressed, orphans, pending)
                    except _DB_DOWN:
                        raise
                    except Exception:
                        log.exception("bulk batch failed to track; its %d mails go one by one", len(items))
                    if writing is not None:
                        ok = await self._settle(writing, stats)
                        writing = None
                        if not ok:  # the batch before failed: this one was tracked on top of it
                            prepared = None
                        elif prepared is not None and self._known is not None:
                            self._trim(keep=prepared.pinned)  # what the next commit writes stays
                        done()
                    if prepared is None:
                        stats.fallbacks += 1
                        await self._reload_index()
                        await self._one_by_one(items, source, stats)
                        done()
                        continue
                    writing = (prepared, asyncio.create_task(self._commit(prepared)))
                if writing is not None:
                    await self._settle(writing, stats)
                    writing = None
                    done()
            except BaseException:
                self._stale = True
                if writing is not None:
                    writing[1].cancel()
                    await asyncio.gather(writing[1], return_exceptions=True)
                for _, compressing in ahead:
                    compressing.cancel()
                await asyncio.gather(*(c for _, c in ahead), return_exceptions=True)
                raise
        self._stale = False  # every batch is committed: the index matches the database
        self._trim()

    async def _settle(self, writing: tuple[_Prepared, asyncio.Task[int]], stats: IngestStats) -> bool:
        """Wait for a batch's commit; on failure redo its mails one by one."""
        prepared, task = writing
        try:
            top = await task
        except _DB_DOWN:
            raise
        except Exception:
            log.exception("bulk batch failed to store; its %d mails go one by one", len(prepared.items))
            await self._reload_index()
            await self._one_by_one(prepared.items, prepared.source, stats)
            stats.fallbacks += 1
            return False
        self._seen_seq = top
        local = prepared.stats
        stats.read += local.read
        stats.new += local.new
        stats.duplicates += local.duplicates
        stats.variants += local.variants
        stats.unparsed += local.unparsed
        stats.series_created += local.series_created
        stats.events += len(prepared.batch.events)
        return True

    async def _one_by_one(self, items: list[tuple[bytes, str | None]], source: str, stats: IngestStats) -> None:
        """The single-mail path, where each mail is kept even if tracking it fails."""
        for raw, ref in items:
            res = await self._ingest_locked(raw, source, ref)
            stats.read += 1
            if not res.new:
                stats.duplicates += 1
                stats.variants += res.variant
                continue
            stats.new += 1
            stats.unparsed += res.kind == Kind.UNPARSEABLE or any(e.startswith("tracker:") for e in res.errors)
            stats.events += len(res.events)
            stats.series_created += sum(e.kind is EventKind.SERIES_CREATED for e in res.events)

    async def _track_bulk(
        self,
        conn: AsyncConnection | None,
        p: ParsedMail,
        now: datetime,
        batch: RowBatch,
        orphans: Orphans,
        *,
        with_events: bool = True,
        db: AsyncConnection | None = None,
    ) -> tuple[Decision, list[tuple[str, int]]]:
        """Decide one mail on the bulk path; also adopt the early replies a new
        patch was waiting for. Returns the decision and (reply id, series id)
        adopted. `conn` reads what a windowed index lacks, `db` the stored
        replies waiting on a series (`orphans.unread_pending`)."""
        d = await self._decide(conn, p, now)
        await self._read_pending(db, orphans, d.series_id)
        fresh = self._fresh_refs(d)
        self._index.apply(d)
        batch.add(d, fresh, now, with_events=with_events)
        adopted: list[tuple[str, int]] = []
        if d.role in _PLACED:
            for early in orphans.take(p.message_id, ADOPT_MAX) + orphans.pending_of(d.series_id):
                od = await self._decide(conn, early, now)
                if od.role is not Role.REPLY or od.series_id is None:
                    continue
                await self._read_pending(db, orphans, od.series_id)
                fresh = self._fresh_refs(od)
                self._index.apply(od)
                batch.add(od, fresh, now, with_events=with_events)
                adopted.append((early.message_id, od.series_id))
                orphans.settle_pending(od, batch, early)
        elif d.role is Role.NONE:
            orphans.add(p, waiting=waits_for_parent(p, d))
        if d.role is Role.REPLY:
            orphans.settle_pending(d, batch, p)
        return d, adopted

    async def _read_pending(self, db: AsyncConnection | None, orphans: Orphans, series_id: int | None) -> None:
        """Before the import first touches `series_id`'s waiting replies: the
        stored ones, in arrival order, as if they had been read at its start."""
        unread = orphans.unread_pending
        if series_id is None or not unread or series_id not in unread:
            return
        if db is None:
            raise RuntimeError("stored pending replies to read, but no connection to read them on")
        unread.discard(series_id)
        q = (
            select(t.mails.c.raw)
            .join(t.pending_replies, t.mails.c.message_id == t.pending_replies.c.message_id)
            .where(t.pending_replies.c.series_id == series_id)
            .order_by(t.mails.c.seq)
        )
        for (raw_z,) in (await db.execute(q)).all():
            p, _, unparsed = self._parse(unpack(raw_z))
            if not unparsed:
                orphans.keep_pending(series_id, p)

    async def _prepare(
        self,
        items: list[tuple[bytes, str | None]],
        source: str,
        compressed: asyncio.Future[Chunk],
        orphans: Orphans,
        pending: dict[str, str],
    ) -> _Prepared:
        """Parse and track a batch in memory (the index moves on); nothing is written.
        `compressed`: the worker's (or the thread's) `Chunk`: parsed mails, if
        it parsed them, and the compressed raws."""
        prepared = _Prepared(items=items, source=source)
        worked, raws_z, hashes = await compressed
        if worked is not None:
            parsed = [self._from_worker(raw, w) for (raw, _), w in zip(items, worked, strict=True)]
            known = prepared.batch.known_files
            for (p, _, _), (_, _, files) in zip(parsed, worked, strict=True):
                if files is not None and p.message_id not in known:
                    known[p.message_id] = (p, files)
        else:
            parsed = [self._parse(raw) for raw, _ in items]
        if hashes is None:
            hashes = [body_hash(raw) for raw, _ in items]
        now = _now()
        # One connection for the batch's reads (each connection returned costs
        # a rollback, a trip to the database thread and back).
        async with self.reads.connect() as conn:
            await self._recall_orphans(conn, [p.message_id for p, _, unparsed in parsed if not unparsed], orphans)
            # Message-ID -> body hash of the mails stored already (or being written).
            existing: dict[str, str] = dict(pending)
            ids = [p.message_id for p, _, _ in parsed]
            for part in chunked(ids, 900):
                found = await conn.execute(_STORED_HASHES, {"ids": part})
                unhashed = []
                for mid, digest in found:
                    if digest is None:
                        unhashed.append(mid)
                    else:
                        existing[mid] = digest
                for part2 in chunked(unhashed, 100):  # stored before body_hash was kept
                    q = select(t.mails.c.message_id, t.mails.c.raw).where(t.mails.c.message_id.in_(part2))
                    for mid, raw_z in await conn.execute(q):
                        existing[mid] = body_hash(unpack(raw_z))
            # A windowed index looks up what it lacks; every index of all series needs no reads.
            reader = None if self._known is None else conn
            await self._track_batch(prepared, reader, conn, parsed, raws_z, hashes, existing, now, orphans)
        return prepared

    async def _track_batch(
        self,
        prepared: _Prepared,
        reader: AsyncConnection | None,
        db: AsyncConnection,
        parsed: list[tuple[ParsedMail, list[str], bool]],
        raws_z: list[bytes],
        hashes: list[str],
        existing: dict[str, str],
        now: datetime,
        orphans: Orphans,
    ) -> None:
        items, source, local = prepared.items, prepared.source, prepared.stats
        mail_rows: dict[str, dict[str, Any]] = {}
        seen_variants: set[tuple[str, str]] = set()
        batch = prepared.batch
        self._stale = True  # until this batch commits
        rows = zip(items, raws_z, hashes, parsed, strict=True)
        for n, ((raw, ref), raw_z, digest, (p, errors, unparsed)) in enumerate(rows):
            if n % 100 == 99:
                await asyncio.sleep(0)  # let the previous batch's commit move on
            local.read += 1
            known = existing.get(p.message_id)
            if known is None and p.message_id in mail_rows:
                known = mail_rows[p.message_id]["body_hash"]
            if known is not None:
                local.duplicates += 1
                if known != digest and (p.message_id, digest) not in seen_variants:
                    seen_variants.add((p.message_id, digest))
                    prepared.variants.append(_variant_row(p.message_id, raw, digest, source, ref, now))
                    local.variants += 1
                continue
            series_id = None
            if not unparsed:
                d, adopted = await self._track_bulk(reader, p, now, batch, orphans, db=db)
                series_id = d.series_id
                if self._known is not None:  # a windowed index: these stay until the batch commits
                    prepared.pinned.update(self._touched_by(d), (sid for _, sid in adopted))
                local.series_created += d.new_series is not None
                for mid, sid in adopted:
                    if mid in mail_rows:
                        mail_rows[mid]["series_id"] = sid
                    else:  # stored by an earlier batch
                        prepared.late.append({"b_mid": mid, "b_sid": sid})
            local.new += 1
            local.unparsed += unparsed
            mail_rows[p.message_id] = mail_row(
                p, raw_z=raw_z, body_hash=digest, size=len(raw), source=source,
                source_ref=ref, received_at=now, errors=errors, unparsed=unparsed,
                series_id=series_id,
            )
        prepared.mail_rows = list(mail_rows.values())
        prepared.mail_hashes = {mid: row["body_hash"] for mid, row in mail_rows.items()}
        # The series rows as of this batch: the index moves on with the next one.
        batch.series_rows = [series_row(self._index.series(sid)) for sid in sorted(batch.touched)]

    async def _recall_orphans(self, conn: AsyncConnection, message_ids: list[str], orphans: Orphans) -> None:
        """Stored replies (and replies to those) that answered one of these mails
        before it arrived, from an earlier import or SMTP commit, or before a
        restart: handed to `orphans` so the bulk path adopts them as the
        single-mail path does (`_adopt_stored`)."""
        frontier, depth = message_ids, 0
        if orphans.unread_pending is None:
            orphans.unread_pending = set(await conn.scalars(select(t.pending_replies.c.series_id).distinct()))
        while frontier and depth < ADOPT_DEPTH:
            depth += 1
            found: list[str] = []
            for part in chunked(frontier, 900):
                rows = await conn.execute(_STORED_REPLIES, {"ids": part})
                for (raw_z,) in rows.all():
                    p, _, unparsed = self._parse(unpack(raw_z))
                    if unparsed or orphans.knows(p.message_id):
                        continue
                    orphans.add(p, waiting=waits_for_parent(p, Decision(p.message_id, Role.NONE)))
                    found.append(p.message_id)
            frontier = found

    async def _commit(self, prepared: _Prepared) -> int:
        """Write a prepared batch in one transaction; returns the newest mail seq."""
        async with self.writes.begin(urgent=True) as conn:
            await insert_many(conn, t.mails, prepared.mail_rows)
            if prepared.variants:
                await self._add_variants(conn, prepared.variants)
            if prepared.late:
                await conn.execute(_SET_SERIES_BY_ID, prepared.late)
            await self._write(conn, prepared.batch)
            return await conn.scalar(select(func.max(t.mails.c.seq))) or 0

    # ------------------------------------------------------------ reparse

    async def reparse(self, *, batch_size: int = BATCH) -> ReparseStats:
        """Re-derive every series from the stored raw bytes (after a parser fix).

        Runs in one transaction. The outbox keeps its history and gets no new
        events; series ids come out the same wherever the grouping did not change
        (ids are given in arrival order). Where they moved, each series' Discord
        posts move with it (`moved_posts`), so no card is edited for another series."""
        stats = ReparseStats()
        start = time.perf_counter()
        async with self._lock:
            self._stale = True
            self._index = MemoryIndex()
            upd = (
                update(t.mails)
                .where(t.mails.c.seq == bindparam("b_seq"))
                .values(
                    kind=bindparam("b_kind"), subject=bindparam("b_subject"),
                    author_name=bindparam("b_author_name"), author_email=bindparam("b_author_email"),
                    date=bindparam("b_date"), list_id=bindparam("b_list_id"),
                    in_reply_to=bindparam("b_in_reply_to"), series_id=bindparam("b_series_id"),
                    errors=bindparam("b_errors"), unparsed=bindparam("b_unparsed"),
                )
            )
            async with self.writes.begin() as conn:
                by_series = select(t.posts).order_by(t.posts.c.series_id, t.posts.c.channel_id)
                posts = [dict(r) for r in (await conn.execute(by_series)).mappings()]
                firsts = await _first_members(conn, {p["series_id"] for p in posts})
                for table in t.DERIVED:
                    await conn.execute(delete(table))
                last = 0
                orphans = Orphans()
                orphans.unread_pending = set()  # deleted above with the rest of what is derived
                while True:
                    rows = (
                        await conn.execute(
                            select(t.mails.c.seq, t.mails.c.raw, t.mails.c.received_at)
                            .where(t.mails.c.seq > last)
                            .order_by(t.mails.c.seq)
                            .limit(batch_size)
                        )
                    ).all()
                    if not rows:
                        break
                    last = rows[-1][0]
                    batch = RowBatch()
                    updates: dict[str, dict[str, Any]] = {}
                    late: list[dict[str, Any]] = []
                    for seq, raw_z, received_at in rows:
                        p, errors, unparsed = self._parse(unpack(raw_z))
                        series_id = None
                        if not unparsed:
                            try:
                                d, adopted = await self._track_bulk(
                                    None, p, received_at, batch, orphans, with_events=False
                                )
                                series_id = d.series_id
                                for mid, sid in adopted:
                                    if mid in updates:
                                        updates[mid]["b_series_id"] = sid
                                    else:
                                        late.append({"b_mid": mid, "b_sid": sid})
                            except Exception as exc:
                                log.exception("tracking %s failed during reparse", p.message_id)
                                errors.append(f"tracker: {exc!r}")
                                unparsed = True
                        stats.mails += 1
                        stats.unparsed += unparsed
                        updates[p.message_id] = {
                            "b_seq": seq, "b_kind": str(p.kind), "b_subject": p.subject.raw,
                            "b_author_name": p.author.name, "b_author_email": p.author.email,
                            "b_date": p.date, "b_list_id": p.list_id, "b_in_reply_to": p.in_reply_to,
                            "b_series_id": series_id, "b_errors": errors or None, "b_unparsed": unparsed,
                        }
                    await conn.execute(upd, list(updates.values()))
                    if late:
                        await conn.execute(_SET_SERIES_BY_ID, late)
                    await self._write(conn, batch)
                stats.series = len(self._index)
                stats.lineages = await conn.scalar(select(func.count()).select_from(t.lineages)) or 0
                generation = str(int(await conn.scalar(_GENERATION_Q) or 0) + 1)
                await conn.execute(upsert(conn, t.cursors, ["name"]), {"name": _GENERATION, "value": generation})
                self._generation = generation
                kept, stats.posts_moved = moved_posts(posts, firsts, self._index)
                if kept != posts:
                    await conn.execute(delete(t.posts))
                    await insert_many(conn, t.posts, kept)
                stats.posts_dropped = len(posts) - len(kept)
            self._known = None  # every series, as rebuilt
            self._touched = {}
            self._newest = max((s.last_seen for s in self._index.all_series()), default=None)
            self._trim()
            self._stale = False
        stats.seconds = time.perf_counter() - start
        return stats


__all__ = ["Store", "Event"]
