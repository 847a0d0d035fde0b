"""Write transactions: on SQLite one at a time in this process, ingest first.

SQLite has one writer. Without a gate, a transaction that finds the write
lock taken is put to sleep by SQLite's busy handler in growing steps (1, 2,
5, 10 ... 100 ms), and under load every channel's delivery bookkeeping
competes with the sink's commit, which holds the SMTP 250 of every mail in
its batch. On `bench/load.py` (200 mails/s asked) the sink's commits waited
so that it took about 100 mails/s, its 250s at p99 1.3 s. Here writers queue
in the event loop instead, in order, and a mail's commit (`urgent`) goes
before every waiting delivery write: the sink took 180 mails/s, p99 0.2 s.
PostgreSQL locks rows, not the database: no gate there.

    async with store.writes.begin() as conn: ...               # bookkeeping
    async with store.writes.begin(urgent=True) as conn: ...    # mail being acknowledged
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import AsyncIterator

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine


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

    @contextlib.asynccontextmanager
    async def begin(self, *, urgent: bool = False) -> AsyncIterator[AsyncConnection]:
        if self.gate is None:
            async with self.engine.begin() as conn:
                yield conn
            return
        async with self.gate.hold(urgent=urgent), self.engine.begin() as conn:
            yield conn
