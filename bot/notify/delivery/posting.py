"""Posting: a channel's pending deliveries, in event order, exactly once.

Each sink call's result is recorded before the next call (the card and thread
ids in `posts`, a patch's or alert's message id in `deliveries`), and every
create carries a nonce, so a delivery retried after a crash or an error
repeats nothing; past the nonce window, `once` finds what was already posted.
A delivery that only touches the card is left pending for the card editor
(`editing`), which settles it with the coalesced edit. When the series thread
cannot be used, patches go under the card (`fallback`); a 403 on the channel
itself parks it (`parking`, by the worker).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from bot.notify.delivery.cache import Lru, Recent
from bot.notify.delivery.cards import Cards
from bot.notify.delivery.failures import FailureLog
from bot.notify.delivery.fallback import FULL, PERMISSION, ThreadFallback
from bot.notify.delivery.once import OnceSender, nonce
from bot.notify.delivery.parking import Parking
from bot.notify.delivery.removal import Takedown, again
from bot.notify.delivery.routing import Subscriptions
from bot.notify.delivery.settle import Settle
from bot.notify.delivery.state import ChannelState, Progress
from bot.notify.models import Target
from bot.notify.render import render_alert, render_card, render_patch
from bot.notify.sink import ChannelGone, Forbidden, PermanentError, Sink, TransientError
from bot.notify.edits import patches_to_edit
from bot.series.models import Event, EventKind, PatchView, SeriesView
from bot.store import DeliveryRow, PostRow, Store
from bot.store import delivery as q
from bot.store import posted

log = logging.getLogger(__name__)

BATCH = 50
THREAD_ARCHIVED = 50083  # a locked thread refuses posts
TOO_MANY_THREADS = 160006


class Poster:
    def __init__(
        self,
        store: Store,
        sink: Sink,
        subscriptions: Subscriptions,
        recent: Recent,
        cards: Cards,
        failures: FailureLog,
        progress: Progress,
        parking: Parking,
        fallback: ThreadFallback,
        once: OnceSender,
        settle: Settle,
        takedown: Takedown,
    ) -> None:
        self.store = store
        self.sink = sink
        self.subscriptions = subscriptions
        self.recent = recent
        self.cards = cards
        self.failures = failures
        self.progress = progress
        self.parking = parking
        self.fallback = fallback
        self.once = once
        self.settle = settle
        self.takedown = takedown
        self._wanted: Lru[tuple[int, int], tuple[SeriesView, int, bool]] = Lru()

    async def post_pending(self, ch: ChannelState) -> None:
        """Post the channel's pending deliveries in order, or wait for a nudge."""
        if ch.parked:
            await self.parking.hold(ch)
            return
        ch.nudge.clear()
        skip = ch.owed() | ch.held_back
        batch = await q.pending_for_channel(self.store, ch.channel_id, limit=BATCH, skip=skip)
        if not batch:
            ch.waiting = True
            try:
                await self.progress.changed()  # quiet now: idle, or to be handed over (`worker`)
                await ch.nudge.wait()
            finally:
                ch.waiting = False
            ch.held_back.clear()  # woken: the settle window may be over, look again
            return
        await self.recent.prefetch([d.event_id for d in batch])
        for d in await self._in_thread_order(batch):
            if await self._held_back(ch, d):
                ch.held_back.add(d.event_id)
                await self.progress.changed()
                continue
            ch.current = d
            await self._deliver(ch, d)
            ch.current = None
            ch.verify = False  # recorded: nothing of this channel is in doubt
            ch.last_delivery = asyncio.get_running_loop().time()
            await self.progress.changed()
        if ch.dirty:
            ch.edit_nudge.set()

    async def _in_thread_order(self, batch: list[DeliveryRow]) -> list[DeliveryRow]:
        """The batch with each series' patches in index order, at the place of
        the series' first delivery in it (vger reorders; threads read 1..N)."""
        keys: dict[int, tuple[int, int, int, int]] = {}
        first: dict[int, int] = {}
        for pos, d in enumerate(batch):
            event = await self.recent.event(d.event_id)
            if event is None:
                keys[d.event_id] = (pos, 0, 0, pos)
                continue
            group = first.setdefault(event.series_id, pos)
            slot = _patch_slot(event)
            keys[d.event_id] = (group, 0 if slot is None else 1, slot or 0, pos)
        return sorted(batch, key=lambda d: keys[d.event_id])

    async def _held_back(self, ch: ChannelState, d: DeliveryRow) -> bool:
        """A patch whose lower patches are not all posted here yet waits for
        them, until the series' quiet window ends (`settle`)."""
        event = await self.recent.event(d.event_id)
        slot = None if event is None else _patch_slot(event)
        if event is None or slot is None or slot <= 1 or d.discord_message_id is not None:
            return False
        if not self.settle.gap_holds(event.series_id):
            return False
        posted = await self._posted(ch, event.series_id)
        if all(j in posted for j in range(1, slot)):
            return False
        series = await self.recent.series(event.series_id)
        return series is not None and self._wants_patch(event, series, d.channel_id)

    def _wants_patch(self, event: Event, series: SeriesView, channel_id: int) -> bool:
        """Whether the channel still takes this patch in the series thread. Once
        per view of the series: during a backlog every held patch is looked at
        again at each nudge, and routing runs the filters over every file."""
        key = (series.series_id, channel_id)
        cached = self._wanted.get(key)
        if cached is not None and cached[0] is series and cached[1] == self.subscriptions.reads:
            return cached[2]
        target = self.subscriptions.target(event, series, channel_id)
        wanted = target is not None and target.patch  # the same for every patch event of the series
        self._wanted.put(key, (series, self.subscriptions.reads, wanted))
        return wanted

    async def _posted(self, ch: ChannelState, series_id: int) -> set[int]:
        posted = ch.posted_slots.get(series_id)
        if posted is None:
            posted = ch.posted_slots[series_id] = await q.posted_patch_slots(self.store, series_id, ch.channel_id)
        return posted

    async def count_failed_try(self, ch: ChannelState) -> None:
        """A transient failure interrupted the current delivery: count the try."""
        d, ch.current = ch.current, None
        if d is not None:
            with contextlib.suppress(Exception):  # bookkeeping only; the store may be down too
                await q.begin_attempt(self.store, d.event_id, d.channel_id)

    async def _deliver(self, ch: ChannelState, d: DeliveryRow) -> None:
        event = await self.recent.event(d.event_id)
        series = None
        if event is not None:
            series = await self.recent.series_for(event)
        if event is None or series is None:
            await self.failures.fail(d, "event or series no longer stored")
            return
        target = self.subscriptions.target(event, series, d.channel_id)
        if await self.takedown.due(series, target, d.channel_id):
            # The series stopped matching here: its card comes down (`removal`).
            series, target, removed = await self.takedown.run(ch, d, event, series)
            if removed:
                await self._refresh_neighbours(ch, series)  # they linked to the card that went
                if target is None:
                    return  # recorded as removed with the rest of the series' deliveries here
        if target is None:
            # Where a subscription remains, the series no longer matches it: as
            # taken down (routed there again, the delivery is owed again).
            status = q.REMOVED if d.channel_id in self.subscriptions.card_channels() else "done"
            await q.settle(self.store, d.event_id, d.channel_id, status, error="no longer routed here")
            return
        try:
            await self._post(ch, d, event, series, target)
        except (ChannelGone, TransientError):
            raise
        except PermanentError as err:
            await self.failures.fail(d, str(err))

    async def _post(self, ch: ChannelState, d: DeliveryRow, event: Event, series: SeriesView, target: Target) -> None:
        if event.kind is EventKind.VERSION_CHANGED and not target.alert:
            have = await self.cards.get(series.series_id, target.channel_id)
            if have is None or have.card_message_id is None:
                # Another version changed: that alone posts no card here (an
                # old version's card, back-filled quietly, stays unposted).
                await q.settle(self.store, d.event_id, d.channel_id, "done", attempted=True)
                return
        post: PostRow | None = None
        if target.card or target.patch:
            post = await self._ensure_card(ch, series, target)
        if target.patch and post is not None and d.discord_message_id is None:
            patch = _patch_of(series, event)
            if patch is not None:
                key = nonce("patch", event.event_id, target.channel_id, *again(post))
                mid, where = await self._post_patch(ch, series, patch, post, key)
                await q.settle(self.store, d.event_id, d.channel_id, "pending", discord_message_id=mid, posted_in=where)
                slot = _patch_slot(event)
                if slot is not None:
                    (await self._posted(ch, series.series_id)).add(slot)
                    ch.held_back.clear()  # a patch they waited for may be this one
        if target.alert and d.discord_message_id is None:
            mid = await self._alert(ch, event, series, target)
            await q.settle(
                self.store, d.event_id, d.channel_id, "pending", discord_message_id=mid, posted_in=target.channel_id
            )
        if target.card:
            ch.dirty_at.setdefault(series.series_id, asyncio.get_running_loop().time())
            ch.dirty.setdefault(series.series_id, set()).add(d.event_id)
            if edits := patches_to_edit(event, series):
                ch.dirty_patches.setdefault(series.series_id, set()).update(edits)
        else:
            await q.settle(self.store, d.event_id, d.channel_id, "done", attempted=True)

    async def _alert(self, ch: ChannelState, event: Event, series: SeriesView, target: Target) -> int:
        """The stable alert's message: one per fix. A re-post of a fix already
        alerted here (another version of the same patch) edits that alert to
        the newest posting and pings no one; its message id is recorded again."""
        patch = _patch_of(series, event)
        repost = event.data.get("repost_of")
        earlier = await posted.alert_message(self.store, repost, target.channel_id) if isinstance(repost, str) else None
        if earlier is not None:
            if series.superseded_by is None:
                try:
                    await self.sink.edit(
                        target.channel_id, earlier, render_alert(series, None, patch, reposted=True)
                    )
                except ChannelGone:
                    raise
                except PermanentError as err:  # e.g. someone deleted the alert: it stays recorded
                    log.warning("channel %s: editing stable alert %s failed: %s", target.channel_id, earlier, err)
            return earlier
        role = None if isinstance(repost, str) else target.alert_role_id
        return await self.once.send(
            ch,
            target.channel_id,
            render_alert(series, role, patch, reposted=isinstance(repost, str)),
            nonce=nonce("alert", event.event_id, target.channel_id),
        )

    async def _post_patch(
        self, ch: ChannelState, series: SeriesView, patch: PatchView, post: PostRow, key: str
    ) -> tuple[int, int]:
        """In the series thread; under the card when the thread cannot be used.
        Returns the message and where it went (the thread or the channel)."""
        rendered = render_patch(series, patch)
        thread = post.thread_id
        if thread is not None and thread not in ch.dead_threads and self.fallback.usable(ch):
            try:
                mid = await self.once.send(ch, thread, rendered, nonce=key)
                self.cards.patch_hashes.put((thread, mid), rendered.digest())
                return mid, thread
            except Forbidden as err:
                if err.no_access:
                    raise  # the channel itself: park it
                await self.fallback.block(ch, PERMISSION, err)  # no SEND_MESSAGES_IN_THREADS
            except ChannelGone as err:
                log.warning("channel %s: thread %s is gone (%s): its patches go under the card",
                            ch.channel_id, thread, err)
                ch.dead_threads.add(thread)
            except PermanentError as err:
                if err.code not in (THREAD_ARCHIVED, TOO_MANY_THREADS):
                    raise
                log.warning("channel %s: thread %s refuses posts (%s): this patch goes under the card",
                            ch.channel_id, thread, err)
        # Refused requests created nothing, so the nonce is still unused.
        mid = await self.once.send(ch, post.channel_id, rendered, nonce=key, reply_to=post.card_message_id)
        return mid, post.channel_id

    async def _ensure_card(self, ch: ChannelState, series: SeriesView, target: Target) -> PostRow:
        """The series' card in the channel (and its thread, if wanted and possible), posted if missing."""
        sid, cid = series.series_id, target.channel_id
        post = await self.cards.get(sid, cid)
        if post is None or post.card_message_id is None:
            card = render_card(series, await self.cards.links(series, cid), with_thread=target.threads)
            mid = await self.once.send(ch, cid, card, nonce=nonce("card", sid, cid, *again(post)))
            post = await self.cards.save(
                PostRow(series_id=sid, channel_id=cid, card_message_id=mid, thread_id=None, rendered_hash=card.digest(),
                        removals=0 if post is None else post.removals)
            )
            await self._refresh_neighbours(ch, series)
        if target.threads and post.thread_id is None and post.card_message_id is not None and self.fallback.usable(ch):
            card = render_card(series, with_thread=True)
            name = card.thread_name or f"series {sid}"
            try:
                tid = await self.sink.start_thread(cid, post.card_message_id, name)
            except Forbidden as err:
                if err.no_access:
                    raise
                await self.fallback.block(ch, PERMISSION, err)  # no CREATE_PUBLIC_THREADS
                return post
            except PermanentError as err:
                if err.code != TOO_MANY_THREADS:
                    raise
                await self.fallback.block(ch, FULL, err)
                return post
            post = await self.cards.save(post.model_copy(update={"thread_id": tid, "thread_name": name}))
            await self.fallback.threads_work(ch)
        return post


    async def _refresh_neighbours(self, ch: ChannelState, series: SeriesView) -> None:
        """A new card: the cards of its previous and next versions here link to
        it now, not to lore (out of order, they may have been rendered before
        it was posted). Owed an edit with no delivery of their own."""
        now = asyncio.get_running_loop().time()
        for other in (series.supersedes, series.superseded_by):
            if other is None or other in ch.dirty:
                continue
            post = await self.cards.get(other, ch.channel_id)
            if post is not None and post.card_message_id is not None:
                ch.dirty[other] = set()
                ch.dirty_at.setdefault(other, now)


def _patch_slot(event: Event) -> int | None:
    """The slot of a patch (not cover) event, else None."""
    slot = event.data.get("slot")
    if event.kind is EventKind.PATCH_ADDED and isinstance(slot, int) and slot > 0:
        return slot
    return None


def _patch_of(series: SeriesView, event: Event) -> PatchView | None:
    return next((p for p in series.patches if p.message_id == event.message_id), None)
