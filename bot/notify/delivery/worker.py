"""The delivery worker: routing, posting and card edits as one restartable service.

    worker = DeliveryWorker(store, sink)
    await worker.start()
    worker.wake()                  # after each commit that produced events
    await worker.wait_idle(30)     # every event routed, every delivery settled
    await worker.stop()

One routing task for the whole worker; two tasks per channel (posting, card
edits), each supervised: transient faults and our own errors back off and
retry, keeping the channel's order, until the channel is gone; a 403 parks
the channel (`parking`) until permissions change, a timer or a retry by hand.
With `claims` (several processes on one PostgreSQL, `claims`), a channel's
loops run only in the process that claimed it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable

from bot.notify.delivery.cache import Recent
from bot.notify.delivery.cards import Cards
from bot.notify.delivery.claims import ChannelClaims
from bot.notify.delivery.editing import CardEditor
from bot.notify.delivery.failures import FailureLog
from bot.notify.delivery.fallback import ThreadFallback
from bot.notify.delivery.once import OnceSender
from bot.notify.delivery.parking import Parking
from bot.notify.delivery.posting import Poster
from bot.notify.delivery.removal import Takedown
from bot.notify.delivery.routing import Router, Subscriptions
from bot.notify.delivery.settle import Clock, Settle
from bot.notify.delivery.state import ChannelState, Progress
from bot.notify.sink import ChannelGone, DeletedChannels, Forbidden, PermissionChanges, Sink, TransientError
from bot.store import DeliveryRow, Store
from bot.store import delivery as q

log = logging.getLogger(__name__)


class DeliveryWorker:
    def __init__(
        self,
        store: Store,
        sink: Sink,
        *,
        preview: bool = False,
        coalesce_delay: float = 0.3,
        max_edit_delay: float = 2.0,
        backoff: tuple[float, float] = (0.5, 30.0),
        on_failure: Callable[[DeliveryRow, str], None] | None = None,
        deleted: DeletedChannels | None = None,
        permission_changes: PermissionChanges | None = None,
        park_retry: float = 600.0,
        park_sweep: float = 10.0,
        claims: ChannelClaims | None = None,
        settle_seconds: float = 0.0,
        clock: Clock = time.time,
    ) -> None:
        self.store = store
        self.claims = claims
        self.backoff = backoff
        self.deleted = deleted
        self.permission_changes = permission_changes
        self.subscriptions = Subscriptions(store, preview=preview)
        recent = Recent(store)
        cards = Cards(store, sink, self.subscriptions, recent)
        self._failures = FailureLog(store, on_failure)
        self._progress = Progress()
        self.parking = Parking(store, self._progress, retry_after=park_retry, sweep=park_sweep)
        once = OnceSender(sink)
        self.fallback = ThreadFallback(store, once, full_retry=park_retry)
        self.settle = Settle(store, seconds=settle_seconds, clock=clock)
        self.router = Router(store, self.subscriptions, recent, self.settle)
        self.poster = Poster(
            store, sink, self.subscriptions, recent, cards, self._failures, self._progress,
            self.parking, self.fallback, once, self.settle,
            Takedown(store, sink, self.subscriptions, recent, cards, self.router),
        )
        self.editor = CardEditor(
            store, sink, recent, cards, self._failures, self._progress,
            coalesce_delay=coalesce_delay, max_edit_delay=max_edit_delay,
        )
        self._wake = asyncio.Event()
        self._channels: dict[int, ChannelState] = {}
        self._tasks: list[asyncio.Task[None]] = []  # routing, and the watch on deleted channels

    @property
    def failures(self) -> deque[tuple[DeliveryRow, str]]:
        """The latest deliveries that failed for good, for status."""
        return self._failures.latest

    # ------------------------------------------------------------ lifecycle

    def wake(self) -> None:
        """Events were committed: route them (safe to call from any coroutine, often)."""
        self._wake.set()

    async def start(self) -> None:
        """Load what is owed and start the loops; the store must answer (raises if not:
        nothing is started then, and start may be called again)."""
        await self.subscriptions.load()
        # A start is a retry: what was parked before is tried once more.
        if unparked := await q.unpark(self.store):
            log.info("retrying %d parked deliveries", unparked)
        for channel_id in await q.pending_channels(self.store):
            self._channel(channel_id).nudge.set()
        self._wake.set()
        self._tasks.append(asyncio.create_task(self._route_loop(), name="notify-route"))
        if self.claims is not None:
            self._tasks.append(asyncio.create_task(self.claims.run(self._claimed, self._lost, self._release), name="notify-claims"))
            self._tasks.append(asyncio.create_task(self._hand_over_loop(self.claims), name="notify-hand-over"))
        self._tasks.append(asyncio.create_task(
            self.parking.watch(lambda: self._channels.values(), self._channel), name="notify-parked"
        ))
        if self.deleted is not None:
            self._tasks.append(asyncio.create_task(self._watch_deleted(self.deleted), name="notify-deleted"))
        if self.permission_changes is not None:
            self._tasks.append(asyncio.create_task(
                self.parking.follow(self.permission_changes, lambda: self._channels), name="notify-permissions"
            ))

    async def stop(self) -> None:
        tasks = list(self._tasks)
        tasks += [t for c in self._channels.values() for t in c.tasks()]
        for t in tasks:
            t.cancel()
        for t in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await t

    async def wait_idle(self, timeout: float | None = None) -> None:
        """Until every committed event is routed and every delivery settled."""
        self._wake.set()  # events committed just now may not have woken us yet
        await asyncio.wait_for(self._progress.until(self._is_idle), timeout)

    async def wait_settled(self, timeout: float | None = None) -> None:
        """Until every event is routed and every delivery done or failed: none
        pending, none parked (wait_idle returns while a channel is parked)."""
        self._wake.set()
        await asyncio.wait_for(self._progress.until(self._is_settled), timeout)

    async def wait_quiet(self, timeout: float | None = None) -> None:
        """Until every committed event is routed and every delivery settled but
        the patches a settle window holds back (`settle`): what a clock that is
        moved by hand must wait for before it moves."""
        self._wake.set()
        await asyncio.wait_for(self._progress.until(self._is_quiet), timeout)

    async def _is_quiet(self) -> bool:
        # What memory answers first: this is checked after every step of every loop.
        if self.settle.due():
            return False
        if any(ch.dirty or ch.editing or ch.current is not None for ch in self._channels.values()):
            return False
        if await q.routed_upto(self.store) < await self.store.last_event_id():
            return False
        held = sum(len(ch.held_back) for ch in self._channels.values())
        return await q.pending_count(self.store) == held

    async def _is_idle(self) -> bool:
        if self.settle.due():  # a held series' window is over: routing owes it
            return False
        upto = await q.routed_upto(self.store)
        return upto >= await self.store.last_event_id() and await q.pending_count(self.store) == 0

    async def _is_settled(self) -> bool:
        if self.settle.due():
            return False
        upto = await q.routed_upto(self.store)
        return upto >= await self.store.last_event_id() and await q.unsettled_count(self.store) == 0

    # ------------------------------------------------------------ routing

    async def _route_loop(self) -> None:
        while True:
            await self._sleep_until_woken()
            self._wake.clear()
            try:
                async for channels in self.router.route_pending():
                    for channel_id in channels:
                        self._channel(channel_id).nudge.set()
                if self.settle.active:
                    # A settle window may have ended: patches held back by a gap go now.
                    for ch in self._channels.values():
                        ch.nudge.set()
            except asyncio.CancelledError:
                raise
            except Exception:  # the store may be briefly unavailable: retry on the next wake
                log.exception("routing events failed; will retry")
                await asyncio.sleep(self.backoff[0])
                self._wake.set()
            await self._progress.changed()

    async def _sleep_until_woken(self) -> None:
        """Until woken, or until the next settle window ends (by the worker's clock)."""
        deadline = self.settle.next_deadline()
        if deadline is None:
            await self._wake.wait()
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), max(0.0, deadline - self.settle.clock()) + 0.01)

    # ------------------------------------------------------------ per channel

    def _channel(self, channel_id: int) -> ChannelState:
        ch = self._channels.get(channel_id)
        if ch is None:
            ch = self._channels[channel_id] = ChannelState(channel_id)
        if self.claims is not None and not self.claims.holds(channel_id):
            self.claims.want(channel_id)  # another process may deliver it; `_claimed` starts it here
            return ch
        if ch.task is None or ch.task.done():
            ch.task = asyncio.create_task(self._channel_loop(ch), name=f"notify-channel-{channel_id}")
        if ch.editor is None or ch.editor.done():
            ch.editor = asyncio.create_task(self._editor_loop(ch), name=f"notify-edits-{channel_id}")
        return ch

    def _claimed(self, channel_id: int) -> None:
        """This process now delivers the channel (another may have died mid-send)."""
        ch = self._channel(channel_id)
        ch.verify = True
        ch.nudge.set()

    def _lost(self, channel_ids: set[int]) -> None:
        """The claims are gone (connection lost): another process may take these channels."""
        for channel_id in channel_ids:
            ch = self._channels.pop(channel_id, None)
            for task in [] if ch is None else ch.tasks():
                task.cancel()

    def _release(self, n: int) -> set[int]:
        """Stop delivering up to `n` idle channels now and name them (another
        process takes them for an even share); as many more of those held as
        that falls short are marked to go the moment they are idle
        (`_hand_over_loop`), so a busy process does not depend on being idle
        at the instant of a sweep. `n` = 0 takes the marks back."""
        if self.claims is None:
            return set()
        held = sorted(c for c in self._channels if self.claims.holds(c))
        given = set([c for c in held if self._channels[c].idle()][:n])
        self._lost(given)
        busy = [c for c in held if c not in given]
        for i, c in enumerate(busy):
            self._channels[c].hand_over = i < n - len(given)
        return given

    async def _hand_over_loop(self, claims: ChannelClaims) -> None:
        """Give up each channel marked by `_release` once it is idle: checked
        and stopped in one step, so nothing can be pending there in between."""
        while True:
            await self._progress.until(self._hand_over_due)
            given = self._due_hand_overs()
            self._lost(given)
            try:
                await claims.give_up(given)
            except asyncio.CancelledError:
                raise
            except Exception:  # the claims connection is gone: its reconnect drops every lock anyway
                log.exception("giving up channels %s failed", sorted(given))
            await self._progress.changed()

    async def _hand_over_due(self) -> bool:
        return bool(self._due_hand_overs())

    def _due_hand_overs(self) -> set[int]:
        return {c for c, ch in self._channels.items() if ch.hand_over and ch.idle()}

    async def _channel_loop(self, ch: ChannelState) -> None:
        async def interrupted() -> None:
            ch.verify = True  # the send in flight may have reached Discord
            await self.poster.count_failed_try(ch)

        await self._supervised(ch, "delivery", lambda: self.poster.post_pending(ch), on_error=interrupted)

    async def _editor_loop(self, ch: ChannelState) -> None:
        await self._supervised(ch, "card edit", lambda: self.editor.edit_cards(ch))

    async def _supervised(
        self,
        ch: ChannelState,
        what: str,
        step: Callable[[], Awaitable[None]],
        on_error: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        """Run one of a channel's loops, `step` after `step`, until the channel
        is gone: the sink's transient faults and our own errors back off
        (doubling, capped) and retry, so the channel's order is kept; a 403
        parks the channel."""
        delay = self.backoff[0]
        while True:
            try:
                await step()
                delay = self.backoff[0]
            except asyncio.CancelledError:
                raise
            except ChannelGone as gone:
                await self._channel_gone(ch, str(gone))
                return
            except Forbidden as err:
                ch.current = None
                await self._quietly(self.parking.park(ch, err), ch, what)
            except TransientError as err:
                log.warning("channel %s: %s: %s; retrying in %.1fs", ch.channel_id, what, err, delay)
                if on_error is not None:
                    await on_error()
                await asyncio.sleep(delay)
                delay = min(delay * 2, self.backoff[1])
            except Exception:  # a bug or the store: log, back off, keep the order
                log.exception("channel %s: %s failed; retrying in %.1fs", ch.channel_id, what, delay)
                if on_error is not None:
                    await on_error()
                await asyncio.sleep(delay)
                delay = min(delay * 2, self.backoff[1])

    async def _quietly(self, job: Awaitable[None], ch: ChannelState, what: str) -> None:
        """Bookkeeping that may meet a store outage: logged, and the loop goes on."""
        try:
            await job
        except Exception:
            log.exception("channel %s: %s: parking failed; retrying in %.1fs", ch.channel_id, what, self.backoff[0])
            await asyncio.sleep(self.backoff[0])

    async def _channel_gone(self, ch: ChannelState, reason: str) -> None:
        me = asyncio.current_task()
        for task in ch.tasks():
            if task is not me:
                task.cancel()
        disabled = await self.store.disable_channel(ch.channel_id, reason)
        failed = await q.fail_channel(self.store, ch.channel_id, f"channel gone: {reason}")
        log.error("channel %s is gone (%s): %d subscriptions disabled, %d deliveries failed",
                  ch.channel_id, reason, disabled, failed)
        ch.forget_edits()
        await self.subscriptions.load()
        await self._progress.changed()

    async def channel_deleted(self, channel_id: int) -> None:
        """The chat side saw the channel deleted: stop posting there."""
        await self._channel_gone(self._channels.get(channel_id) or ChannelState(channel_id), "channel deleted")

    async def _watch_deleted(self, deleted: DeletedChannels) -> None:
        while True:
            channel_id = await deleted.next()
            try:
                await self.channel_deleted(channel_id)
            except Exception:  # the store may be down: the next post there finds the channel gone anyway
                log.exception("stopping delivery to deleted channel %s failed", channel_id)
