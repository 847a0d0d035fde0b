"""Where rendered posts go: Discord or the preview writer, behind one protocol.

The delivery worker only sees `Sink` and these errors, so preview mode runs
through exactly the same routing and exactly-once bookkeeping as Discord.
What the chat side learns on its own (a channel deleted, permissions changed)
comes back through `DeletedChannels` and `PermissionChanges`.
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


MISSING_ACCESS = 50001
MISSING_PERMISSIONS = 50013


class Forbidden(DeliveryError):
    """403: no access to the channel (50001) or a permission missing (50013).

    No fault of the message, and usually fixed by an admin: the delivery is
    parked until permissions change, never failed for good."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code

    @property
    def no_access(self) -> bool:
        return self.code == MISSING_ACCESS


class Sink(Protocol):
    async def send(self, channel_id: int, post: Post, *, nonce: str, reply_to: int | None = None) -> int:
        """Post a message; returns its id. `nonce` makes a retried send idempotent
        (for a few minutes); `reply_to` hangs it under that message of the channel."""
        ...

    async def find_own(self, channel_id: int, footer: str) -> int | None:
        """Our latest message in the channel whose first embed's footer is `footer`
        (what a post is: a card, patch k/N, an alert), if the sink can look; for a
        send whose outcome is unknown after the nonce window has passed."""
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

    # Taking a card down (the series stopped matching the channel). Each is
    # safe to repeat: what is already gone is no error.

    async def delete_message(self, channel_id: int, message_id: int) -> bool:
        """Delete one of our messages; False if it was already gone. Raises
        ChannelGone when the channel (or thread) itself is gone."""
        ...

    async def delete_thread(self, thread_id: int) -> bool:
        """Delete a thread and every message in it; False if it was already
        gone. Forbidden without Manage Threads."""
        ...

    async def archive_thread(self, thread_id: int) -> None:
        """Archive a thread we started (its creator may, without Manage Threads)."""
        ...


class PermissionChanges:
    """Channels whose permissions may have changed (overwrites, roles, the bot's
    member): the Discord client reports, the worker retries what it parked there.
    None stands for "anywhere in a guild" (a role change)."""

    def __init__(self) -> None:
        self._queue: asyncio.Queue[int | None] = asyncio.Queue()

    def report(self, channel_id: int | None) -> None:
        self._queue.put_nowait(channel_id)

    async def next(self) -> int | None:
        return await self._queue.get()


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
