"""Many-row INSERTs without SQLAlchemy's per-row parameter work.

`conn.execute(insert(table), rows)` builds and type-processes a parameter
dict per row in Python; on kvmarm that was about a third of the main
thread's time on the bulk path. Here SQLAlchemy still compiles the statement
for the connection's dialect (SQLite or PostgreSQL, same code path) and each
column's own bind processor converts the values, but column by column, and
the rows reach the driver's executemany as tuples. Rows are dicts with the
same keys (what `bot.store.rows` builds).
"""

from __future__ import annotations

from collections.abc import Callable
from operator import itemgetter
from typing import Any

from sqlalchemy import Table, insert
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.store.engine import insert_ignore, upsert

Processor = Callable[[Any], Any]
# (SQL, row dict -> values in bind order, [(position, processor)]) per statement and dialect
_Compiled = tuple[str, Callable[[dict[str, Any]], tuple[Any, ...]], list[tuple[int, Processor]]]
# Keyed by the dialect's class: two drivers of one database differ in paramstyle.
_CACHE: dict[tuple[type, str, str, tuple[str, ...], tuple[str, ...]], _Compiled] = {}


def _compiled(
    conn: AsyncConnection, table: Table, how: str, keys: tuple[str, ...], conflict: tuple[str, ...]
) -> _Compiled:
    cache_key = (type(conn.dialect), table.name, how, keys, conflict)
    found = _CACHE.get(cache_key)
    if found is not None:
        return found
    dialect = conn.dialect
    if how == "upsert":
        stmt = upsert(conn, table, list(conflict))
    elif how == "ignore":
        stmt = insert_ignore(conn, table)
    else:
        stmt = insert(table)
    compiled = stmt.compile(dialect=dialect, column_keys=list(keys))
    order = list(compiled.positiontup or ())
    if sorted(order) != sorted(keys):  # e.g. a default rendered as a bind: not a plain VALUES list
        raise ValueError(f"unexpected binds for {table.name}: {order}")
    procs = []
    for pos, name in enumerate(order):
        proc = table.c[name].type.dialect_impl(dialect).bind_processor(dialect)
        if proc is not None:
            procs.append((pos, proc))
    getter = itemgetter(*order) if len(order) > 1 else (lambda row: (row[order[0]],))
    found = _CACHE[cache_key] = (compiled.string, getter, procs)
    return found


def _convert(column: tuple[Any, ...], proc: Processor) -> tuple[Any, ...] | list[Any]:
    if len(set(map(id, column))) == 1:  # e.g. the batch's one received_at: convert it once
        return (proc(column[0]),) * len(column)
    return list(map(proc, column))


async def insert_many(
    conn: AsyncConnection,
    table: Table,
    rows: list[dict[str, Any]],
    *,
    how: str = "insert",
    conflict: tuple[str, ...] = (),
) -> None:
    """INSERT `rows`; `how`: "insert", "ignore" (ON CONFLICT DO NOTHING) or
    "upsert" (ON CONFLICT (`conflict`) DO UPDATE every other column)."""
    if not rows:
        return
    sql, getter, procs = _compiled(conn, table, how, tuple(rows[0]), conflict)
    params = [getter(row) for row in rows]
    if procs:
        columns: list[Any] = list(zip(*params, strict=True))
        for pos, proc in procs:
            columns[pos] = _convert(columns[pos], proc)
        params = list(zip(*columns, strict=True))
    await conn.exec_driver_sql(sql, params)
