"""One dedicated PostgreSQL connection for coordination between processes.

Several `kvm-patchbot run` processes share one PostgreSQL and coordinate only
through what PostgreSQL provides: session advisory locks (held by this
connection; PostgreSQL releases them when the connection ends, so a process
killed with `kill -9` gives them up as soon as its socket closes) and
LISTEN/NOTIFY (asyncpg's `add_listener` on this connection's raw driver
connection). Keys and channel names are derived from the database and schema,
so stores in other schemas of the same server never see each other.

    session = await PgSession.open(engine)
    if (await session.try_locks([session.key("tracking")]))[0]: ...
    await session.listen("events", worker.wake)
    await session.notify("events")
    session.lost  # set once the connection is gone: every lock went with it
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

log = logging.getLogger(__name__)


def lock_key(database: str, schema: str, *parts: object) -> int:
    """A signed 64-bit key (pg_advisory_lock's bigint) for one thing in one database and schema."""
    text = "\0".join(["kvm-patchbot", database, schema, *map(str, parts)])
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "big", signed=True)


# An advisory lock on a bigint key k, as pg_locks shows it.
_ADVISORY = """locktype = 'advisory' AND granted AND objsubid = 1
    AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"""
_IS_KEY = "classid = ((k >> 32) & 4294967295)::oid AND objid = (k & 4294967295)::oid"
_MEMBERS = f"""
WITH m(k) AS (SELECT $1::bigint),
members AS (SELECT pid FROM pg_locks, m WHERE {_ADVISORY} AND {_IS_KEY})
SELECT members.pid, count(l.pid)
FROM members CROSS JOIN m
LEFT JOIN pg_locks l ON l.pid = members.pid AND l.locktype = 'advisory' AND l.granted AND l.objsubid = 1
    AND NOT (l.classid = ((m.k >> 32) & 4294967295)::oid AND l.objid = (m.k & 4294967295)::oid)
GROUP BY members.pid"""
_UNHELD = f"""
SELECT k FROM unnest($1::bigint[]) AS u(k)
WHERE NOT EXISTS (SELECT 1 FROM pg_locks WHERE {_ADVISORY} AND {_IS_KEY})"""


class PgSession:
    def __init__(self, conn: AsyncConnection, raw: Any, database: str, schema: str) -> None:
        self._conn = conn
        self._raw = raw  # asyncpg.Connection
        self.database = database
        self.schema = schema
        self._use = asyncio.Lock()  # asyncpg runs one query at a time per connection
        self.lost = asyncio.Event()
        self._tag = f"kvmbot_{lock_key(database, schema, 'notify') & 0xFFFFFFFFFFFF:x}"
        raw.add_termination_listener(self._terminated)
        self.pid: int = raw.get_server_pid()

    @classmethod
    async def open(cls, engine: AsyncEngine) -> PgSession:
        conn = await engine.connect()
        try:
            conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
            fairy = await conn.get_raw_connection()
            raw: Any = fairy.driver_connection
            database, schema = await raw.fetchrow("SELECT current_database(), current_schema()")
        except BaseException:
            await conn.close()
            raise
        return cls(conn, raw, database, schema or "")

    def key(self, *parts: object) -> int:
        return lock_key(self.database, self.schema, *parts)

    def _terminated(self, _conn: object) -> None:
        self.lost.set()

    def _channel(self, name: str) -> str:
        return f"{self._tag}_{name}"

    async def try_locks(self, keys: Sequence[int]) -> list[bool]:
        """pg_try_advisory_lock for each key (one round trip); True where now held.

        A key this session holds already answers True again (and is counted
        twice by PostgreSQL: callers lock each key once)."""
        if not keys:
            return []
        async with self._use:
            rows = await self._raw.fetch(
                "SELECT k, pg_try_advisory_lock(k) FROM unnest($1::bigint[]) WITH ORDINALITY AS u(k, n) ORDER BY n",
                list(keys),
            )
        return [bool(r[1]) for r in rows]

    async def unlock_many(self, keys: Sequence[int]) -> None:
        if not keys:
            return
        async with self._use:
            await self._raw.execute("SELECT pg_advisory_unlock(k) FROM unnest($1::bigint[]) AS u(k)", list(keys))

    async def join(self, key: int) -> None:
        """Hold `key` shared (pg_advisory_lock_shared never waits for another
        shared holder): `members(key)` counts the sessions that do."""
        async with self._use:
            await self._raw.execute("SELECT pg_advisory_lock_shared($1)", key)

    async def members(self, key: int) -> dict[int, int]:
        """Backend pid -> how many other advisory locks it holds, for every
        session holding `key` (this one included): pg_locks, where a bigint
        key shows as classid (its high 32 bits), objid (its low) and objsubid 1
        (PostgreSQL docs, "pg_locks": advisory locks)."""
        async with self._use:
            rows = await self._raw.fetch(_MEMBERS, key)
        return {r[0]: r[1] for r in rows}

    async def unheld(self, keys: Sequence[int]) -> set[int]:
        """Those of `keys` that no session holds now (a hint: take them with try_locks)."""
        if not keys:
            return set()
        async with self._use:
            rows = await self._raw.fetch(_UNHELD, list(keys))
        return {r[0] for r in rows}

    async def listen(self, name: str, callback: Callable[[], None]) -> None:
        """Call `callback` on every NOTIFY of `name` (from any process on this schema)."""
        async with self._use:
            await self._raw.add_listener(self._channel(name), lambda *_: callback())

    async def notify(self, name: str) -> None:
        async with self._use:
            await self._raw.execute("SELECT pg_notify($1, '')", self._channel(name))

    async def ping(self) -> bool:
        """The connection answers (else it is lost, and every lock with it)."""
        if self.lost.is_set():
            return False
        try:
            async with self._use, asyncio.timeout(5):
                await self._raw.execute("SELECT 1")
        except Exception:
            log.warning("the coordination connection to PostgreSQL is lost", exc_info=True)
            self.lost.set()
            return False
        return True

    async def close(self) -> None:
        try:
            if not self.lost.is_set():
                async with self._use:
                    await self._raw.execute("SELECT pg_advisory_unlock_all()")
        except Exception:  # closing anyway: PostgreSQL drops the locks with the connection
            log.debug("unlocking before close failed", exc_info=True)
        finally:
            self.lost.set()
            # Not back to the pool: the connection carries listeners (and maybe locks).
            await self._conn.invalidate()
            await self._conn.close()
