"""SQLite's write transactions queue in the event loop, a mail's commit
first (bot.store.writegate): no writer sleeps in SQLite's busy handler, and
the SMTP 250 does not wait for every channel's bookkeeping."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from sqlalchemy import insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.store import Store
from bot.store import schema as t
from bot.store.writegate import WriteGate
from tests.helpers import raw_mail


async def until(check: object, rounds: int = 1000) -> None:
    """Let the other tasks run until `check()` holds (yielding, not sleeping)."""
    for _ in range(rounds):
        if check():  # type: ignore[operator]
            return
        await asyncio.sleep(0)
    raise AssertionError("never came true")


async def test_the_gate_goes_to_urgent_writers_first_then_in_arrival_order() -> None:
    gate = WriteGate()
    order: list[str] = []
    release = asyncio.Event()

    async def first() -> None:
        async with gate.hold():
            await release.wait()
            order.append("first")

    async def writer(name: str, urgent: bool) -> None:
        async with gate.hold(urgent=urgent):
            order.append(name)
            await asyncio.sleep(0)  # a write takes turns with the loop: nobody else gets in meanwhile

    holder = asyncio.create_task(first())
    await until(lambda: gate._busy)
    tasks = [asyncio.create_task(writer(n, n.startswith("u"))) for n in ("n1", "u1", "n2", "u2", "n3")]
    await until(lambda: gate.waiting == 5)
    release.set()
    await asyncio.gather(holder, *tasks)
    assert order == ["first", "u1", "u2", "n1", "n2", "n3"]
    assert not gate._busy and gate.waiting == 0


async def test_a_waiter_cancelled_is_skipped_and_one_cancelled_as_its_turn_came_passes_it_on() -> None:
    gate = WriteGate()
    order: list[str] = []

    async def writer(name: str) -> None:
        async with gate.hold():
            order.append(name)

    async with gate.hold():
        gone, unlucky, last = (asyncio.create_task(writer(n)) for n in ("gone", "unlucky", "last"))
        await until(lambda: gate.waiting == 3)
        gone.cancel()
        await until(gone.done)
    # Leaving hands the gate to `unlucky` (no await in between: it has not run yet)...
    unlucky.cancel()  # ...and it is cancelled before it does: the turn must go on to `last`
    await asyncio.wait_for(last, 10)  # (kept by nobody, it would never come)
    for task in (gone, unlucky):
        with pytest.raises(asyncio.CancelledError):
            await task
    assert order == ["last"] and not gate._busy and gate.waiting == 0


async def test_a_mail_is_committed_before_the_bookkeeping_queued_ahead_of_it(tmp_path: Path) -> None:
    store = await Store.open(f"sqlite+aiosqlite:///{tmp_path / 'gate.db'}")
    try:
        assert store.writes.gate is not None
        done: list[str] = []
        release = asyncio.Event()

        async def held_open() -> None:
            async with store.writes.begin() as conn:  # a delivery write in flight
                await conn.execute(insert(t.cursors).values(name="held", value=0))
                await release.wait()

        async def bookkeeping(k: int) -> None:
            async with store.writes.begin() as conn:
                await conn.execute(insert(t.cursors).values(name=f"c{k}", value=k))
            done.append(f"c{k}")

        async def mail() -> None:
            await store.ingest(raw_mail("gate-1@x", "[PATCH] KVM: x86: Gate it", "Body.\n"))
            done.append("mail")

        holder = asyncio.create_task(held_open())
        await until(lambda: store.writes.gate is not None and store.writes.gate._busy)
        writers = [asyncio.create_task(bookkeeping(k)) for k in range(20)]
        await until(lambda: store.writes.gate is not None and store.writes.gate.waiting == 20)
        sender = asyncio.create_task(mail())
        await until(lambda: store.writes.gate is not None and store.writes.gate.waiting == 21, rounds=100_000)
        release.set()
        await asyncio.gather(holder, sender, *writers)
        assert done[0] == "mail" and sorted(done[1:]) == sorted(f"c{k}" for k in range(20))
        assert await store.raw("gate-1@x") is not None
    finally:
        await store.close()


async def test_postgresql_has_no_gate(pg_store: Store) -> None:
    assert pg_store.writes.gate is None  # rows are locked there, not the database


async def test_small_writes_queued_together_share_one_commit_and_a_bad_one_fails_alone(tmp_path: Path) -> None:
    """Every channel's bookkeeping (settles, post records) queued while a
    commit runs goes into the next one together; if that commit fails, each
    is tried alone, so only the bad write fails."""
    store = await Store.open(f"sqlite+aiosqlite:///{tmp_path / 'shared.db'}")
    try:
        async def put(name: str) -> str:
            async def work(conn: AsyncConnection) -> str:
                await conn.execute(insert(t.cursors).values(name=name, value=1))
                return name
            return await store.writes.shared(work)

        assert await put("first") == "first" and store.writes.shared_commits == 1
        results = await asyncio.gather(*(put(f"c{k}") for k in range(30)), put("first"), return_exceptions=True)
        assert results[:30] == [f"c{k}" for k in range(30)]
        assert isinstance(results[30], IntegrityError)  # "first" is there already: that one alone fails
        # One shared commit for the 31 (it failed), then each alone: the 30 good ones are stored.
        async with store.engine.connect() as conn:
            names = set(await conn.scalars(select(t.cursors.c.name)))
        assert {f"c{k}" for k in range(30)} <= names
        before = store.writes.shared_commits
        assert await asyncio.gather(*(put(f"d{k}") for k in range(30))) == [f"d{k}" for k in range(30)]
        assert store.writes.shared_commits - before < 30  # queued together: fewer commits than writes
    finally:
        await store.close()


async def test_a_caller_cancelled_while_its_write_is_queued_leaves_the_others_committed(tmp_path: Path) -> None:
    store = await Store.open(f"sqlite+aiosqlite:///{tmp_path / 'cancel.db'}")
    try:
        async def put(name: str) -> None:
            async def work(conn: AsyncConnection) -> None:
                await conn.execute(insert(t.cursors).values(name=name, value=1))
            await store.writes.shared(work)

        tasks = [asyncio.create_task(put(f"e{k}")) for k in range(10)]
        await until(lambda: bool(store.writes._shared))
        tasks[3].cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if (flusher := store.writes._flusher) is not None:
            await flusher
        async with store.engine.connect() as conn:
            names = set(await conn.scalars(select(t.cursors.c.name)))
        assert {f"e{k}" for k in range(10)} <= names  # the cancelled caller's write went in too
    finally:
        await store.close()


async def test_writes_of_one_statement_queued_together_go_as_one_executemany_in_order(tmp_path: Path) -> None:
    """A turn of the gate carries every channel's settles in a few trips to
    the database, not one trip each; the order of the writes is kept, and a
    bad row fails only its own write."""
    from sqlalchemy import bindparam, event

    from bot.store.engine import upsert

    store = await Store.open(f"sqlite+aiosqlite:///{tmp_path / 'many.db'}")
    put = upsert(store.engine, t.cursors, ["name"])
    clash = insert(t.cursors).values(name=bindparam("b_name"), value=bindparam("b_value"))
    trips: list[tuple[str, bool]] = []
    event.listen(
        store.engine.sync_engine, "before_cursor_execute",
        lambda conn, cursor, statement, params, context, executemany: trips.append((statement.split()[0], executemany)),
    )
    try:
        # Each name written three times: the last value must win (order kept).
        writes = [store.writes.execute(put, {"name": f"n{k % 10}", "value": k}) for k in range(30)]
        await asyncio.gather(*writes)
        async with store.engine.connect() as conn:
            got = dict((await conn.execute(select(t.cursors.c.name, t.cursors.c.value))).all())
        assert {name: int(value) for name, value in got.items()} == {f"n{k}": 20 + k for k in range(10)}
        inserts = [many for verb, many in trips if verb == "INSERT"]
        assert inserts == [True]  # the 30 queued together: one trip

        await store.writes.execute(clash, {"b_name": "taken", "b_value": "1"})
        results = await asyncio.gather(
            *(store.writes.execute(clash, {"b_name": name, "b_value": "2"}) for name in ("x1", "taken", "x2")),
            return_exceptions=True,
        )
        assert results[0] is None and isinstance(results[1], IntegrityError) and results[2] is None
        async with store.engine.connect() as conn:
            names = set(await conn.scalars(select(t.cursors.c.name)))
        assert {"x1", "x2", "taken"} <= names
    finally:
        await store.close()
