"""Parking: a channel where Discord answers 403 waits, its deliveries kept.

A 403 (50001 no access, 50013 a permission missing) is no fault of the
message and an admin usually fixes it within minutes: failing the delivery
would drop it for good, and retrying with backoff would send a stream of
refused requests (Discord bans an IP after 10,000 401/403/429 answers in ten
minutes). So the channel is parked: its pending deliveries are marked
`parked` in the store (new ones as they are routed), no request is sent
there, and it is tried again

* when the chat side reports a permission change (`PermissionChanges`: a
  channel's overwrites, a role, the bot's member),
* `retry_after` seconds after it was parked,
* at start-up, and
* by hand: `kvm-patchbot deliveries retry [--channel C]` requeues in the store
  and leaves a note the running worker reads every `sweep` seconds.

One request per retry: if Discord still refuses, the channel parks again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Iterable, Mapping

from bot.notify.delivery.fallback import ThreadFallback
from bot.notify.delivery.state import ChannelState, Progress
from bot.notify.sink import Forbidden, PermissionChanges
from bot.store import Store
from bot.store import delivery as q

log = logging.getLogger(__name__)


class Parking:
    def __init__(
        self, store: Store, progress: Progress, *, retry_after: float = 600.0, sweep: float = 10.0
    ) -> None:
        self.store = store
        self.progress = progress
        self.retry_after = retry_after
        self.sweep = sweep
        self._note: str | None = None  # the last retry note read from the store

    async def park(self, ch: ChannelState, err: Forbidden) -> None:
        """Discord refused: stop sending to the channel, keep what is owed there."""
        first = not ch.parked
        if first:
            ch.parked = True
            ch.parked_at = asyncio.get_running_loop().time()
            ch.unparked.clear()
        ch.parked_reason = f"parked: {err}"
        parked = await q.park_channel(self.store, ch.channel_id, ch.parked_reason)
        if first:
            log.warning(
                "channel %s: Discord refused (%s); %d deliveries parked until its permissions change "
                "(or `kvm-patchbot deliveries retry --channel %s`)",
                ch.channel_id, err, parked, ch.channel_id,
            )
        await self.progress.changed()

    async def hold(self, ch: ChannelState) -> None:
        """While the channel is parked: park what gets routed to it meanwhile, send nothing."""
        while ch.parked:
            ch.nudge.clear()
            unparked = asyncio.ensure_future(ch.unparked.wait())
            nudged = asyncio.ensure_future(ch.nudge.wait())
            try:
                await asyncio.wait({unparked, nudged}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                for f in (unparked, nudged):
                    f.cancel()
            if ch.parked and ch.nudge.is_set():
                if await q.park_channel(self.store, ch.channel_id, ch.parked_reason):
                    await self.progress.changed()

    async def unpark(self, ch: ChannelState, why: str) -> None:
        """Try the channel again: its parked deliveries are pending once more."""
        if not ch.parked:
            return
        ch.parked = False
        count = await q.unpark(self.store, ch.channel_id)
        log.info("channel %s: %s; retrying %d parked deliveries", ch.channel_id, why, count)
        ch.unparked.set()
        ch.nudge.set()
        ch.edit_nudge.set()
        await self.progress.changed()

    async def unpark_all(self, channels: Iterable[ChannelState], why: str) -> None:
        for ch in list(channels):
            await self.unpark(ch, why)

    async def follow(self, changes: PermissionChanges, channels: Callable[[], Mapping[int, ChannelState]]) -> None:
        """The chat side saw permissions change: retry what was parked, use threads again."""
        while True:
            channel_id = await changes.next()
            known = channels()
            targets = list(known.values()) if channel_id is None else [known[channel_id]] if channel_id in known else []
            for ch in targets:
                ThreadFallback.permissions_changed(ch)
                try:
                    await self.unpark(ch, "permissions changed")
                except Exception:  # the store may be down: the timer retries later
                    log.exception("retrying parked deliveries of channel %s failed", ch.channel_id)

    async def watch(self, channels: Callable[[], Iterable[ChannelState]], lookup: Callable[[int], ChannelState]) -> None:
        """The timer and the note `deliveries retry` leaves; runs for the worker's life."""
        self._note = await self._read_note()
        while True:
            await asyncio.sleep(self.sweep)
            try:
                await self._sweep(channels, lookup)
            except Exception:  # the store may be down: the next sweep tries again
                log.exception("checking parked deliveries failed")

    async def _sweep(self, channels: Callable[[], Iterable[ChannelState]], lookup: Callable[[int], ChannelState]) -> None:
        now = asyncio.get_running_loop().time()
        for ch in list(channels()):
            if ch.parked and now - ch.parked_at >= self.retry_after:
                await self.unpark(ch, f"parked for {self.retry_after:.0f}s")
        for channel_id in await q.parked_channels(self.store):
            ch = lookup(channel_id)
            if not ch.parked:  # parked by an earlier run (its start could not requeue them)
                await q.unpark(self.store, channel_id)
                ch.nudge.set()
        note = await self._read_note()
        if note and note != self._note:
            self._note = note
            target = q.retry_note_channel(note)
            if target is None:
                await self.unpark_all(channels(), "retry requested by hand")
                named = await q.pending_channels(self.store)
            else:
                await self.unpark(lookup(target), "retry requested by hand")
                named = [target]
            for channel_id in named:  # requeued in the store: make sure their loops look
                lookup(channel_id).nudge.set()

    async def _read_note(self) -> str | None:
        with contextlib.suppress(Exception):
            return await self.store.get_cursor(q.RETRY_CURSOR)
        return None
