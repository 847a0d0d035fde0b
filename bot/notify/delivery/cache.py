"""Bounded read-through caches: what routing just read, so posting need not read it again."""

from __future__ import annotations

from collections import OrderedDict
from typing import Generic, TypeVar

from bot.series.models import Event, EventKind, SeriesView
from bot.store import Store
from bot.store import delivery as q

CACHE_SIZE = 4096

K = TypeVar("K")
V = TypeVar("V")


class Lru(Generic[K, V]):
    """A small bounded cache, least recently used out first."""

    def __init__(self, size: int = CACHE_SIZE) -> None:
        self.size = size
        self._data: OrderedDict[K, V] = OrderedDict()

    def get(self, key: K) -> V | None:
        value = self._data.get(key)
        if value is not None:
            self._data.move_to_end(key)
        return value

    def put(self, key: K, value: V) -> None:
        self._data[key] = value
        self._data.move_to_end(key)
        while len(self._data) > self.size:
            self._data.popitem(last=False)


class Recent:
    """The events and series views routing read last, each series as of its
    latest routed event (the state its card should show); the store otherwise.

    Where another process routes (several on one PostgreSQL), every event
    and view comes from the store: a delivery batch's events are read in one
    query (`prefetch`), with the views of their series, and kept. Events are
    never changed once written; a view read after an event was is at least as
    new as that event."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._events: Lru[int, Event] = Lru()  # kept by routing in this process
        self._read: Lru[int, Event] = Lru()  # read from the store
        self._views: Lru[int, SeriesView] = Lru()
        self._fresh: Lru[int, tuple[int, SeriesView]] = Lru()  # series -> (newest event it was read after, view)

    def keep_event(self, event_id: int, event: Event) -> None:
        self._events.put(event_id, event)

    def keep_series(self, series_id: int, view: SeriesView) -> None:
        self._views.put(series_id, view)

    def cached_series(self, series_id: int) -> SeriesView | None:
        return self._views.get(series_id)

    async def event(self, event_id: int) -> Event | None:
        event = self._events.get(event_id) or self._read.get(event_id)
        if event is None and (event := await q.get_event(self.store, event_id)) is not None:
            self._read.put(event_id, event)
        return event

    async def prefetch(self, event_ids: list[int]) -> None:
        """Read the events of a delivery batch that routing here did not keep,
        in one query, then their series' views (newer than each of them)."""
        missing = [e for e in event_ids if self._events.get(e) is None and self._read.get(e) is None]
        if not missing:
            return
        newest: dict[int, int] = {}
        for event in await self.store.events_by_ids(missing):
            if event.event_id is None:  # (stored events always have one)
                continue
            self._read.put(event.event_id, event)
            newest[event.series_id] = max(newest.get(event.series_id, 0), event.event_id)
        for series_id, view in (await self.store.get_series_many(newest)).items():
            self._keep_fresh(series_id, newest[series_id], view)

    def _keep_fresh(self, series_id: int, after_event: int, view: SeriesView) -> None:
        self._views.put(series_id, view)
        self._fresh.put(series_id, (after_event, view))

    async def series(self, series_id: int) -> SeriesView | None:
        return self._views.get(series_id) or await self.store.get_series(series_id)

    async def series_for(self, event: Event) -> SeriesView | None:
        """The series as delivering `event` needs it: at least as new as the event.

        The cached view is, when routing here kept the event (it read the view
        after the event's commit). An event routed by another process (several
        processes on one PostgreSQL) may be newer than our view: read it again,
        and keep it for the card edits that follow."""
        if event.event_id is not None and self._events.get(event.event_id) is not None:
            cached = self._views.get(event.series_id)
            # A view that lacks the event's own patch is older than the event
            # (cached from an earlier event, another process routing this one):
            # read it again, or the patch would be taken for gone and not posted.
            if cached is not None and not _lacks_patch(cached, event):
                return cached
        fresh = self._fresh.get(event.series_id)
        if (
            fresh is not None and event.event_id is not None and event.event_id <= fresh[0]
            and not _lacks_patch(fresh[1], event)
        ):
            return fresh[1]  # read after this event was (`prefetch`)
        view = await self.store.get_series(event.series_id)
        if view is not None:
            self._keep_fresh(event.series_id, event.event_id or 0, view)
        return view


def _lacks_patch(view: SeriesView, event: Event) -> bool:
    return event.kind is EventKind.PATCH_ADDED and all(p.message_id != event.message_id for p in view.patches)
