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

import json
from collections.abc import Callable
from json import encoder as _json
from operator import itemgetter
from typing import Any

from sqlalchemy import JSON, Table, insert
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.store.engine import insert_ignore, upsert

Processor = Callable[[Any], Any]
# (SQL, row dict -> values in bind order, [(position, processor)]) per statement and dialect
_Compiled = tuple[str, Callable[[dict[str, Any]], tuple[Any, ...]], list[tuple[int, Processor]]]
# Keyed by the dialect's class: two drivers of one database differ in paramstyle.
_CACHE: dict[tuple[type, str, str, tuple[str, ...], tuple[str, ...]], _Compiled] = {}


# One C encoder for every JSON value of a bulk write, making json.dumps's
# text: json.dumps builds one per call, and its Python around it (and
# SQLAlchemy's processor's) was most of the 72,000 values' cost on kvmarm.
# No cycle check: rows are trees.
_make_encoder = getattr(_json, "c_make_encoder", None)  # (the C accelerator; not in typeshed)
_ENCODE = None if _make_encoder is None else _make_encoder(
    None, _json.JSONEncoder().default, _json.encode_basestring_ascii, None, ": ", ", ", False, False, True
)
_PROBE = [{"a": None, "\u00e9": [1, 2.5, True, "x\n"]}, {}]


def _json_text(value: Any) -> str:
    assert _ENCODE is not None
    return "".join(_ENCODE(value, 0))


def _json_processor(proc: Processor) -> Processor:
    """`proc` (a JSON column's), taking the short way for lists and dicts where
    the dialect writes json.dumps's text unchanged (SQLite); else `proc` itself."""
    if _ENCODE is None or not proc(_PROBE) == _json_text(_PROBE) == json.dumps(_PROBE):
        return proc

    def process(value: Any) -> Any:
        if type(value) is list or type(value) is dict:
            return _json_text(value)
        return proc(value)  # None, and anything else, as SQLAlchemy does

    return process


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
        if proc is not None and isinstance(table.c[name].type, JSON):
            proc = _json_processor(proc)
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
