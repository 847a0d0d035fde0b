"""One `kvm-patchbot run` per SQLite database.

Two uncoordinated services on one store each keep their own tracker index and
deliver the same outbox: they mix patches of different series into one card
and lose posts. On PostgreSQL, processes coordinate (bot.shared: one tracks,
channel claims for delivery) and `run` does not take this lock; on SQLite a
second `run` refuses to start. This module is the one place that decides it.

SQLite: an exclusive flock on a lock file beside the database (not on the
database itself: closing any descriptor of a file drops the process's POSIX
locks on it, SQLite's own included). PostgreSQL: a session advisory lock keyed
to the database and schema, on a connection held for the service's life.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from bot.store.guard import sqlite_file


class AlreadyRunning(Exception):
    """Another `kvm-patchbot run` holds this database."""


def advisory_key(database: str, schema: str) -> int:
    """A signed 64-bit key (pg_advisory_lock's bigint) for one database and schema."""
    digest = hashlib.sha256(f"kvm-patchbot run\0{database}\0{schema}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


class RunLock:
    """Held from `acquire` until `release`."""

    def __init__(self, *, fd: int | None = None, conn: AsyncConnection | None = None) -> None:
        self._fd = fd
        self._conn = conn

    @classmethod
    async def acquire(cls, engine: AsyncEngine) -> RunLock:
        if engine.dialect.name == "sqlite":
            path = sqlite_file(engine.url.database)
            return cls(fd=None if path is None else _flock(path.with_name(path.name + ".run-lock")))
        conn = await engine.connect()
        try:
            conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
            database, schema = (await conn.execute(text("SELECT current_database(), current_schema()"))).one()
            key = advisory_key(database, schema or "")
            if not await conn.scalar(text("SELECT pg_try_advisory_lock(:k)"), {"k": key}):
                raise AlreadyRunning(
                    f"another `kvm-patchbot run` is using PostgreSQL database {database!r}, schema {schema!r} "
                    f"(it holds advisory lock {key}); stop it first, or give this one another database"
                )
        except BaseException:
            await conn.close()
            raise
        return cls(conn=conn)

    async def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # drops the flock
            self._fd = None
        if self._conn is not None:
            try:
                await self._conn.execute(text("SELECT pg_advisory_unlock_all()"))
            finally:
                await self._conn.close()
                self._conn = None


def _flock(lock_file: Path) -> int:
    fd = os.open(lock_file, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = os.pread(fd, 64, 0).decode(errors="replace").strip()
        os.close(fd)
        raise AlreadyRunning(
            f"another `kvm-patchbot run` is using {lock_file.with_suffix('')}"
            f"{f' (pid {holder})' if holder else ''}: stop it first, or give this one another database"
        ) from None
    except BaseException:
        os.close(fd)
        raise
    os.ftruncate(fd, 0)
    os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
    return fd
