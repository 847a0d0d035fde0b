"""When a series thread cannot be used, its patches go under the card instead.

A channel where the bot may post but not use threads (no CREATE_PUBLIC_THREADS
or SEND_MESSAGES_IN_THREADS: a common misconfiguration), a guild at its
active-thread limit (160006), a thread someone locked (50083) or deleted: the
card stays live and each patch is posted in the channel as a reply to it.

Missing permissions are told to the channel's admins once (the store keeps
that it was said, across restarts), and not retried on every event: the
channel's threads stay blocked until its permissions change (or the process
restarts). A full guild is retried after `full_retry` seconds.
"""

from __future__ import annotations

import asyncio
import logging

from bot.notify.delivery.once import OnceSender, nonce
from bot.notify.delivery.state import ChannelState
from bot.notify.notices import no_threads_notice
from bot.notify.sink import DeliveryError
from bot.store import Store

log = logging.getLogger(__name__)

PERMISSION = "missing thread permissions"
FULL = "too many active threads in the server"
TOLD = "told"


def _notice_cursor(channel_id: int) -> str:
    return f"notice.no-threads.{channel_id}"


class ThreadFallback:
    def __init__(self, store: Store, once: OnceSender, *, full_retry: float = 600.0) -> None:
        self.store = store
        self.once = once
        self.full_retry = full_retry

    def usable(self, ch: ChannelState) -> bool:
        if ch.threads_blocked is None:
            return True
        until = ch.threads_blocked_until
        if until is not None and asyncio.get_running_loop().time() >= until:
            ch.threads_blocked = ch.threads_blocked_until = None
            return True
        return False

    async def block(self, ch: ChannelState, why: str, error: DeliveryError) -> None:
        """Stop using threads in the channel; patches go under their cards."""
        first = ch.threads_blocked is None
        ch.threads_blocked = why
        ch.threads_blocked_until = (
            asyncio.get_running_loop().time() + self.full_retry if why == FULL else None
        )
        if first:
            log.warning("channel %s: %s (%s): patches go under their cards", ch.channel_id, why, error)
        if why == PERMISSION:
            await self._tell_once(ch)

    async def _tell_once(self, ch: ChannelState) -> None:
        if await self.store.get_cursor(_notice_cursor(ch.channel_id)) == TOLD:
            return
        post = no_threads_notice()
        await self.once.send(ch, ch.channel_id, post, nonce=nonce("notice", "no-threads", ch.channel_id))
        await self.store.set_cursor(_notice_cursor(ch.channel_id), TOLD)
        log.warning("channel %s: told its admins that threads are missing", ch.channel_id)

    async def threads_work(self, ch: ChannelState) -> None:
        """A thread could be started: if admins were told otherwise, a new problem may be told again."""
        if await self.store.get_cursor(_notice_cursor(ch.channel_id)) == TOLD:
            await self.store.set_cursor(_notice_cursor(ch.channel_id), "")

    @staticmethod
    def permissions_changed(ch: ChannelState) -> None:
        if ch.threads_blocked == PERMISSION:
            ch.threads_blocked = ch.threads_blocked_until = None
