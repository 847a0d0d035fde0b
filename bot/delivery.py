"""Delivery as one service the app starts: Discord when a token is set, else preview.

    delivery = await DeliveryService.start(settings, store)
    ...  # after each committed ingest: delivery.wake()
    await delivery.stop()

Above both `notify` (the worker, which sees only a `Sink`) and `discord` (the
client and its sink): choosing the sink is the app's decision.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import IO, TYPE_CHECKING

from bot.config import Settings
from bot.notify.delivery.claims import ChannelClaims, Shards
from bot.notify.delivery.settle import Clock
from bot.notify.delivery.worker import DeliveryWorker
from bot.notify.preview import PreviewSink
from bot.notify.sink import DeletedChannels, PermissionChanges
from bot.observe.metrics import Metrics
from bot.shared import EVENTS
from bot.store import Store

if TYPE_CHECKING:
    from bot.discord.client import PatchBot
    from bot.discord.session import DiscordSession

log = logging.getLogger(__name__)


def _log_failure(task: asyncio.Task[None]) -> None:
    """A background task that died says so: a silent one delivers nothing and tells nobody."""
    if not task.cancelled() and (exc := task.exception()) is not None:
        log.error("%s stopped: %s", task.get_name(), exc, exc_info=exc)


class DeliveryService:
    def __init__(
        self, worker: DeliveryWorker, session: DiscordSession | None = None, *, backoff: tuple[float, float] = (0.5, 30.0)
    ) -> None:
        self.worker = worker
        self.claims = worker.claims
        self.session = session
        self.backoff = backoff
        self._login: asyncio.Task[None] | None = None
        self._listening = False  # the claims' connection follows NOTIFYs of new events

    @property
    def preview(self) -> bool:
        return self.session is None

    @property
    def client(self) -> PatchBot | None:
        return None if self.session is None else self.session.client

    @classmethod
    async def start(
        cls,
        settings: Settings,
        store: Store,
        *,
        stream: IO[str] | None = None,
        coalesce_delay: float = 0.3,
        backoff: tuple[float, float] = (0.5, 30.0),
        park_retry: float | None = None,
        park_sweep: float = 10.0,
        metrics: Metrics | None = None,
        clock: Clock = time.time,
    ) -> DeliveryService:
        """Sync the config's subscriptions, connect (or preview), start delivering;
        `metrics` counts the Discord API's answers.

        park_retry: seconds before a channel Discord refused (403) is tried again
        without a permission change (default: `discord.park_retry_seconds`);
        park_sweep: how often the worker looks for a `kvm-patchbot deliveries
        retry` asked by hand; `clock` (epoch seconds) times the routing
        settle window (`routing.settle_seconds`)."""
        added, kept, removed = await store.sync_config(list(settings.subscriptions))
        if added or removed:
            log.info("subscriptions from config: %d added, %d kept, %d removed", added, kept, removed)
        token = settings.discord.token.get_secret_value() if settings.discord.token else None
        claims = await cls._claims(settings, store)
        if token is None:
            sink = PreviewSink(settings.discord.preview_file, stream)
            worker = DeliveryWorker(
                store, sink, preview=True, coalesce_delay=coalesce_delay, backoff=backoff, claims=claims,
                settle_seconds=settings.routing.settle_seconds, clock=clock,
            )
            if claims is not None:
                await claims.listen(EVENTS, worker.wake)
            log.info("no Discord token: preview mode, posts go to the console and %s", settings.discord.preview_file)
            await worker.start()
            return cls(worker)
        return cls._discord(
            settings, store, token, coalesce_delay=coalesce_delay, backoff=backoff,
            park_retry=settings.discord.park_retry_seconds if park_retry is None else park_retry,
            park_sweep=park_sweep, metrics=metrics, claims=claims, clock=clock,
        )

    @staticmethod
    async def _claims(settings: Settings, store: Store) -> ChannelClaims | None:
        """On PostgreSQL, where other processes may deliver too: channel claims
        (bot.notify.delivery.claims), limited to this process's shards."""
        if store.engine.dialect.name != "postgresql":
            return None
        mine = settings.discord.my_shards()
        shards = None if mine is None else Shards(mine[0], frozenset(mine[1]))
        return await ChannelClaims.open(store, shards=shards)

    @classmethod
    def _discord(
        cls,
        settings: Settings,
        store: Store,
        token: str,
        *,
        coalesce_delay: float,
        backoff: tuple[float, float],
        park_retry: float,
        park_sweep: float,
        metrics: Metrics | None,
        claims: ChannelClaims | None,
        clock: Clock,
    ) -> DeliveryService:
        from bot.digest.source import StoreDigest
        from bot.discord.client import make_client  # discord.py only when used
        from bot.discord.sender import DiscordSink
        from bot.discord.session import DiscordSession

        deleted, changes = DeletedChannels(), PermissionChanges()
        extra = {} if metrics is None else {"http_trace": metrics.discord_trace()}
        client = make_client(
            settings, store, deleted=deleted, digest=StoreDigest(store), permission_changes=changes, **extra
        )
        sink = DiscordSink(client, thread_archive_minutes=settings.discord.thread_auto_archive_minutes)
        worker = DeliveryWorker(
            store, sink, coalesce_delay=coalesce_delay, backoff=backoff, deleted=deleted,
            permission_changes=changes, park_retry=park_retry, park_sweep=park_sweep, claims=claims,
            settle_seconds=settings.routing.settle_seconds, clock=clock,
        )
        service = cls(worker, DiscordSession(client, token, backoff=backoff), backoff=backoff)
        # Discord may be down at start-up: mail keeps being stored and the
        # outbox drains once logged in.
        service._login = asyncio.create_task(service._connect(), name="discord-login")
        service._login.add_done_callback(_log_failure)
        return service

    async def _connect(self) -> None:
        assert self.session is not None
        if not await self.session.login():
            return
        self.session.connect_gateway()
        # The store may be down right now: delivery starts once it answers.
        delay = self.backoff[0]
        while True:
            try:
                if self.claims is not None and not self._listening:
                    await self.claims.listen(EVENTS, self.worker.wake)
                    self._listening = True
                await self.worker.start()
                return
            except Exception:
                log.exception("starting delivery failed (is the store down?); retrying in %.1fs", delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, self.backoff[1])

    def wake(self) -> None:
        self.worker.wake()

    async def wait_idle(self, timeout: float | None = None) -> None:
        await self.worker.wait_idle(timeout)

    async def wait_settled(self, timeout: float | None = None) -> None:
        await self.worker.wait_settled(timeout)

    async def stop(self) -> None:
        if self._login is not None:
            self._login.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._login
        await self.worker.stop()
        if self.claims is not None:
            await self.claims.close()  # gives this process's channels up at once
        if self.session is not None:
            await self.session.close()
