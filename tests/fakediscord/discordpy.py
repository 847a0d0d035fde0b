"""Point unmodified discord.py at a fake (and put it back)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import TYPE_CHECKING

import discord
import discord.gateway
import discord.http
import yarl

if TYPE_CHECKING:
    from .server import FakeDiscord


@contextmanager
def pointed_at(fake: FakeDiscord) -> Iterator[None]:
    """Route every REST call and the first gateway connection of discord.py to `fake`."""
    old_base = discord.http.Route.BASE
    old_gateway = discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY
    discord.http.Route.BASE = fake.api_base_url
    discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(fake.gateway_url)
    try:
        yield
    finally:
        discord.http.Route.BASE = old_base
        discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = old_gateway


@asynccontextmanager
async def running(
    fake: FakeDiscord, client: discord.Client, token: str = "fake-token", timeout: float = 10.0
) -> AsyncIterator[discord.Client]:
    """Log `client` in to `fake`, connect, and yield once it is ready (GUILD_CREATEs seen).

    Give the client `guild_ready_timeout=0.05`, or `on_ready` comes 2 s after the last
    GUILD_CREATE. On exit the client is closed and its connect task awaited.
    """
    with pointed_at(fake):
        await client.login(token)  # before wait_for: discord.py binds its loop at login
        ready = asyncio.ensure_future(client.wait_for("ready", timeout=timeout))
        runner = asyncio.create_task(client.connect())
        try:
            done, _ = await asyncio.wait({ready, runner}, return_when=asyncio.FIRST_COMPLETED)
            if ready not in done:
                ready.cancel()
                runner.result()  # raises the connect error
                raise RuntimeError("discord.py stopped before READY")
            ready.result()  # raises TimeoutError if READY never came
            yield client
        finally:
            await client.close()
            await runner
