"""The store's connection pool keeps what the delivery workers use at once.

Every channel loop reads the outbox on its own connection; with SQLAlchemy's
default pool (5 kept, 10 more closed on return) a burst opened a new SQLite
connection (a thread, the pragmas, a schema parse) or PostgreSQL backend for
most reads. See bot/store/engine.py.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from sqlalchemy import event, text

from bot.store import Store
from bot.store.engine import PG_POOL, SQLITE_POOL

AT_ONCE = 24  # what bench/load.py's 50 channels checked out at a time (20-29)


async def _burst(store: Store, n: int) -> None:
    """`n` reads holding their connections at the same time."""
    all_in = asyncio.Barrier(n)

    async def read() -> None:
        async with store.engine.connect() as conn:
            assert await conn.scalar(text("SELECT 1")) == 1
            await all_in.wait()

    async with asyncio.timeout(20):  # a pool too small waits 30 s for a connection, then fails
        await asyncio.gather(*(read() for _ in range(n)))


async def test_a_burst_of_concurrent_reads_reuses_the_connections_of_the_last(store: Store) -> None:
    """On PostgreSQL a burst as large as the pool allows: every connection it
    opens is kept (an overflow connection, closed at its return, was a new
    server backend at the next burst: 223 backends in 30 s of bench/load.py
    on two processes when 16 of the 40 were overflow, 75 with none)."""
    pg = store.engine.dialect.name == "postgresql"
    kept, overflow = PG_POOL if pg else SQLITE_POOL
    assert kept >= AT_ONCE
    if pg:
        assert overflow == 0
    at_once = kept if pg else AT_ONCE
    opened: list[Any] = []
    event.listen(store.engine.sync_engine, "connect", lambda conn, record: opened.append(record))
    await _burst(store, at_once)
    first = len(opened)
    assert 0 < first <= at_once
    await _burst(store, at_once)
    await _burst(store, at_once)
    assert len(opened) == first, "connections opened again for the same load: the pool closed them"
    assert store.engine.pool.checkedin() >= at_once  # type: ignore[attr-defined]  # (QueuePool's)


async def _lose_backend(admin: Any, engine: Any) -> int:
    """Terminate the server backend of the engine's one pooled connection; its pid."""
    async with engine.connect() as conn:
        pid = await conn.scalar(text("SELECT pg_backend_pid()"))
    async with admin.connect() as conn:  # (the timeout form waits until the backend is gone)
        assert await conn.scalar(text("SELECT pg_terminate_backend(:pid, 10000)"), {"pid": pid})
    return int(pid)


@pytest.mark.pg
async def test_a_connection_lost_while_idle_is_replaced_and_a_busy_one_is_not_pinged(pg_url: str) -> None:
    """PostgreSQL connections are pinged only after sitting idle (each ping
    through asyncpg is three round trips): one lost while idle is replaced
    before use; one returned moments ago is used as it is, and if it was lost
    the statement fails once and the pool replaces it."""
    from sqlalchemy.exc import DBAPIError
    from sqlalchemy.ext.asyncio import create_async_engine

    from bot.store.engine import make_engine

    admin = create_async_engine(pg_url)
    idle, busy = make_engine(pg_url, ping_idle=0.0), make_engine(pg_url, ping_idle=3600.0)
    try:
        gone = await _lose_backend(admin, idle)
        async with idle.connect() as conn:  # pinged, found dead, replaced
            assert await conn.scalar(text("SELECT pg_backend_pid()")) != gone

        await _lose_backend(admin, busy)
        with pytest.raises(DBAPIError) as failed:
            async with busy.connect() as conn:
                await conn.scalar(text("SELECT 1"))
        assert failed.value.connection_invalidated
        async with busy.connect() as conn:  # the pool replaced it
            assert await conn.scalar(text("SELECT 1")) == 1
    finally:
        for engine in (idle, busy, admin):
            await engine.dispose()


@pytest.mark.pg
async def test_a_read_opens_no_transaction_and_a_write_on_the_same_connection_still_does(pg_store: Store) -> None:
    """On PostgreSQL a read goes in autocommit (bot.store.engine.read_engine):
    no BEGIN before it and no ROLLBACK after, one round trip, not three. The
    pooled connection it used is transactional again for the next write, whose
    failure still rolls the whole transaction back."""
    from sqlalchemy import insert, select

    from bot.store import schema as t

    async def in_transaction(conn: Any) -> bool:
        raw = await conn.get_raw_connection()
        return bool(raw.driver_connection.is_in_transaction())  # asyncpg's own view

    async with pg_store.reads.connect() as conn:
        pid = await conn.scalar(text("SELECT pg_backend_pid()"))
        assert not await in_transaction(conn)
        assert await conn.scalar(select(t.cursors.c.value).where(t.cursors.c.name == "x")) is None
        assert not await in_transaction(conn)

    class Undone(Exception):
        pass

    with pytest.raises(Undone):
        async with pg_store.writes.begin() as conn:
            assert await conn.scalar(text("SELECT pg_backend_pid()")) == pid  # the connection the read returned
            await conn.execute(insert(t.cursors).values(name="x", value="1"))
            assert await in_transaction(conn)
            raise Undone
    async with pg_store.engine.connect() as conn:
        assert await in_transaction(conn) is False  # nothing run yet: asyncpg begins at the first statement
        assert await conn.scalar(select(t.cursors.c.value).where(t.cursors.c.name == "x")) is None
        assert await in_transaction(conn)  # the store's own engine: transactions as before


async def test_sqlite_reads_go_through_the_engine_itself(tmp_path: Any) -> None:
    """pysqlite begins no transaction for a SELECT: nothing to save there."""
    async with await Store.open(f"sqlite+aiosqlite:///{tmp_path / 'r.db'}") as store:
        assert store.reads is store.engine
