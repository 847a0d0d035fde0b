"""The delivery worker: routes committed events and posts them, exactly once, in order.

Two stages, both restartable from the store alone:

1. routing: events after the routing cursor become delivery rows, one per
   (event, channel), in the same transaction that advances the cursor;
2. one task per channel posts that channel's pending deliveries in event
   order. Each Discord call's result (card/thread ids in `posts`, a message id
   in `deliveries`) is recorded before the next call, and creates carry a
   nonce Discord de-duplicates, so a retry after a crash or an error repeats
   nothing. Transient failures (5xx, outage, connection) back off and retry
   the same delivery, keeping order; Discord's 429s are waited out by
   discord.py's own rate limiter. Permanent refusals are recorded as failed
   and logged; a deleted channel disables its subscriptions.

Card edits coalesce, in a second task per channel so they never hold up new
posts: a delivery that only changes the card stays pending until the channel
is quiet for `coalesce_delay` (or an edit has been owed for `max_edit_delay`
under steady traffic), then the card is edited once to the latest render
(skipped when the render hash is unchanged) and those deliveries are settled
together.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from bot.discord.cache import Lru
from bot.notify.models import Subscription, Target
from bot.notify.render import (
    CardLinks,
    VersionLink,
    render_alert,
    render_card,
    render_patch,
    series_url,
    version_label,
)
from bot.notify.route import PREVIEW_ALL, route
from bot.notify.sink import ChannelGone, PermanentError, Sink, TransientError
from bot.series.models import Event, PatchView, SeriesView
from bot.store import DeliveryRow, PostRow, Store
from bot.store import delivery as q

log = logging.getLogger(__name__)

ROUTE_BATCH = 500
# Subscriptions change rarely (CLI, slash commands, a deleted channel): re-read at most this often.
SUBSCRIPTIONS_TTL = 2.0

def nonce(*parts: object) -> str:
    """Discord nonces are at most 25 characters: a hash of what makes a post unique."""
    return hashlib.sha1(":".join(map(str, parts)).encode()).hexdigest()[:25]


@dataclass
class _Channel:
    channel_id: int
    nudge: asyncio.Event = field(default_factory=asyncio.Event)
    # series id -> event ids whose card edit is still owed (deliveries left pending).
    dirty: dict[int, set[int]] = field(default_factory=dict)
    task: asyncio.Task[None] | None = None
    current: DeliveryRow | None = None  # the delivery being attempted (for counting failed tries)
    dirty_at: dict[int, float] = field(default_factory=dict)  # series id -> loop time first owed
    editing: set[int] = field(default_factory=set)  # event ids of the card edits in flight
    last_delivery: float = 0.0  # loop time of the last delivery (quiet detection)
    edit_nudge: asyncio.Event = field(default_factory=asyncio.Event)
    editor: asyncio.Task[None] | None = None

    def owed(self) -> set[int]:
        return {e for events in self.dirty.values() for e in events} | self.editing

    def tasks(self) -> list[asyncio.Task[None]]:
        return [t for t in (self.task, self.editor) if t is not None]


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
    ) -> None:
        self.store = store
        self.sink = sink
        self.preview = preview
        self.coalesce_delay = coalesce_delay
        self.max_edit_delay = max_edit_delay
        self.backoff = backoff
        self.on_failure = on_failure
        self._wake = asyncio.Event()
        self._changed = asyncio.Condition()
        self._channels: dict[int, _Channel] = {}
        self._subs: list[Subscription] = []
        self._routed: int | None = None  # routing cursor, once read
        self._subs_read = float("-inf")  # loop time the subscriptions were last read
        # Read-through caches; this worker is the only writer of posts.
        self._events: Lru[int, Event] = Lru()
        self._views: Lru[int, SeriesView] = Lru()
        self._posts: Lru[tuple[int, int], PostRow] = Lru()
        self._task: asyncio.Task[None] | None = None
        self.failures: deque[tuple[DeliveryRow, str]] = deque(maxlen=100)  # the latest, for status

    # ------------------------------------------------------------ lifecycle

    def wake(self) -> None:
        """Events were committed: route them (safe to call from any coroutine, often)."""
        self._wake.set()

    async def start(self) -> None:
        await self._load_subscriptions()
        for channel_id in await q.pending_channels(self.store):
            self._channel(channel_id).nudge.set()
        self._wake.set()
        self._task = asyncio.create_task(self._route_loop(), name="notify-route")

    async def stop(self) -> None:
        tasks = [t for t in (self._task,) if t is not None]
        tasks += [t for c in self._channels.values() for t in c.tasks()]
        for t in tasks:
            t.cancel()
        for t in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await t

    async def wait_idle(self, timeout: float | None = None) -> None:
        """Until every committed event is routed and every delivery settled."""

        async def idle() -> None:
            self._wake.set()  # events committed just now may not have woken us yet
            async with self._changed:
                while not await self._is_idle():
                    await self._changed.wait()

        await asyncio.wait_for(idle(), timeout)

    async def _is_idle(self) -> bool:
        upto = await q.routed_upto(self.store)
        return upto >= await self.store.last_event_id() and await q.pending_count(self.store) == 0

    async def _notify(self) -> None:
        async with self._changed:
            self._changed.notify_all()

    # ------------------------------------------------------------ routing

    async def _load_subscriptions(self, *, fresh: bool = True) -> None:
        now = asyncio.get_running_loop().time()
        if not fresh and now - self._subs_read < SUBSCRIPTIONS_TTL:
            return
        self._subs_read = now
        subs = await self.store.list_subscriptions()
        # The routing fields of each stored row (its bookkeeping stays behind).
        enabled = [Subscription.model_validate(s, from_attributes=True) for s in subs if s.enabled]
        # A user with no configuration at all still sees every card in preview.
        self._subs = [PREVIEW_ALL] if self.preview and not subs else enabled

    async def _route_loop(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            try:
                await self._route_pending()
            except asyncio.CancelledError:
                raise
            except Exception:  # the store may be briefly unavailable: retry on the next wake
                log.exception("routing events failed; will retry")
                await asyncio.sleep(self.backoff[0])
                self._wake.set()
            await self._notify()

    async def _route_pending(self) -> None:
        await self._load_subscriptions(fresh=False)
        if self._routed is None:
            self._routed = await q.routed_upto(self.store)
        while events := await self.store.events_after(self._routed, limit=ROUTE_BATCH):
            views: dict[int, SeriesView | None] = {}
            rows: list[tuple[int, int, int | None]] = []
            quiet = await q.backfilled(self.store, list({e.message_id for e in events}))
            for event in events:
                assert event.event_id is not None
                if event.message_id in quiet:
                    continue
                if event.series_id not in views:
                    # Read after the event was committed: at least as new as the event.
                    views[event.series_id] = view = await self.store.get_series(event.series_id)
                    if view is not None:
                        self._views.put(event.series_id, view)
                series = views[event.series_id]
                if series is not None:
                    self._events.put(event.event_id, event)
                    rows += [(event.event_id, t.channel_id, t.subscription_id) for t in route(event, series, self._subs)]
            upto = events[-1].event_id or self._routed
            await q.queue_routed(self.store, rows, upto)
            self._routed = upto
            for channel_id in {c for _, c, _ in rows}:
                self._channel(channel_id).nudge.set()

    # ------------------------------------------------------------ per channel

    def _channel(self, channel_id: int) -> _Channel:
        ch = self._channels.get(channel_id)
        if ch is None:
            ch = self._channels[channel_id] = _Channel(channel_id)
        if ch.task is None or ch.task.done():
            ch.task = asyncio.create_task(self._channel_loop(ch), name=f"notify-channel-{channel_id}")
        if ch.editor is None or ch.editor.done():
            ch.editor = asyncio.create_task(self._editor_loop(ch), name=f"notify-edits-{channel_id}")
        return ch

    async def _supervised(
        self,
        ch: _Channel,
        what: str,
        step: Callable[[], Awaitable[None]],
        on_transient: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        """Run one of a channel's loops, `step` after `step`, until the channel
        is gone: Discord's transient faults and our own errors back off
        (doubling, capped) and retry, so the channel's order is kept."""
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
            except TransientError as err:
                log.warning("channel %s: %s: %s; retrying in %.1fs", ch.channel_id, what, err, delay)
                if on_transient is not None:
                    await on_transient()
                await asyncio.sleep(delay)
                delay = min(delay * 2, self.backoff[1])
            except Exception:  # a bug or the store: log, back off, keep the order
                log.exception("channel %s: %s failed; retrying in %.1fs", ch.channel_id, what, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, self.backoff[1])

    async def _channel_loop(self, ch: _Channel) -> None:
        await self._supervised(
            ch, "delivery", lambda: self._post_pending(ch), on_transient=lambda: self._count_failed_try(ch)
        )

    async def _post_pending(self, ch: _Channel) -> None:
        """Post the channel's pending deliveries in order, or wait for a nudge."""
        ch.nudge.clear()
        owed = ch.owed()
        batch = [
            d
            for d in await q.pending_for_channel(self.store, ch.channel_id, limit=50 + len(owed))
            if d.event_id not in owed
        ]
        if not batch:
            await ch.nudge.wait()
            return
        for d in batch:
            ch.current = d
            await self._deliver(ch, d)
            ch.current = None
            ch.last_delivery = asyncio.get_running_loop().time()
            await self._notify()
        if ch.dirty:
            ch.edit_nudge.set()

    async def _editor_loop(self, ch: _Channel) -> None:
        """Card edits, beside the posting loop so new posts never wait behind them."""
        await self._supervised(ch, "card edit", lambda: self._edit_cards(ch))

    async def _edit_cards(self, ch: _Channel) -> None:
        """Edits wait for the channel to be quiet for `coalesce_delay` (then every
        owed card is edited), or for a card to be stale (`_stale_cards`)."""
        if not ch.dirty:
            ch.edit_nudge.clear()
            await ch.edit_nudge.wait()
            return
        quiet_in = ch.last_delivery + self.coalesce_delay - asyncio.get_running_loop().time()
        if quiet_in <= 0:
            await self._flush_cards(ch)
        elif stale := self._stale_cards(ch):
            await self._flush_cards(ch, stale)
        else:
            await asyncio.sleep(min(quiet_in, self.coalesce_delay))  # a debounce timer
            return
        await self._notify()

    async def _count_failed_try(self, ch: _Channel) -> None:
        d, ch.current = ch.current, None
        if d is not None:
            with contextlib.suppress(Exception):  # bookkeeping only; the store may be down too
                await q.begin_attempt(self.store, d.event_id, d.channel_id)

    async def _channel_gone(self, ch: _Channel, reason: str) -> None:
        me = asyncio.current_task()
        for task in ch.tasks():
            if task is not me:
                task.cancel()
        disabled = await self.store.disable_channel(ch.channel_id, reason)
        failed = await q.fail_channel(self.store, ch.channel_id, f"channel gone: {reason}")
        log.error("channel %s is gone (%s): %d subscriptions disabled, %d deliveries failed",
                  ch.channel_id, reason, disabled, failed)
        ch.dirty.clear()
        ch.dirty_at.clear()
        ch.editing.clear()
        await self._load_subscriptions()
        await self._notify()

    async def channel_deleted(self, channel_id: int) -> None:
        """Discord said CHANNEL_DELETE: stop posting there."""
        await self._channel_gone(self._channels.get(channel_id) or _Channel(channel_id), "channel deleted")

    # ------------------------------------------------------------ one delivery

    async def _fail(self, d: DeliveryRow, error: str) -> None:
        await q.settle(self.store, d.event_id, d.channel_id, "failed", error=error, attempted=True)
        log.error("delivery of event %s to channel %s failed for good: %s", d.event_id, d.channel_id, error)
        self.failures.append((d, error))
        if self.on_failure is not None:
            self.on_failure(d, error)

    async def _deliver(self, ch: _Channel, d: DeliveryRow) -> None:
        event = self._events.get(d.event_id) or await q.get_event(self.store, d.event_id)
        series = None
        if event is not None:
            series = self._views.get(event.series_id) or await self.store.get_series(event.series_id)
        if event is None or series is None:
            await self._fail(d, "event or series no longer stored")
            return
        target = next((t for t in route(event, series, self._subs) if t.channel_id == d.channel_id), None)
        if target is None:
            await q.settle(self.store, d.event_id, d.channel_id, "done", error="no longer routed here")
            return
        try:
            await self._post(ch, d, event, series, target)
        except (ChannelGone, TransientError):
            raise
        except PermanentError as err:
            await self._fail(d, str(err))

    async def _post(self, ch: _Channel, d: DeliveryRow, event: Event, series: SeriesView, target: Target) -> None:
        post: PostRow | None = None
        if target.card or target.patch:
            post = await self._ensure_card(series, target)
        if target.patch and post is not None and d.discord_message_id is None:
            patch = _patch_of(series, event)
            if patch is not None:
                where = post.thread_id or target.channel_id
                try:
                    mid = await self.sink.send(
                        where, render_patch(series, patch), nonce=nonce("patch", event.event_id, target.channel_id)
                    )
                except ChannelGone as err:
                    if where == target.channel_id:
                        raise
                    # Someone deleted the series thread, not the channel: this post fails alone.
                    raise PermanentError(err.code, f"thread {where} is gone: {err}") from err
                await q.settle(self.store, d.event_id, d.channel_id, "pending", discord_message_id=mid)
        if target.alert and d.discord_message_id is None:
            patch = _patch_of(series, event)
            mid = await self.sink.send(
                target.channel_id,
                render_alert(series, target.alert_role_id, patch),
                nonce=nonce("alert", event.event_id, target.channel_id),
            )
            await q.settle(self.store, d.event_id, d.channel_id, "pending", discord_message_id=mid)
        if target.card:
            ch.dirty_at.setdefault(series.series_id, asyncio.get_running_loop().time())
            ch.dirty.setdefault(series.series_id, set()).add(d.event_id)
        else:
            await q.settle(self.store, d.event_id, d.channel_id, "done", attempted=True)

    async def _ensure_card(self, series: SeriesView, target: Target) -> PostRow:
        sid, cid = series.series_id, target.channel_id
        post = await self._get_post(sid, cid)
        if post is None or post.card_message_id is None:
            card = render_card(series, await self._links(series, cid), with_thread=target.threads)
            mid = await self.sink.send(cid, card, nonce=nonce("card", sid, cid))
            post = await self._save_post(
                PostRow(series_id=sid, channel_id=cid, card_message_id=mid, thread_id=None, rendered_hash=card.digest())
            )
        if target.threads and post.thread_id is None and post.card_message_id is not None:
            card = render_card(series, with_thread=True)
            name = card.thread_name or f"series {sid}"
            tid = await self.sink.start_thread(cid, post.card_message_id, name)
            post = await self._save_post(post.model_copy(update={"thread_id": tid, "thread_name": name}))
        return post

    async def _get_post(self, series_id: int, channel_id: int) -> PostRow | None:
        post = self._posts.get((series_id, channel_id))
        if post is None:
            post = await self.store.get_post(series_id, channel_id)
            if post is not None:
                self._posts.put((series_id, channel_id), post)
        return post

    async def _save_post(self, post: PostRow) -> PostRow:
        await self.store.save_post(
            post.series_id, post.channel_id, card_message_id=post.card_message_id,
            thread_id=post.thread_id, rendered_hash=post.rendered_hash, thread_name=post.thread_name,
        )
        self._posts.put((post.series_id, post.channel_id), post)
        return post

    def _stale_cards(self, ch: _Channel, at_most: int = 2) -> list[int]:
        """Cards owed an edit for a while: complete series after `max_edit_delay`,
        series still arriving after 5x that (their next patch would need another edit)."""
        now = asyncio.get_running_loop().time()
        out = []
        for sid, since in ch.dirty_at.items():  # oldest first
            view = self._views.get(sid)
            wait = self.max_edit_delay * (1 if view is None or view.complete else 5)
            if now - since >= wait:
                out.append(sid)
                if len(out) == at_most:
                    break
        return out

    async def _flush_cards(self, ch: _Channel, only: list[int] | None = None) -> None:
        """Edit each dirty card to its latest render, then settle the deliveries it covered."""
        for sid in list(ch.dirty) if only is None else only:
            if sid not in ch.dirty:
                continue
            # Taken out first: events arriving during the edit owe a new one.
            events, since = ch.dirty.pop(sid), ch.dirty_at.pop(sid, 0.0)
            ch.editing |= events
            try:
                await self._flush_card(ch, sid, events)
            except BaseException:
                ch.dirty.setdefault(sid, set()).update(events)
                ch.dirty_at[sid] = min(since, ch.dirty_at.get(sid, since))
                raise
            finally:
                ch.editing -= events

    async def _flush_card(self, ch: _Channel, sid: int, events: set[int]) -> None:
        # Routing caches each series as of its latest routed event: the card's latest state.
        series = self._views.get(sid) or await self.store.get_series(sid)
        post = await self._get_post(sid, ch.channel_id)
        error = None
        if series is not None and post is not None and post.card_message_id is not None:
            card = render_card(series, await self._links(series, ch.channel_id), with_thread=post.thread_id is not None)
            if card.digest() != post.rendered_hash:
                try:
                    await self.sink.edit(ch.channel_id, post.card_message_id, card)
                except (ChannelGone, TransientError):
                    raise
                except PermanentError as err:
                    error = f"card edit: {err}"
                else:
                    # Re-read: the posting loop may have added the thread meanwhile.
                    now = await self._get_post(sid, ch.channel_id) or post
                    now = await self._save_post(now.model_copy(update={"rendered_hash": card.digest()}))
                    await self._rename_thread(now, card.thread_name)
        if error is None:
            await q.settle_many(self.store, sorted(events), ch.channel_id, "done", attempted=True)
            return
        for event_id in sorted(events):
            d = await self.store.get_delivery(event_id, ch.channel_id)
            if d is not None:
                await self._fail(d, error)

    async def _rename_thread(self, post: PostRow, name: str | None) -> None:
        """Give the post's thread `name` if it has another: e.g. the cover arrived
        after the patches the thread was first named from. The name is kept with
        the post, so this holds across restarts."""
        if post.thread_id is None or name is None or post.thread_name == name:
            return
        try:
            await self.sink.rename_thread(post.thread_id, name)
        except PermanentError as err:  # a cosmetic change: log it, fail nothing
            log.warning("renaming thread %s failed: %s", post.thread_id, err)
        await self._save_post(post.model_copy(update={"thread_name": name}))

    async def _links(self, series: SeriesView, channel_id: int) -> CardLinks:
        prev = await self._version_link(series.supersedes, channel_id) if series.supersedes else None
        succ = await self._version_link(series.superseded_by, channel_id) if series.superseded_by else None
        return CardLinks(previous=prev, superseded_by=succ)

    async def _version_link(self, series_id: int, channel_id: int) -> VersionLink | None:
        other = self._views.get(series_id) or await self.store.get_series(series_id)
        if other is None:
            return None
        post = await self._get_post(series_id, channel_id)
        url = None
        if post is not None and post.card_message_id is not None:
            guild = next((s.guild_id for s in self._subs if s.channel_id == channel_id), None)
            url = self.sink.message_url(guild, channel_id, post.card_message_id)
        return VersionLink(version=version_label(other), url=url or series_url(other))


def _patch_of(series: SeriesView, event: Event) -> PatchView | None:
    return next((p for p in series.patches if p.message_id == event.message_id), None)
