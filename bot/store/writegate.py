"""Write transactions: on SQLite one at a time in this process, ingest first.

SQLite has one writer. Without a gate, a transaction that finds the write
lock taken is put to sleep by SQLite's busy handler in growing steps (1, 2,
5, 10 ... 100 ms), and under load every channel's delivery bookkeeping
competes with the sink's commit, which holds the SMTP 250 of every mail in
its batch. On `bench/load.py` (200 mails/s asked) the sink's commits waited
so that it took about 100 mails/s, its 250s at p99 1.3 s. Here writers queue
in the event loop instead, in order, and a mail's commit (`urgent`) goes
before every waiting delivery write: the sink took 180 mails/s, p99 0.2 s.

Then the gate itself was the bottleneck (busy 90% of the time): each of
about ten small transactions a series costs in delivery (a settle, a post
record) held it for several trips through the busy event loop, and delivery
fell 15 s behind the sink. `shared` puts the small writes that queue up
meanwhile, every channel's, into one transaction and one turn of the gate:
posts stay about a second behind (p99 1.3 s) while the sink takes what the
CPU left (about 95 mails/s on 2 cores, bench/load.py).
In a shared transaction each statement was a trip to the database thread
and back through the busy loop, with the gate held. Writes made with
`execute` of the same (cached, parameterised) statement that queue one after
another now go as one executemany: a turn of the gate carries tens of settles
and post records in a few trips.
PostgreSQL locks rows, not the database: no gate there, and no sharing.

    async with store.writes.begin() as conn: ...               # bookkeeping
    async with store.writes.begin(urgent=True) as conn: ...    # mail being acknowledged
    await store.writes.execute(q)                             # a small write, committed with others
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy import Executable
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

log = logging.getLogger(__name__)

T = TypeVar("T")
Work = Callable[[AsyncConnection], Awaitable[Any]]
SHARED_MAX = 200  # small writes in one shared transaction, at most


@dataclass(frozen=True, eq=False)
class Statement:
    """A shared write that is one statement (`Writes.execute`)."""

    statement: Executable
    rows: list[dict[str, Any]]  # its parameters: none, one set, or several (executemany)

    def run_key(self) -> tuple[int, tuple[str, ...]]:
        """Equal for writes that one executemany can carry: the same statement object, the same keys."""
        return id(self.statement), tuple(sorted(self.rows[0]))

    async def __call__(self, conn: AsyncConnection) -> None:
        if len(self.rows) > 1:
            await conn.execute(self.statement, self.rows)
        else:
            await conn.execute(self.statement, self.rows[0] if self.rows else None)


def _units(batch: list[tuple[Work, asyncio.Future[Any]]]) -> list[tuple[Work, int]]:
    """The calls that run the batch, in order, each with how many of its
    writes it stands for: consecutive `Statement`s that one executemany can
    carry are merged into one."""
    units: list[tuple[Work, int]] = []
    for work, _ in batch:
        last = units[-1][0] if units else None
        if (
            isinstance(work, Statement) and work.rows
            and isinstance(last, Statement) and last.rows and last.run_key() == work.run_key()
        ):
            merged = last if units[-1][1] > 1 else Statement(last.statement, list(last.rows))  # never the caller's list
            merged.rows.extend(work.rows)
            units[-1] = (merged, units[-1][1] + 1)
        else:
            units.append((work, 1))
    return units


class WriteGate:
    """A lock handed to the next urgent waiter first, then in arrival order."""

    def __init__(self) -> None:
        self._busy = False
        self._urgent: deque[asyncio.Future[None]] = deque()
        self._waiting: deque[asyncio.Future[None]] = deque()

    @contextlib.asynccontextmanager
    async def hold(self, *, urgent: bool = False) -> AsyncIterator[None]:
        if self._busy:
            turn: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            (self._urgent if urgent else self._waiting).append(turn)
            try:
                await turn
            except asyncio.CancelledError:
                if turn.done() and not turn.cancelled():  # handed over as it was cancelled: pass it on
                    self._hand_over()
                raise  # (a cancelled turn stays queued; `_hand_over` skips it)
        else:
            self._busy = True
        try:
            yield
        finally:
            self._hand_over()

    def _hand_over(self) -> None:
        for queue in (self._urgent, self._waiting):
            while queue:
                turn = queue.popleft()
                if not turn.done():
                    turn.set_result(None)  # still busy: the gate is theirs now
                    return
        self._busy = False

    @property
    def waiting(self) -> int:
        return sum(not t.done() for q in (self._urgent, self._waiting) for t in q)


class Writes:
    """The store's write transactions (`engine.begin()`, gated on SQLite)."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self.gate = WriteGate() if engine.dialect.name == "sqlite" else None
        self._shared: list[tuple[Work, asyncio.Future[Any]]] = []
        self._flusher: asyncio.Task[None] | None = None
        self.shared_commits = 0  # transactions `shared` made (for tests and figures)

    @contextlib.asynccontextmanager
    async def begin(self, *, urgent: bool = False) -> AsyncIterator[AsyncConnection]:
        if self.gate is None:
            async with self.engine.begin() as conn:
                yield conn
            return
        async with self.gate.hold(urgent=urgent), self.engine.begin() as conn:
            yield conn

    async def shared(self, work: Callable[[AsyncConnection], Awaitable[T]]) -> T:
        """`work(conn)` in a write transaction, returning once it is committed;
        on SQLite the transaction is shared with the other small writes queued
        meanwhile (every channel's delivery bookkeeping: one commit, one turn of
        the gate, for many). `work` must only run statements on `conn`. If the
        shared commit fails, each work is tried again alone, so one bad write
        does not fail the others."""
        if self.gate is None:
            async with self.begin() as conn:
                return await work(conn)
        done: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        self._shared.append((work, done))
        if self._flusher is None:
            self._flusher = asyncio.create_task(self._flush(), name="shared-writes")
        # Shielded: committed or not, a cancelled caller leaves the others' writes alone.
        return await asyncio.shield(done)

    async def execute(
        self, statement: Executable, params: dict[str, Any] | list[dict[str, Any]] | None = None
    ) -> None:
        """One statement (for a list of parameter sets, executemany), as
        `shared` writes it: a settle, a post record. Give one statement object,
        built once with bound parameters, for many writes, and those queued one
        after another run as one executemany."""
        rows = [] if params is None else [params] if isinstance(params, dict) else list(params)
        await self.shared(Statement(statement, rows))

    async def _flush(self) -> None:
        try:
            while self._shared:
                batch, self._shared = self._shared[:SHARED_MAX], self._shared[SHARED_MAX:]
                try:
                    async with self.begin() as conn:
                        results: list[Any] = []
                        for work, n in _units(batch):
                            results += [await work(conn)] * n
                except Exception:
                    log.warning("a shared write transaction of %d failed; each again alone", len(batch), exc_info=True)
                    for work, done in batch:
                        await self._alone(work, done)
                    continue
                self.shared_commits += 1
                for (_, done), result in zip(batch, results, strict=True):
                    if not done.done():
                        done.set_result(result)
        finally:
            self._flusher = None
            for _, done in self._shared:  # the loop is stopping: nobody waits for these
                if not done.done():
                    done.set_exception(RuntimeError("the store's writes were stopped"))
            self._shared.clear()

    async def _alone(self, work: Work, done: asyncio.Future[Any]) -> None:
        try:
            async with self.begin() as conn:
                result = await work(conn)
        except Exception as exc:
            if not done.done():
                done.set_exception(exc)
        else:
            if not done.done():
                done.set_result(result)
