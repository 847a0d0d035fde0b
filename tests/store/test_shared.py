"""Pieces of several processes on one store: the inbox (taken in arrival
order), and delivery's series views when another process routed the event."""

from __future__ import annotations

from bot.notify.delivery.cache import Recent
from bot.store import inbox
from tests.conftest import StoreTarget
from tests.helpers import series


async def test_the_inbox_gives_mail_back_in_arrival_order_until_dropped(store_target: StoreTarget) -> None:
    store = await store_target.open()
    try:
        mails = series("ib", "Inbox order", 3)
        await inbox.add(store, [(m, f"ref{i}") for i, m in enumerate(mails[:2])], source="smtp")
        await inbox.add(store, [(m, None) for m in mails[2:]], source="lore")
        waiting = await inbox.take(store)
        assert [w.raw for w in waiting] == mails  # byte for byte, oldest first
        assert [w.source for w in waiting] == ["smtp", "smtp", "lore", "lore"]
        assert [w.source_ref for w in waiting] == ["ref0", "ref1", None, None]
        await inbox.drop(store, [w.id for w in waiting[:3]])
        assert [w.raw for w in await inbox.take(store)] == mails[3:]
        assert await inbox.waiting_count(store) == 1
    finally:
        await store.close()


async def test_an_event_routed_elsewhere_is_delivered_with_a_view_at_least_as_new(store_target: StoreTarget) -> None:
    store = await store_target.open()
    try:
        mails = series("rv", "Fresh views", 2)
        for raw in mails[:2]:
            await store.ingest(raw)
        early = await store.events_after(0)
        sid = early[0].series_id
        stale = await store.get_series(sid)
        assert stale is not None and len(stale.patches) == 2  # the cover and patch 1
        recent = Recent(store)
        for e in early:  # routed here: the view was kept with these events
            assert e.event_id is not None
            recent.keep_event(e.event_id, e)
        recent.keep_series(sid, stale)
        await store.ingest(mails[2])  # another process routes this one
        late = [e for e in await store.events_after(early[-1].event_id or 0) if e.series_id == sid]
        assert late
        assert await recent.series_for(early[-1]) is stale  # cached: as new as that event
        fresh = await recent.series_for(late[0])
        assert fresh is not None and len(fresh.patches) == 3
        assert recent.cached_series(sid) == fresh  # the card edits that follow see it too
    finally:
        await store.close()


async def test_a_cached_view_older_than_its_own_patch_event_is_read_again(store_target: StoreTarget) -> None:
    """The event is in the cache (routed here) but the view kept beside it is
    older than it (cached from an earlier event): its patch would be taken for
    gone and never posted. Seen with two processes, one killed mid-burst."""
    store = await store_target.open()
    try:
        mails = series("ov", "Old views", 2)
        for raw in mails[:2]:
            await store.ingest(raw)
        stale = await store.get_series((await store.events_after(0))[0].series_id)
        assert stale is not None
        await store.ingest(mails[2])  # patch 2
        (added,) = [e for e in await store.events_after(0) if e.message_id == "ov-2@example.com"
                    and e.kind == "patch_added"]
        recent = Recent(store)
        assert added.event_id is not None
        recent.keep_event(added.event_id, added)
        recent.keep_series(stale.series_id, stale)  # older than the event it sits beside
        view = await recent.series_for(added)
        assert view is not None and "ov-2@example.com" in [p.message_id for p in view.patches]
    finally:
        await store.close()


async def test_a_batch_routed_elsewhere_is_read_in_one_go_and_kept(store_target: StoreTarget) -> None:
    """A process that does not route (another holds tracking) read each
    delivery's event and series again at every look, three or more round
    trips a delivery: with two processes on PostgreSQL its posts fell tens
    of seconds behind the other's. A batch's events and views are read once."""
    from sqlalchemy import event as sa_event

    store = await store_target.open()
    try:
        pa, pb = series("pa", "Prefetch pa", 2), series("pb", "Prefetch pb", 2)
        for raw in pa[:2] + pb:  # the first series' patch 2 comes later
            await store.ingest(raw)
        events = await store.events_after(0)
        ids = [e.event_id for e in events if e.event_id is not None]
        pa_id = events[0].series_id
        recent = Recent(store)
        queries: list[str] = []
        sa_event.listen(store.engine.sync_engine, "before_cursor_execute",
                        lambda conn, cursor, statement, *rest: queries.append(statement.split()[0]))
        await recent.prefetch(ids)
        assert queries and len(queries) <= 5  # the events, then the views' few queries for both series
        queries.clear()
        for e in events:
            got = await recent.event(e.event_id or 0)
            assert got == e
            view = await recent.series_for(got)
            assert view is not None and view.series_id == e.series_id
            assert any(p.message_id == e.message_id for p in view.patches) or e.kind != "patch_added"
        assert queries == []  # every one from what the batch read
        await recent.prefetch(ids)
        assert queries == []  # kept: a second look at the batch reads nothing
        await store.ingest(pa[2])
        later = [e for e in await store.events_after(ids[-1]) if e.series_id == pa_id]
        assert later
        view = await recent.series_for(later[0])  # newer than what the batch read: read again
        assert view is not None and "pa-2@example.com" in [p.message_id for p in view.patches]
    finally:
        await store.close()
