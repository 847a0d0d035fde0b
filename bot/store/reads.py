"""Read side of the Store: series views, stored mails, the outbox."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from bot.mail.models import ParsedMail
from bot.series.models import Event, EventKind, SeriesView
from bot.store import schema as t
from bot.store.engine import chunked
from bot.store.models import StoredMail, UnparsedMail
from bot.store.rawcodec import unpack
from bot.store.views import PreviousRows, build_view


async def _rows_by_series(conn: AsyncConnection, table: Any, ids: list[int]) -> dict[int, list[Any]]:
    g: dict[int, list[Any]] = {i: [] for i in ids}
    if ids:
        query = select(table)
        if table is t.trailers:
            # When each was given (its mail's Date): the order they are shown
            # in, the same whatever order the mails arrived in.
            query = select(table, t.mails.c.date.label("given_at")).select_from(
                table.outerjoin(t.mails, t.mails.c.message_id == table.c.message_id)
            )
        for row in (await conn.execute(query.where(table.c.series_id.in_(ids)))).mappings():
            g[row["series_id"]].append(row)
    return g


async def _views(conn: AsyncConnection, series_rows: Sequence[Any]) -> list[SeriesView]:
    """Views of these series rows (in the given order), with the versions they
    supersede (what "unchanged since" compares with): six queries per 500."""
    out: list[SeriesView] = []
    for part in chunked(series_rows, 500):
        ids = [r["id"] for r in part]
        grouped = {name: await _rows_by_series(conn, table, ids)
                   for name, table in (("p", t.patches), ("t", t.trailers), ("a", t.applied))}
        prev_ids = sorted({r["supersedes"] for r in part if r["supersedes"] is not None})
        prev_series: dict[int, Any] = {}
        if prev_ids:
            found = await conn.execute(select(t.series).where(t.series.c.id.in_(prev_ids)))
            prev_series = {r["id"]: r for r in found.mappings()}
        prev_patches = await _rows_by_series(conn, t.patches, list(prev_series))
        prev_trailers = await _rows_by_series(conn, t.trailers, list(prev_series))
        for r in part:
            sid, prev = r["id"], r["supersedes"]
            earlier = None
            if prev in prev_series:
                earlier = PreviousRows(prev_series[prev], prev_patches[prev], prev_trailers[prev])
            out.append(build_view(r, grouped["p"][sid], grouped["t"][sid], grouped["a"][sid], earlier))
    return out


def event_from_row(row: Any) -> Event:
    return Event(
        event_id=row["id"],
        kind=EventKind(row["kind"]),
        series_id=row["series_id"],
        message_id=row["message_id"],
        patch_index=row["patch_index"],
        data=row["data"],
        created_at=row["created_at"],
    )


class ReadMixin:
    reads: AsyncEngine  # autocommit on PostgreSQL (bot.store.engine.read_engine)
    _parser: Callable[[bytes], ParsedMail]

    async def _select_views(self, query: Select[Any]) -> list[SeriesView]:
        async with self.reads.connect() as conn:
            rows = (await conn.execute(query)).mappings().all()
            return await _views(conn, rows)

    async def get_series(self, series_id: int) -> SeriesView | None:
        found = await self._select_views(select(t.series).where(t.series.c.id == series_id))
        return found[0] if found else None

    async def get_series_many(self, series_ids: Iterable[int]) -> dict[int, SeriesView]:
        """The views of those series that exist, by id: the same queries for many as for one."""
        out: dict[int, SeriesView] = {}
        for part in chunked(sorted(set(series_ids)), 500):
            for view in await self._select_views(select(t.series).where(t.series.c.id.in_(part))):
                out[view.series_id] = view
        return out

    async def list_series(
        self,
        *,
        since: datetime | None = None,
        until: datetime | None = None,
        lineage_id: int | None = None,
        author: str | None = None,
        complete: bool | None = None,
        limit: int | None = None,
        offset: int | None = None,
        newest_first: bool = False,
    ) -> list[SeriesView]:
        """Series postings, oldest first (by first seen): `since` <= first_seen < `until`;
        `author` matches the email (case-insensitive); `limit`/`offset` page through them."""
        q = select(t.series)
        if since is not None:
            q = q.where(t.series.c.first_seen >= since)
        if until is not None:
            q = q.where(t.series.c.first_seen < until)
        if lineage_id is not None:
            q = q.where(t.series.c.lineage_id == lineage_id)
        if author is not None:
            q = q.where(func.lower(t.series.c.author_email) == author.lower())
        if complete is not None:
            q = q.where(t.series.c.complete == complete)
        order = (t.series.c.first_seen, t.series.c.id)
        q = q.order_by(*(c.desc() for c in order)) if newest_first else q.order_by(*order)
        if limit is not None:
            q = q.limit(limit)
        if offset:
            q = q.offset(offset)
        return await self._select_views(q)

    async def series_for_message(self, message_id: str) -> SeriesView | None:
        """The series a cover/patch belongs to, or the series a reply was made in."""
        async with self.reads.connect() as conn:
            sid = await conn.scalar(select(t.patches.c.series_id).where(t.patches.c.message_id == message_id))
            if sid is None:
                sid = await conn.scalar(select(t.mails.c.series_id).where(t.mails.c.message_id == message_id))
        return None if sid is None else await self.get_series(sid)

    async def lineage(self, lineage_id: int) -> list[SeriesView]:
        """The versions of one piece of work, oldest version first."""
        views = await self.list_series(lineage_id=lineage_id)

        def key(v: SeriesView) -> tuple[float, datetime | None, int]:
            try:
                ver = float(v.version_label) if v.version_label else float(v.version)
            except ValueError:
                ver = float(v.version)
            return ver, v.first_seen, v.series_id

        return sorted(views, key=key)

    async def raw(self, message_id: str) -> bytes | None:
        async with self.reads.connect() as conn:
            blob = await conn.scalar(select(t.mails.c.raw).where(t.mails.c.message_id == message_id))
        return None if blob is None else unpack(blob)

    async def mails(
        self,
        *,
        since: datetime | None = None,
        until: datetime | None = None,
        source_refs: Iterable[str] | None = None,
    ) -> list[StoredMail]:
        """Stored mails in arrival order, parsed again from their raw bytes.

        `since`/`until` bound the mail's Date (its arrival time where it has none)."""
        when = func.coalesce(t.mails.c.date, t.mails.c.received_at)
        q = select(
            t.mails.c.seq, t.mails.c.message_id, t.mails.c.source, t.mails.c.source_ref,
            t.mails.c.received_at, t.mails.c.raw,
        ).order_by(t.mails.c.seq)
        if since is not None:
            q = q.where(when >= since)
        if until is not None:
            q = q.where(when < until)
        refs = None if source_refs is None else list(source_refs)
        async with self.reads.connect() as conn:
            if refs is None:
                rows = (await conn.execute(q)).all()
            else:
                rows = []
                for part in chunked(refs, 500):
                    rows += (await conn.execute(q.where(t.mails.c.source_ref.in_(part)))).all()
                rows.sort(key=lambda r: r[0])
        return [
            StoredMail(
                seq=seq, message_id=mid, source=source, source_ref=ref, received_at=received,
                parsed=self._parser(unpack(raw)),
            )
            for seq, mid, source, ref, received, raw in rows
        ]

    async def unparseable(self) -> list[UnparsedMail]:
        """Mails kept but not understood (parser gave up or tracking failed), with why."""
        q = select(t.mails).where(t.mails.c.unparsed.is_(True)).order_by(t.mails.c.seq)
        async with self.reads.connect() as conn:
            rows = (await conn.execute(q)).mappings().all()
        return [
            UnparsedMail(
                seq=r["seq"], message_id=r["message_id"], source=r["source"], source_ref=r["source_ref"],
                received_at=r["received_at"], size=r["size"], errors=tuple(r["errors"] or ()),
            )
            for r in rows
        ]

    async def events_after(self, event_id: int, limit: int = 100) -> list[Event]:
        """Outbox events with an id above `event_id`, in order."""
        q = select(t.events).where(t.events.c.id > event_id).order_by(t.events.c.id).limit(limit)
        async with self.reads.connect() as conn:
            return [event_from_row(r) for r in (await conn.execute(q)).mappings()]

    async def events_by_ids(self, event_ids: Iterable[int]) -> list[Event]:
        """Those of the events that exist, in id order: one query for a delivery batch."""
        out: list[Event] = []
        async with self.reads.connect() as conn:
            for part in chunked(sorted(set(event_ids)), 500):
                q = select(t.events).where(t.events.c.id.in_(part)).order_by(t.events.c.id)
                out += [event_from_row(r) for r in (await conn.execute(q)).mappings()]
        return out

    async def last_event_id(self) -> int:
        async with self.reads.connect() as conn:
            return await conn.scalar(select(func.coalesce(func.max(t.events.c.id), 0))) or 0

    async def count(self, table: str) -> int:
        """Rows in one of the store's tables (for stats and tests)."""
        async with self.reads.connect() as conn:
            return await conn.scalar(select(func.count()).select_from(t.metadata.tables[table])) or 0
