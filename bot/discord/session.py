"""The bot's connection to Discord: REST login, retried while Discord is unreachable, then the gateway beside.

Discord may be down when the service starts: mail keeps being stored
meanwhile, and delivery starts once logged in.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

import aiohttp
import discord

from bot.discord.client import PatchBot

log = logging.getLogger(__name__)


def _gateway_ended(task: asyncio.Task[None]) -> None:
    # discord.py gives up on some close codes (bad token, disallowed intents):
    # posting goes on over REST, but slash commands and channel events stop.
    if not task.cancelled() and (exc := task.exception()) is not None:
        log.error("the Discord gateway stopped (%s): slash commands and channel events are off", exc, exc_info=exc)


class DiscordSession:
    def __init__(self, client: PatchBot, token: str, *, backoff: tuple[float, float] = (0.5, 30.0)) -> None:
        self.client = client
        self._token = token
        self.backoff = backoff
        self._gateway: asyncio.Task[None] | None = None

    async def login(self) -> bool:
        """Log in, retrying transient failures; False if Discord refused the token."""
        delay = self.backoff[0]
        while True:
            try:
                await self.client.login(self._token)
                return True
            except discord.LoginFailure:
                log.error("Discord refused the token: nothing will be delivered until it is fixed")
                return False
            except (discord.DiscordServerError, aiohttp.ClientError, OSError, asyncio.TimeoutError) as exc:
                log.warning("Discord login failed (%s); retrying in %.1fs", exc, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, self.backoff[1])

    def connect_gateway(self) -> None:
        """REST works from login on; the gateway (slash commands, channel deletes) runs beside."""
        self._gateway = asyncio.create_task(self.client.connect(reconnect=True), name="discord-gateway")
        self._gateway.add_done_callback(_gateway_ended)

    async def close(self) -> None:
        await self.client.close()
        if self._gateway is not None:
            self._gateway.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._gateway
