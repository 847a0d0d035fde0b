"""Point unmodified discord.py at a fake (and put it back)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

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
