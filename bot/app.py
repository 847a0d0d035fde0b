"""The service: one event loop running the store, the SMTP sink, the lore poller
and the delivery workers.

    app = App(settings)
    await app.start()          # store open, sink listening, poller and workers running
    ...
    await app.stop()           # stop accepting, finish in-flight commits, stop workers

Delivery workers plug in through `WorkerStarter`: an async callable
`(settings, store) -> Worker` (e.g. `bot.delivery.DeliveryService.start`).
A worker is woken with `wake()` after every commit that produced events, and
stopped last.
"""

from __future__ import annotations

import asyncio
import functools
import gc
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Protocol

from bot.config import Settings
from bot.ingest.gitimport import ImportChunk
from bot.ingest.groupcommit import GroupCommit
from bot.ingest.poller import Poller
from bot.ingest.listmail import ListMailInfo
from bot.ingest.record import RawMail
from bot.ingest.smtp import MailMeta, SmtpSink
from bot.ingest.verify import Verifier
from bot.observe.metrics import Metrics
from bot.series.window import Window
from bot.store import IngestStats, Store
from bot.store.delivery import backfill_source
from bot.store.outbox import delivered_after, outbox_status
from bot.store.runlock import RunLock

if TYPE_CHECKING:
    from bot.shared import Tracking

if TYPE_CHECKING:
    from bot.observe.http import MetricsServer

log = logging.getLogger(__name__)

STOP_GRACE = 30.0  # seconds a poll may take to finish its chunk at shutdown


class Worker(Protocol):
    def wake(self) -> None: ...

    async def stop(self) -> None: ...


WorkerStarter = Callable[[Settings, Store], Awaitable[Worker]]


def delivery_workers(metrics: Metrics | None = None) -> list[WorkerStarter]:
    """The workers every service runs: Discord delivery (preview without a token)."""
    from bot.delivery import DeliveryService

    return [functools.partial(DeliveryService.start, metrics=metrics)]


def _identify(raw: bytes) -> tuple[str, datetime | None]:
    """(Message-ID, Date) of a mail, as the store's parser reads them (verify mode)."""
    from bot.mail import parse_mail

    parsed = parse_mail(raw)
    return parsed.message_id, parsed.date


