"""Engines for both databases behind one code path: SQLite (WAL, synchronous=FULL,
foreign keys) or PostgreSQL (fsync at commit is its default)."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterable, Iterator
from itertools import islice
from typing import Any

from sqlalchemy import Table, event
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from bot.store.url import async_url, sqlite_path


# Connections kept open (more are opened only for a burst). SQLAlchemy's
# default, 5 kept and 10 more closed as soon as they are returned, is far
# below what the delivery workers read at once (a loop per channel: 20-29
# connections checked out at a time on bench/load.py's 50 channels). On SQLite
# each overflow connection is a new aiosqlite thread, the pragmas and a schema
# parse (2,621 opened for 4,000 mails; with 32 kept, 32 in all and 14% less
# CPU a mail); on PostgreSQL a new server backend (1,143 for 2,000 mails on
# two processes). A kept SQLite connection costs a thread and its page cache,
# a PostgreSQL one a backend: allow `max_connections` 40 per process.
# PostgreSQL keeps all 40 and opens none beyond (a burst waits for one): with
# 24 kept and 16 overflow, two processes on bench/load.py still opened 223
# backends in 30 s (75 with none), each a fork and asyncpg's type set-up; at
# 200 mails/s over 32 connections posts ran p99 3.0 s behind, 2.0 s with none.
SQLITE_POOL = (32, 32)  # pool_size, max_overflow
PG_POOL = (40, 0)

# A pooled PostgreSQL connection idle this long is pinged before use (one
# lost in a server restart or to a firewall is replaced, not failed on).
# SQLAlchemy's pool_pre_ping pings at every checkout, and through asyncpg
# outside autocommit a ping is three round trips (BEGIN, ";", ROLLBACK): a
# read became six. Busy connections are not pinged: if the server restarts
# under them, the statement in flight fails as it would anyway, and that
# first disconnect makes SQLAlchemy replace every older pooled connection.
PING_IDLE = 10.0


def make_engine(url: str, *, schema: str | None = None, ping_idle: float = PING_IDLE) -> AsyncEngine:
    """An async engine; `schema` (PostgreSQL only) sets the search_path, e.g. for tests.

    `url` may be plain (sqlite:///x.db, postgresql://...): see bot.store.url.
    """
    url = async_url(url)
    kwargs: dict[str, Any] = {}
    if url.startswith("postgresql"):
        if schema:
            kwargs["connect_args"] = {"server_settings": {"search_path": schema}}
        kwargs["pool_size"], kwargs["max_overflow"] = PG_POOL
    elif sqlite_path(url) is not None:  # a file (an in-memory database has one static connection)
        kwargs["pool_size"], kwargs["max_overflow"] = SQLITE_POOL
    engine = create_async_engine(url, **kwargs)
    if engine.dialect.name == "sqlite":

        @event.listens_for(engine.sync_engine, "connect")
        def _pragmas(dbapi_conn: Any, _record: Any) -> None:
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA foreign_keys=ON")
            # WAL + FULL: the WAL is fsynced at every commit, so a commit (and the
            # SMTP 250 that follows it) survives a power cut or an I/O error that
            # remounts the file system read-only; with NORMAL, the last commits
            # before such a fault were lost. Group commit (bot/ingest/groupcommit)
            # shares the fsync among the mails that arrive together.
            cur.execute("PRAGMA synchronous=FULL")
            cur.execute("PRAGMA busy_timeout=5000")
            cur.close()
    else:
        _ping_when_idle(engine, ping_idle)
    return engine


def read_engine(engine: AsyncEngine) -> AsyncEngine:
    """The engine the store reads through: on PostgreSQL the same pool in
    autocommit, on SQLite `engine` itself.

    Through asyncpg a read in a transaction is three round trips (BEGIN, the
    SELECT, the ROLLBACK at return): measured, 285 us of this process's CPU
    and 75 us of the server's, against 208 and 26 us in autocommit. Reads
    lose nothing by it: at READ COMMITTED each statement has its own snapshot
    inside a transaction too, and no read takes locks or a server-side cursor
    (one that must goes through `Store.writes`).
    pysqlite begins no transaction for a SELECT, so SQLite has nothing to save."""
    if engine.dialect.name == "postgresql":
        return engine.execution_options(isolation_level="AUTOCOMMIT")
    return engine


def _ping_when_idle(engine: AsyncEngine, idle: float) -> None:
    """Ping a pooled connection at checkout if it sat in the pool over `idle`
    seconds; one that fails is replaced (a checkout listener's
    DisconnectionError: SQLAlchemy's pool events, "checkout")."""
    pool = engine.sync_engine.pool

    @event.listens_for(pool, "checkin")
    def _returned(_dbapi_conn: Any, record: Any) -> None:
        record.info["returned_at"] = time.monotonic()

    @event.listens_for(pool, "checkout")
    def _check(dbapi_conn: Any, record: Any, _proxy: Any) -> None:
        returned = record.info.get("returned_at")
        if returned is None or time.monotonic() - returned <= idle:
            return
        try:
            dbapi_conn.ping()
        except Exception as exc:
            raise DisconnectionError("a pooled PostgreSQL connection was lost while idle") from exc


def chunked(items: Iterable[Any], size: int) -> Iterator[list[Any]]:
    """`items` in lists of `size` (the last shorter): IN lists kept under the drivers' parameter limits."""
    it = iter(items)
    while chunk := list(islice(it, size)):
        yield chunk


def sqlite_threads() -> set[threading.Thread]:
    """aiosqlite's worker threads alive now (one per connection)."""
    return {t for t in threading.enumerate() if "_connection_worker_thread" in t.name}


async def settle_sqlite_threads(before: set[threading.Thread], timeout: float = 2.0) -> None:
    """Wait, with the loop running, for the worker threads started since `before` to end.

    A connection that failed to open leaves its thread one queued step (closing,
    with a reply due to this loop; aiosqlite 0.22 `Connection.stop`). Were the loop
    closed first, as `asyncio.run` does right after the error, that thread dies
    with a traceback on stderr: a one-line CLI error would become twenty lines."""
    started = [t for t in sqlite_threads() - before if t.is_alive()]
    if started:
        await asyncio.to_thread(_join, started, timeout)


def _join(threads: list[threading.Thread], timeout: float) -> None:
    for t in threads:
        t.join(timeout)


# Built once per (dialect, table, keys): building one costs about 1 ms, once per commit.
_UPSERTS: dict[tuple[str, Table, tuple[str, ...]], Any] = {}


def upsert(conn: AsyncConnection | AsyncEngine, table: Table, keys: list[str]):  # type: ignore[no-untyped-def]
    """INSERT ... ON CONFLICT (keys) DO UPDATE SET every other column (both dialects)."""
    cache_key = (conn.dialect.name, table, tuple(keys))
    stmt = _UPSERTS.get(cache_key)
    if stmt is None:
        ins = (postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert)(table)
        cols = {c.name: ins.excluded[c.name] for c in table.columns if c.name not in keys}
        stmt = _UPSERTS[cache_key] = ins.on_conflict_do_update(index_elements=keys, set_=cols)
    return stmt


def insert_ignore(conn: AsyncConnection, table: Table):  # type: ignore[no-untyped-def]
    """INSERT ... ON CONFLICT DO NOTHING (both dialects)."""
    ins = (postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert)(table)
    return ins.on_conflict_do_nothing()
