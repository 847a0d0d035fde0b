"""Routing: events after the routing cursor become delivery rows, one per
(event, channel), in the same transaction that advances the cursor."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Collection

from bot.notify.delivery.cache import Recent
from bot.notify.delivery.settle import Settle
from bot.notify.models import Subscription, Target
from bot.notify.route import PREVIEW_ALL, route
from bot.series.models import Event, EventKind, SeriesView
from bot.store import Store
from bot.store import delivery as q
from bot.store import posted

ROUTE_BATCH = 500
# Subscriptions change rarely (CLI, slash commands, a deleted channel): re-read at most this often.
SUBSCRIPTIONS_TTL = 2.0
# Events that bring a mail of the series itself: what can change what a
# filter sees (the cover's subsystem and title, the patches' files). Only
# these re-evaluate where its card stays (a review or an applied notice of an
# old series does not take its card down after a subscription's filter changed).
RESHAPING = frozenset({EventKind.SERIES_CREATED, EventKind.COVER_ADDED, EventKind.PATCH_ADDED,
                       EventKind.SERIES_COMPLETED})


class Subscriptions:
    """The enabled subscriptions, as routing sees them."""

    def __init__(self, store: Store, *, preview: bool = False) -> None:
        self.store = store
        self.preview = preview
        self._subs: list[Subscription] = []
        self._by_channel: dict[int, list[Subscription]] = {}
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
        # Only the subscriptions posting to a channel can route there (cards or alerts).
        self._by_channel = {}
        for sub in self._subs:
            for channel_id in {sub.channel_id, sub.alert_channel_id} - {None}:
                assert channel_id is not None
                self._by_channel.setdefault(channel_id, []).append(sub)

    def targets(self, event: Event, series: SeriesView) -> list[Target]:
        return route(event, series, self._subs)

    def target(self, event: Event, series: SeriesView, channel_id: int) -> Target | None:
        """What `event` asks of `channel_id` now (None: it no longer goes there)."""
        subs = self._by_channel.get(channel_id, [])
        return next((t for t in route(event, series, subs) if t.channel_id == channel_id), None)

    def card_channels(self) -> set[int]:
        """Channels with a subscription of their own (cards go there; alert channels may not)."""
        return {s.channel_id for s in self._subs}

    def guild_of(self, channel_id: int) -> int | None:
        return next((s.guild_id for s in self._subs if s.channel_id == channel_id), None)


class RoutedBefore:
    """Where a batch's series were routed before it (`posted.routed_channels`),
    read for all of them when `_stopped` first asks: one read a batch, not one
    a series (every new mail of a series asks), and none for a batch that asks
    nothing (reviews, trailers; a single card channel that still matches)."""

    def __init__(self, store: Store, series_ids: Collection[int]) -> None:
        self.store = store
        self.series_ids = series_ids
        self._found: dict[int, set[int]] | None = None

    async def of(self, series_id: int) -> set[int]:
        if self._found is None:
            self._found = await posted.routed_channels_many(self.store, self.series_ids)
        return self._found.get(series_id, set())


class Router:
    """Turns committed events into queued deliveries, from the routing cursor on.

    A series is held until what decides its routing arrives (`settle`); once
    routed to a channel, the channel is owed every event the series had
    before (it may only now match a subscription there), queued with the
    event that routed it. When a mail of the series shows that it no longer
    matches a channel it was routed to, that channel gets a delivery of the
    event too: its poster takes the card down there (`removal`)."""

    def __init__(self, store: Store, subscriptions: Subscriptions, recent: Recent, settle: Settle) -> None:
        self.store = store
        self.subscriptions = subscriptions
        self.recent = recent
        self.settle = settle
        self._routed: int | None = None  # routing cursor, once read
        # (series, channel) pairs already owed their earlier events in this process.
        self._caught_up: set[tuple[int, int]] = set()
        # (series, channel) pairs this process queued a removal for (one is enough).
        self._taking_down: set[tuple[int, int]] = set()

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
                view = await self.store.get_series(sid)
                if view is not None:
                    self.recent.keep_series(sid, view)
                    rows += await self._catch_up(view, None)
                    rows += await self._stopped_since_held(view)
            rows = list(dict.fromkeys(rows))
            await q.queue_routed(self.store, rows, self._routed)
            # Released once queued: a crash before leaves them held (queued again,
            # idempotently), and whoever waits for idle does not see them released
            # while their rows are still being made.
            for sid in due:
                self.settle.release(sid)
            await self.settle.save()
            yield {c for _, c, _ in rows}
        while events := await self.store.events_after(self._routed, limit=ROUTE_BATCH):
            rows = []
            rechecked: set[int] = set()  # series whose channels were re-evaluated in this batch
            quiet = await q.backfilled(self.store, list({e.message_id for e in events}))
            # Read after the events were committed: each at least as new as its events.
            views = await self.store.get_series_many(e.series_id for e in events if e.message_id not in quiet)
            for sid, view in views.items():
                self.recent.keep_series(sid, view)
            routed = RoutedBefore(self.store, views)
            for event in events:
                assert event.event_id is not None
                if event.message_id in quiet:
                    continue
                series = views.get(event.series_id)
                if series is None:
                    continue
                self.settle.seen(series.series_id)
                if not self.settle.routable(series):
                    self.settle.hold(series.series_id)
                    continue
                self.recent.keep_event(event.event_id, event)
                if self.settle.release(series.series_id):
                    rows += await self._catch_up(series, None)
                    if series.series_id not in rechecked:
                        rechecked.add(series.series_id)
                        rows += await self._stopped(event, series, self.subscriptions.targets(event, series), routed)
                    continue
                targets = self.subscriptions.targets(event, series)
                for target in targets:
                    rows += await self._catch_up(series, target.channel_id)
                rows += [(event.event_id, t.channel_id, t.subscription_id) for t in targets]
                if event.kind in RESHAPING and series.series_id not in rechecked:
                    rechecked.add(series.series_id)
                    rows += await self._stopped(event, series, targets, routed)
            upto = events[-1].event_id or self._routed
            await self.settle.save()
            rows = list(dict.fromkeys(rows))
            await q.queue_routed(self.store, rows, upto)
            self._routed = upto
            yield {c for _, c, _ in rows}

    async def _stopped(
        self, event: Event, series: SeriesView, targets: list[Target], routed: RoutedBefore
    ) -> list[tuple[int, int, int | None]]:
        """Rows for the channels the series was routed to (`routed`) but no longer
        matches (its card is taken down there when they are delivered)."""
        assert event.event_id is not None
        maybe = self.subscriptions.card_channels() - {t.channel_id for t in targets if t.card}
        if not maybe:
            return []
        sid = series.series_id
        gone = {c for c in maybe & await routed.of(sid) if (sid, c) not in self._taking_down}
        for channel_id in gone:
            self._caught_up.discard((sid, channel_id))  # owed everything if it matches again
            self._taking_down.add((sid, channel_id))
        return [(event.event_id, c, None) for c in sorted(gone)]

    async def _stopped_since_held(self, series: SeriesView) -> list[tuple[int, int, int | None]]:
        """`_stopped` for a series released by its window: a series routed
        before is held again when more of it comes after its window (with no
        cover or patch 1 yet), and what came may have changed where it goes."""
        events = await q.series_events(self.store, series.series_id)
        last = next((e for e in reversed(events) if e.kind in RESHAPING), None)
        if last is None:
            return []
        return await self._stopped(last, series, self.subscriptions.targets(last, series),
                                   RoutedBefore(self.store, [series.series_id]))

    def forget(self, series_id: int, channel_id: int) -> None:
        """The series' card was taken down there: routed there again, it is owed everything again."""
        self._caught_up.discard((series_id, channel_id))
        self._taking_down.discard((series_id, channel_id))

    async def owed(self, series: SeriesView, channel_id: int) -> list[tuple[int, int, int | None]]:
        """The catch-up rows for one channel if the series goes there now (none if not)."""
        if not any(t.channel_id == channel_id and t.card for t in self.subscriptions.targets(_ANY, series)):
            return []
        return await self._catch_up(series, channel_id)

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
            if channel_id is None:
                targets = self.subscriptions.targets(event, series)
            else:
                targets = [t] if (t := self.subscriptions.target(event, series, channel_id)) else []
            for t in targets:
                rows.append((event.event_id, t.channel_id, t.subscription_id))
                self._caught_up.add((sid, t.channel_id))
                self._taking_down.discard((sid, t.channel_id))
        if channel_id is not None:
            self._caught_up.add((sid, channel_id))
        return rows


# Any event of a series routes its card the same way (only alerts depend on the kind).
_ANY = Event(kind=EventKind.SERIES_CREATED, series_id=0, message_id="")
