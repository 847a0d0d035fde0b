"""The inbox (migration 0006): mail a non-tracking process committed, waiting
for the process that tracks.

    await add(store, [(raw, source_ref)], source="smtp")   # committed: the sink may answer 250
    for batch in await take(store, limit=500): ...          # oldest first (arrival order)
    await drop(store, [ids])                                 # after they are ingested
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timezone

from sqlalchemy import delete, func, insert, select

from bot.store import schema as t
from bot.store.rawcodec import pack, unpack
from bot.store.store import Store


@dataclass(frozen=True)
class Waiting:
    id: int
    raw: bytes
    source: str
    source_ref: str | None


async def add(store: Store, mails: Sequence[tuple[bytes, str | None]], *, source: str) -> None:
    """Commit mails to the inbox, in one transaction (the sink's group commit)."""
    if not mails:
        return
    now = datetime.now(timezone.utc)
    rows = [{"raw": pack(raw), "source": source, "source_ref": ref, "received_at": now} for raw, ref in mails]
    store.check_file()
    async with store.writes.begin() as conn:
        await conn.execute(insert(t.inbox), rows)


async def take(store: Store, *, limit: int = 500) -> list[Waiting]:
    """The oldest waiting mails (they stay until `drop`)."""
    q = select(t.inbox.c.id, t.inbox.c.raw, t.inbox.c.source, t.inbox.c.source_ref).order_by(t.inbox.c.id).limit(limit)
    async with store.reads.connect() as conn:
        return [Waiting(i, unpack(raw), source, ref) for i, raw, source, ref in await conn.execute(q)]


async def drop(store: Store, ids: Sequence[int]) -> None:
    if ids:
        async with store.writes.begin() as conn:
            await conn.execute(delete(t.inbox).where(t.inbox.c.id.in_(list(ids))))


async def waiting_count(store: Store) -> int:
    async with store.reads.connect() as conn:
        return await conn.scalar(select(func.count()).select_from(t.inbox)) or 0
