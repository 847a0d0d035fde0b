"""Routing: events after the routing cursor become delivery rows, one per
(event, channel), in the same transaction that advances the cursor."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from bot.notify.delivery.cache import Recent
from bot.notify.delivery.settle import Settle
from bot.notify.models import Subscription, Target
from bot.notify.route import PREVIEW_ALL, route
from bot.series.models import Event, SeriesView
from bot.store import Store
from bot.store import delivery as q

ROUTE_BATCH = 500
# Subscriptions change rarely (CLI, slash commands, a deleted channel): re-read at most this often.
SUBSCRIPTIONS_TTL = 2.0


class Subscriptions:
    """The enabled subscriptions, as routing sees them."""

    def __init__(self, store: Store, *, preview: bool = False) -> None:
        self.store = store
        self.preview = preview
        self._subs: list[Subscription] = []
        self._read = float("-inf")  # loop time the subscriptions were last read
        self.reads = 0  # how often: what was worked out from them before may be stale

    async def load(self, *, fresh: bool = True) -> None:
        """Re-read them (unless `fresh` is False and they were read within the TTL)."""
        now = asyncio.get_running_loop().time()
        if not fresh and now - self._read < SUBSCRIPTIONS_TTL:
            return
        self._read = now
        self.reads += 1
        subs = await self.store.list_subscriptions()
        # The routing fields of each stored row (its bookkeeping stays behind).
        enabled = [Subscription.model_validate(s, from_attributes=True) for s in subs if s.enabled]
        # A user with no configuration at all still sees every card in preview.
        self._subs = [PREVIEW_ALL] if self.preview and not subs else enabled

    def targets(self, event: Event, series: SeriesView) -> list[Target]:
        return route(event, series, self._subs)

    def target(self, event: Event, series: SeriesView, channel_id: int) -> Target | None:
        """What `event` asks of `channel_id` now (None: it no longer goes there)."""
        return next((t for t in self.targets(event, series) if t.channel_id == channel_id), None)

    def guild_of(self, channel_id: int) -> int | None:
        return next((s.guild_id for s in self._subs if s.channel_id == channel_id), None)


class Router:
    """Turns committed events into queued deliveries, from the routing cursor on.

    A series is held until what decides its routing arrives (`settle`); once
    routed to a channel, the channel is owed every event the series had
    before (it may only now match a subscription there), queued with the
    event that routed it."""

    def __init__(self, store: Store, subscriptions: Subscriptions, recent: Recent, settle: Settle) -> None:
        self.store = store
        self.subscriptions = subscriptions
        self.recent = recent
        self.settle = settle
        self._routed: int | None = None  # routing cursor, once read
        # (series, channel) pairs already owed their earlier events in this process.
        self._caught_up: set[tuple[int, int]] = set()

    async def route_pending(self) -> AsyncIterator[set[int]]:
        """Route every event after the cursor, a batch at a time; yields the
        channels each batch queued deliveries for, once they are committed."""
        await self.subscriptions.load(fresh=False)
        await self.settle.load()
        if self._routed is None:
            self._routed = await q.routed_upto(self.store)
        if due := self.settle.due():
            rows: list[tuple[int, int, int | None]] = []
            for sid in due:
                self.settle.release(sid)
                view = await self.store.get_series(sid)
                if view is not None:
                    self.recent.keep_series(sid, view)
                    rows += await self._catch_up(view, None)
            await self.settle.save()
            rows = list(dict.fromkeys(rows))
            await q.queue_routed(self.store, rows, self._routed)
            yield {c for _, c, _ in rows}
        while events := await self.store.events_after(self._routed, limit=ROUTE_BATCH):
            views: dict[int, SeriesView | None] = {}
            rows = []
            quiet = await q.backfilled(self.store, list({e.message_id for e in events}))
            for event in events:
                assert event.event_id is not None
                if event.message_id in quiet:
                    continue
                if event.series_id not in views:
                    # Read after the event was committed: at least as new as the event.
                    views[event.series_id] = view = await self.store.get_series(event.series_id)
                    if view is not None:
                        self.recent.keep_series(event.series_id, view)
                series = views[event.series_id]
                if series is None:
                    continue
                self.settle.seen(series.series_id)
                if not self.settle.routable(series):
                    self.settle.hold(series.series_id)
                    continue
                self.recent.keep_event(event.event_id, event)
                if self.settle.release(series.series_id):
                    rows += await self._catch_up(series, None)
                    continue
                targets = self.subscriptions.targets(event, series)
                for target in targets:
                    rows += await self._catch_up(series, target.channel_id)
                rows += [(event.event_id, t.channel_id, t.subscription_id) for t in targets]
            upto = events[-1].event_id or self._routed
            await self.settle.save()
            rows = list(dict.fromkeys(rows))
            await q.queue_routed(self.store, rows, upto)
            self._routed = upto
            yield {c for _, c, _ in rows}

    async def _catch_up(self, series: SeriesView, channel_id: int | None) -> list[tuple[int, int, int | None]]:
        """Rows for every stored event of the series that goes to `channel_id`
        (None: to any channel), the first time the pair is routed here."""
        sid = series.series_id
        if channel_id is not None and (sid, channel_id) in self._caught_up:
            return []
        rows = []
        events = await q.series_events(self.store, sid)
        quiet = await q.backfilled(self.store, list({e.message_id for e in events}))
        for event in events:
            assert event.event_id is not None
            if event.message_id in quiet:
                continue
            self.recent.keep_event(event.event_id, event)
            for t in self.subscriptions.targets(event, series):
                if channel_id is None or t.channel_id == channel_id:
                    rows.append((event.event_id, t.channel_id, t.subscription_id))
                    self._caught_up.add((sid, t.channel_id))
        if channel_id is not None:
            self._caught_up.add((sid, channel_id))
        return rows