class App:
    def __init__(
        self, settings: Settings, *, workers: Sequence[WorkerStarter] | None = None, metrics: Metrics | None = None
    ) -> None:
        self.settings = settings
        self.metrics = metrics or Metrics()  # given: shared with workers started elsewhere (tests)
        self._starters = list(delivery_workers(self.metrics) if workers is None else workers)
        self.workers: list[Worker] = []
        self._store: Store | None = None
        self._run_lock: RunLock | None = None
        self.tracking: Tracking | None = None  # PostgreSQL: tracker or standby (bot.shared)
        self.metrics_server: MetricsServer | None = None
        self._last_commit_error: str | None = None  # the last SMTP commit's failure, until one succeeds
        self._delivered_mark = datetime.now(timezone.utc)  # deliveries after this are not yet in the histogram
        self.sink: SmtpSink | None = None
        self.poller: Poller | None = None
        self.verifier: Verifier | None = None  # the poller's verify mode (bot.ingest.verify)
        self._poll_task: asyncio.Task[None] | None = None
        self.stats = IngestStats()  # mails taken in since start, by every path
        self._smtp_commits: GroupCommit[tuple[bytes, str]] = GroupCommit(self._commit_smtp)

    @property
    def store(self) -> Store:
        if self._store is None:
            raise RuntimeError("the app is not started")
        return self._store

    # ------------------------------------------------------------ ingestion paths

    def wake_workers(self) -> None:
        for worker in self.workers:
            worker.wake()

    async def deliver(self, raw: bytes, meta: MailMeta) -> None:
        """The SMTP sink's callback: returns once the mail is committed.

        Mails arriving together share a transaction (group commit)."""
        await self._smtp_commits.submit((raw, meta.source_ref))

    async def keep_list_mail(self, raw: bytes, meta: MailMeta, info: ListMailInfo) -> None:
        """The sink's callback for list-management mail: kept for the operator, not tracked."""
        await self.store.keep_list_mail(
            raw, kind=str(info.kind), mail_from=meta.mail_from, sender=info.sender, subject=info.subject,
            source_ref=meta.source_ref, received_at=meta.received_at,
        )
        self.metrics.list_mail.labels(kind=str(info.kind)).inc()

    async def _take(self, mails: list[tuple[bytes, str | None]], source: str) -> IngestStats:
        """Track mails here, or (another process tracks) commit them to its inbox."""
        if self.tracking is None:
            return await self._ingest_here(mails, source)
        async with self.tracking.order:
            if await self.tracking.take_mail(mails, source):
                return IngestStats(read=len(mails))
            await self.tracking.drain()  # mail other processes took before this one
            return await self._ingest_here(mails, source)

    async def _ingest_here(self, mails: list[tuple[bytes, str | None]], source: str) -> IngestStats:
        got = await self.store.ingest_many(mails, source=source)
        if got.events and self.tracking is not None:
            await self.tracking.events_committed()  # other processes' workers wake on it
        return got

    async def _ingest_taken(self, mails: list[tuple[bytes, str | None]], source: str) -> None:
        """Mails another process took (the inbox), now tracked here."""
        self._add(await self._ingest_here(mails, source), "smtp" if source == "smtp" else source)

    async def _commit_smtp(self, mails: list[tuple[bytes, str]]) -> None:
        start = time.perf_counter()
        try:
            got = await self._take(list(mails), "smtp")
        except Exception as exc:
            self._last_commit_error = f"{type(exc).__name__}: {exc}".splitlines()[0]
            raise
        finally:
            self.metrics.smtp_commit.observe(time.perf_counter() - start)
        self._last_commit_error = None
        self._add(got, "smtp")

    async def import_chunk(self, mails: list[RawMail], *, source: str = "lore") -> None:
        """The poller's callback: one bulk commit for a chunk of archive mails."""
        self._add(await self._take([(m.data, m.ref) for m in mails], source), source)

    async def _import_verified(self, mails: list[RawMail], announce: bool) -> None:
        await self.import_chunk(mails, source="lore" if announce else backfill_source("lore"))

    async def import_history(self, mails: list[RawMail]) -> None:
        """The poller's first import: the archive's past, stored but not announced."""
        await self.import_chunk(mails, source=backfill_source("lore"))

    def _add(self, got: IngestStats, source: str) -> None:
        for name in ("read", "new", "duplicates", "variants", "unparsed", "series_created", "events"):
            setattr(self.stats, name, getattr(self.stats, name) + getattr(got, name))
        self.metrics.count_ingest(source, got.read, got.duplicates, got.variants, got.unparsed)
        if got.events:
            self.wake_workers()

    # ------------------------------------------------------------ health and metrics

    async def _check_store(self) -> str | None:
        if self._store is None:
            return "not open"
        if self._store.file_problem is not None:
            return self._store.file_problem
        if self._last_commit_error is not None:
            return f"the last SMTP commit failed: {self._last_commit_error}"
        async with asyncio.timeout(5):
            await self._store.get_cursor("health")  # one read: the database answers
        return None

    async def _check_sink(self) -> str | None:
        if self.sink is None:
            return "not listening"
        if self.sink.handler.closing:
            return "shutting down"
        return None

    async def refresh_metrics(self) -> None:
        """The gauges and the delivery histogram from the store's rows (at each scrape)."""
        status = await outbox_status(self.store)
        self.metrics.outbox_pending.set(status.pending)
        oldest = 0.0 if status.oldest is None else (datetime.now(timezone.utc) - status.oldest).total_seconds()
        self.metrics.outbox_oldest_age.set(max(oldest, 0.0))
        for done, seconds in await delivered_after(self.store, self._delivered_mark):
            self.metrics.delivery_latency.observe(seconds)
            self._delivered_mark = done

    # ------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        s = self.settings
        window = Window(days=s.tracker.window_days, max_series=s.tracker.window_max_series or None)
        self._store = await Store.open(s.store.url, schema=s.store.pg_schema, window=window)
        try:
            if self._store.engine.dialect.name == "sqlite":
                # A second service on this database refuses to start (bot.store.runlock).
                self._run_lock = await RunLock.acquire(self._store.engine)
            else:  # any number share PostgreSQL; one tracks at a time (bot.shared)
                from bot.shared import Tracking

                self.tracking = await Tracking.start(self._store, self._ingest_taken)
        except BaseException:
            await self._store.close()
            self._store = None
            raise
        # The tracker index is large and lives as long as the process: keep the
        # cyclic GC from rescanning it (its full passes stalled SMTP replies).
        gc.freeze()
        try:
            for starter in self._starters:
                self.workers.append(await starter(s, self._store))
            # Events committed before this start (or by an `ingest` run) are owed too.
            self.wake_workers()
            if s.poller.enabled:
                if not s.poller.url:
                    raise ValueError("poller.enabled needs poller.url")
                news: ImportChunk = self.import_chunk
                if s.poller.verify:
                    self.verifier = Verifier(
                        self._store.known_message_ids, self._import_verified, _identify,
                        recent=timedelta(hours=s.poller.verify_recent_hours),
                        count_gaps=self.metrics.verify_gaps.inc,
                    )
                    news = self.verifier.import_chunk
                self.poller = Poller(
                    s.poller.url,
                    s.poller.mirror,
                    import_chunk=news,
                    import_history=self.import_history,
                    load_cursor=self._store.get_cursor,
                    save_cursor=self._store.set_cursor,
                    interval=s.poller.interval_seconds,
                )
                self._poll_task = asyncio.create_task(self.poller.run(), name="lore-poller")
            self.sink = SmtpSink(s.smtp, self.deliver, keep_list_mail=self.keep_list_mail)
            await self.sink.start()
            if s.metrics.port is not None:
                from bot.observe.http import MetricsServer  # aiohttp.web only when serving metrics

                self.metrics_server = MetricsServer(
                    self.metrics, {"store": self._check_store, "sink": self._check_sink},
                    refresh=self.refresh_metrics, host=s.metrics.host, port=s.metrics.port,
                )
                await self.metrics_server.start()
        except BaseException:
            await self.stop()
            raise

    async def stop(self) -> None:
        """Stop taking mail in (sink, poller), let commits finish, then stop workers."""
        if self.metrics_server is not None:
            await self.metrics_server.stop()
            self.metrics_server = None
        if self.sink is not None:
            await self.sink.stop()
            self.sink = None
        if self.poller is not None and self._poll_task is not None:
            self.poller.stop()  # ends after the chunk being committed
            done, _ = await asyncio.wait({self._poll_task}, timeout=STOP_GRACE)
            if not done:  # stuck in a network fetch: nothing to commit there
                self._poll_task.cancel()
                await asyncio.gather(self._poll_task, return_exceptions=True)
            self._poll_task = None
        for worker in reversed(self.workers):
            try:
                await worker.stop()
            except Exception:
                log.exception("stopping a worker failed")
        self.workers.clear()
        if self.tracking is not None:
            await self.tracking.stop()  # its own connection: give the lock up before the engine goes
            self.tracking = None
        if self._run_lock is not None:  # its PostgreSQL connection comes from the store's engine
            await self._run_lock.release()
            self._run_lock = None
        if self._store is not None:
            await self._store.close()
            self._store = None

    async def run(self, stop: asyncio.Event) -> None:
        """Start, serve until `stop` is set, stop cleanly."""
        await self.start()
        try:
            await stop.wait()
        finally:
            await self.stop()
