"""Several `kvm-patchbot run` processes on one PostgreSQL: who tracks.

Every process runs a sink. Tracking (grouping mail into series, emitting
events) must see mail one at a time against one index, so exactly one process
tracks: the holder of a session advisory lock keyed to the database and schema
(`bot.store.pgsession`). The others commit what they take to the inbox
(`bot.store.inbox`) before answering 250, and NOTIFY; the tracker takes the
inbox in id (arrival) order. The others try the lock every `retry` seconds and
on every NOTIFY, so when the tracker dies (its connection closes, PostgreSQL
drops its lock) another takes over within about `retry` seconds; its index
is reloaded first because the store's mail watermark moved (`Store._sync_index`).

After every commit that produced events the tracker NOTIFYs `events`; every
process's delivery workers listen for it (bot.delivery).

SQLite stays one process (`bot.store.runlock`): there is no server to share.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

from bot.store import Store
from bot.store import inbox
from bot.store.pgsession import PgSession

log = logging.getLogger(__name__)

INBOX, EVENTS = "inbox", "events"  # the NOTIFYs: mail in the inbox, events committed
RETRY = 1.0  # seconds between a standby's tries for the tracking lock
TAKE = 200  # inbox mails per ingest: below Store POOL_MIN, no parse processes are started for it

Ingest = Callable[[list[tuple[bytes, str | None]], str], Awaitable[None]]


class Tracking:
    """This process's role: tracker or standby, and the loop that moves between them."""

    def __init__(self, store: Store, session: PgSession, ingest: Ingest, *, retry: float = RETRY) -> None:
        self.store = store
        self.session = session
        self.ingest = ingest  # the app's path to `Store.ingest_many` (stats, metrics, wakes)
        self.retry = retry
        self.key = session.key("tracking")
        self.tracking = False
        self._kick = asyncio.Event()
        # Mail is tracked in arrival order: what other processes put in the inbox
        # before a mail came in here is tracked before it (held across both).
        self.order = asyncio.Lock()
        self._task: asyncio.Task[None] | None = None

    @classmethod
    async def start(cls, store: Store, ingest: Ingest, *, retry: float = RETRY) -> Tracking:
        session = await PgSession.open(store.engine)
        try:
            me = cls(store, session, ingest, retry=retry)
            await session.listen(INBOX, me._kick.set)
            await me._try_to_track()
        except BaseException:
            await session.close()
            raise
        me._task = asyncio.create_task(me._loop(), name="tracking")
        return me

    async def _try_to_track(self) -> None:
        if not self.tracking and (await self.session.try_locks([self.key]))[0]:
            self.tracking = True
            log.info("this process tracks new mail (it holds the tracking lock)")

    async def take_mail(self, mails: list[tuple[bytes, str | None]], source: str) -> bool:
        """A sink's or poller's mails: False if this process tracks (ingest them
        yourself), else committed to the inbox and the tracker told."""
        if self.tracking:
            return False
        await inbox.add(self.store, mails, source=source)
        with contextlib.suppress(Exception):  # committed already; the tracker polls too
            await self.session.notify(INBOX)
        return True

    async def events_committed(self) -> None:
        with contextlib.suppress(Exception):  # delivery workers also sweep on their own
            await self.session.notify(EVENTS)

    async def _loop(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.retry):
                    await self._kick.wait()
            self._kick.clear()
            try:
                if not await self.session.ping():
                    if self.tracking:
                        log.error("lost the tracking lock with the PostgreSQL connection; reconnecting")
                    self.tracking = False
                    await self._reconnect()
                    continue
                await self._try_to_track()
                if self.tracking:
                    async with self.order:
                        await self.drain()
            except asyncio.CancelledError:
                raise
            except Exception:  # the store may be briefly down: next round
                log.exception("tracking round failed; retrying")

    async def _reconnect(self) -> None:
        with contextlib.suppress(Exception):
            await self.session.close()
        self.session = await PgSession.open(self.store.engine)
        await self.session.listen(INBOX, self._kick.set)

    async def drain(self) -> None:
        """Ingest the inbox, oldest first; each mail's row goes once it is stored.
        Hold `order`."""
        while self.tracking and (waiting := await inbox.take(self.store, limit=TAKE)):
            run: list[inbox.Waiting] = []
            for w in waiting:
                if run and run[-1].source != w.source:
                    await self._ingest(run)
                    run = []
                run.append(w)
            await self._ingest(run)

    async def _ingest(self, run: list[inbox.Waiting]) -> None:
        await self.ingest([(w.raw, w.source_ref) for w in run], run[0].source)
        await inbox.drop(self.store, [w.id for w in run])

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        await self.session.close()
        self.tracking = False
