"""Settles of every kind share one statement: queued together on SQLite they
go as one executemany, and what one does not give it leaves as it was."""

from __future__ import annotations

import asyncio

from sqlalchemy import event, select

from bot.store import Store
from bot.store import delivery as q
from bot.store import schema as t

CHANNEL = 9100


async def test_settles_of_different_kinds_keep_what_they_do_not_give(store: Store) -> None:
    trips: list[tuple[str, bool]] = []
    event.listen(
        store.engine.sync_engine, "before_cursor_execute",
        lambda conn, cursor, statement, params, context, executemany: trips.append((statement.split()[0], executemany)),
    )
    await q.queue_routed(store, [(e, CHANNEL, None) for e in (1, 2, 3)], upto=3)
    await q.settle(store, 1, CHANNEL, "pending", discord_message_id=111, posted_in=50, attempted=True)
    trips.clear()

    await asyncio.gather(
        q.settle(store, 1, CHANNEL, "done"),  # the card's message is not named again: it stays
        q.settle(store, 2, CHANNEL, "done", discord_message_id=222, attempted=True),
        q.settle(store, 3, CHANNEL, "failed", error="403 Missing Access", attempted=True),
    )

    d = t.deliveries
    async with store.engine.connect() as conn:
        rows = {
            r.event_id: (r.status, r.discord_message_id, r.posted_in, r.attempts, r.error)
            for r in await conn.execute(select(d).where(d.c.channel_id == CHANNEL))
        }
    assert rows == {
        1: ("done", 111, 50, 1, None),
        2: ("done", 222, None, 1, None),
        3: ("failed", None, None, 1, "403 Missing Access"),
    }
    updates = [many for verb, many in trips if verb == "UPDATE"]
    if store.engine.dialect.name == "sqlite":
        assert updates == [True]  # three kinds of settle, one trip
    else:
        assert len(updates) == 3  # PostgreSQL does not share: a transaction each
