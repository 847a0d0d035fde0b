"""Where rendered posts go: Discord or the preview writer, behind one protocol.

The delivery worker only sees `Sink` and these errors, so preview mode runs
through exactly the same routing and exactly-once bookkeeping as Discord.
What the chat side learns on its own (a channel deleted) comes back through
`DeletedChannels`.
"""

from __future__ import annotations

import asyncio
from typing import Protocol

from bot.notify.models import Post


class DeliveryError(Exception):
    """A Discord call did not succeed."""


class TransientError(DeliveryError):
    """Worth retrying later, in order: 5xx, connection errors, outages."""


class PermanentError(DeliveryError):
    """Discord refused for good (50035 invalid form, 50013 missing permissions, ...)."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code


class ChannelGone(PermanentError):
    """The channel no longer exists (10003): its subscriptions are disabled."""


class Sink(Protocol):
    async def send(self, channel_id: int, post: Post, *, nonce: str) -> int:
        """Post a message; returns its id. `nonce` makes a retried send idempotent."""
        ...

    async def edit(self, channel_id: int, message_id: int, post: Post) -> None: ...

    async def start_thread(self, channel_id: int, message_id: int, name: str) -> int:
        """Start (or find the existing) thread on a message; returns the thread id."""
        ...

    async def rename_thread(self, thread_id: int, name: str) -> None:
        """The series got a better title (its cover arrived after its patches)."""
        ...

    def message_url(self, guild_id: int | None, channel_id: int, message_id: int) -> str | None:
        """A link to a message, when the sink has one (Discord does, preview does not)."""
        ...


class DeletedChannels:
    """Channels the chat side saw deleted (Discord's CHANNEL_DELETE), in order.

    The Discord client reports into it and the delivery worker reads from it,
    so neither holds the other."""

    def __init__(self) -> None:
        self._queue: asyncio.Queue[int] = asyncio.Queue()

    def report(self, channel_id: int) -> None:
        self._queue.put_nowait(channel_id)

    async def next(self) -> int:
        return await self._queue.get()
