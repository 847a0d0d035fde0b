"""Delivery as one service the app starts: Discord when a token is set, else preview.

    delivery = await DeliveryService.start(settings, store)
    ...  # after each committed ingest: delivery.wake()
    await delivery.stop()
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import IO

from bot.config import Settings
from bot.discord.worker import DeliveryWorker
from bot.notify.preview import PreviewSink
from bot.notify.sink import Sink
from bot.store import Store
from bot.store import delivery as q

log = logging.getLogger(__name__)


class DeliveryService:
    def __init__(self, worker: DeliveryWorker, client: object | None = None) -> None:
        self.worker = worker
        self.client = client
        self._gateway: asyncio.Task[None] | None = None
        self._login: asyncio.Task[None] | None = None

    @property
    def preview(self) -> bool:
        return self.client is None

    @classmethod
    async def start(
        cls,
        settings: Settings,
        store: Store,
        *,
        stream: IO[str] | None = None,
        coalesce_delay: float = 0.3,
        backoff: tuple[float, float] = (0.5, 30.0),
    ) -> DeliveryService:
        """Sync the config's subscriptions, connect (or preview), start delivering."""
        added, kept, removed = await store.sync_config(list(settings.subscriptions))
        if added or removed:
            log.info("subscriptions from config: %d added, %d kept, %d removed", added, kept, removed)
        token = settings.discord.token.get_secret_value() if settings.discord.token else None
        sink: Sink
        if token is None:
            sink = PreviewSink(settings.discord.preview_file, stream)
            worker = DeliveryWorker(store, sink, preview=True, coalesce_delay=coalesce_delay, backoff=backoff)
            service = cls(worker)
            log.info("no Discord token: preview mode, posts go to the console and %s", settings.discord.preview_file)
        else:
            from bot.discord.client import make_client  # discord.py only when used
            from bot.discord.sender import DiscordSink

            worker_box: list[DeliveryWorker] = []

            async def gone(channel_id: int) -> None:
                await worker_box[0].channel_deleted(channel_id)

            async def status() -> str:
                counts = await q.count_by_status(store)
                return "kvm-patchbot deliveries: " + (
                    ", ".join(f"{n} {s}" for s, n in sorted(counts.items())) or "none yet"
                )

            client = make_client(settings.discord, on_channel_gone=gone, status=status)
            sink = DiscordSink(client, thread_archive_minutes=settings.discord.thread_auto_archive_minutes)
            worker = DeliveryWorker(store, sink, coalesce_delay=coalesce_delay, backoff=backoff)
            worker_box.append(worker)
            service = cls(worker, client)
            # Discord may be down at start-up: mail keeps being stored and the
            # outbox drains once logged in.
            service._login = asyncio.create_task(service._connect(token, backoff), name="discord-login")
            return service
        await worker.start()
        return service

    async def _connect(self, token: str, backoff: tuple[float, float]) -> None:
        import aiohttp
        import discord

        client = self.client
        assert isinstance(client, discord.Client)
        delay = backoff[0]
        while True:
            try:
                await client.login(token)
                break
            except discord.LoginFailure:
                log.error("Discord refused the token: nothing will be delivered until it is fixed")
                return
            except (discord.DiscordServerError, aiohttp.ClientError, OSError, asyncio.TimeoutError) as exc:
                log.warning("Discord login failed (%s); retrying in %.1fs", exc, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, backoff[1])
        # REST works from login on; the gateway (slash commands, channel deletes) runs beside.
        self._gateway = asyncio.create_task(client.connect(reconnect=True), name="discord-gateway")
        await self.worker.start()

    def wake(self) -> None:
        self.worker.wake()

    async def wait_idle(self, timeout: float | None = None) -> None:
        await self.worker.wait_idle(timeout)

    async def stop(self) -> None:
        if self._login is not None:
            self._login.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._login
        await self.worker.stop()
        if self.client is not None:
            await self.client.close()  # type: ignore[attr-defined]
        if self._gateway is not None:
            self._gateway.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._gateway
