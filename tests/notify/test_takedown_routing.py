"""The routing decision to take a card down, on a real store: which channels
get a removal delivery when a mail shows that a series no longer matches them."""

from __future__ import annotations

from bot.config import SubscriptionConfig, SubscriptionFilter
from bot.notify.delivery.cache import Recent
from bot.notify.delivery.routing import Router, Subscriptions
from bot.notify.delivery.settle import Settle
from bot.series.models import EventKind
from bot.store import Store
from bot.store import delivery as q
from bot.store import posted
from tests.helpers import patch_body, raw_mail

GUILD, CARDS, SVM, ALERTS = 7000, 7101, 7103, 7102
SVM_SUB = SubscriptionConfig(
    guild=GUILD, channel=SVM, filter=SubscriptionFilter(subsystems=["KVM: SVM"]), alert_channel=ALERTS
)


def cover(tag: str, n: int, prefix: str = "KVM: x86") -> bytes:
    return raw_mail(f"{tag}-0@x", f"[PATCH 0/{n}] {prefix}: Rework it", "Cover text.\n")


def patch(tag: str, i: int, n: int, prefix: str = "KVM: SVM") -> bytes:
    return raw_mail(
        f"{tag}-{i}@x", f"[PATCH {i}/{n}] {prefix}: Rework it part {i}", patch_body(f"part {i}"),
        irt=f"{tag}-0@x", at=i,
    )


async def _router(store: Store) -> Router:
    subs = Subscriptions(store)
    await subs.load()
    return Router(store, subs, Recent(store), Settle(store))


async def _route(router: Router) -> list[tuple[str, int]]:
    """Route what is pending; returns the (event kind, channel) of each new delivery."""
    before = {(d.event_id, d.channel_id) for d in await q.list_deliveries(router.store, limit=10_000)}
    async for _ in router.route_pending():
        pass
    kinds = {e.event_id: e.kind for e in await router.store.events_after(0, limit=10_000)}
    return sorted(
        (str(kinds[d.event_id]), d.channel_id)
        for d in await q.list_deliveries(router.store, limit=10_000)
        if (d.event_id, d.channel_id) not in before
    )


async def test_a_cover_that_changes_the_subsystem_owes_the_channel_a_removal(store: Store) -> None:
    await store.add_subscription(SubscriptionConfig(guild=GUILD, channel=CARDS))
    await store.add_subscription(SVM_SUB)
    router = await _router(store)
    await store.ingest(patch("a", 2, 3))
    assert {c for _, c in await _route(router)} == {CARDS, SVM}
    await store.ingest(cover("a", 3))
    new = await _route(router)
    # The cover's events go to the catch-all channel; the SVM channel gets one
    # delivery of the cover, whose poster takes the card down there; the alert
    # channel is no card channel and gets nothing.
    svm = [kind for kind, c in new if c == SVM]
    assert svm == [str(EventKind.COVER_ADDED)]
    assert ALERTS not in {c for _, c in new} and {c for _, c in new} == {CARDS, SVM}
    # Once: the next patch (x86 now, whatever it says) queues nothing more there.
    await store.ingest(patch("a", 3, 3))
    assert {c for _, c in await _route(router)} == {CARDS}


async def test_no_removal_where_the_series_still_matches_or_nothing_was_routed(store: Store) -> None:
    await store.add_subscription(SubscriptionConfig(guild=GUILD, channel=CARDS))
    await store.add_subscription(SVM_SUB)
    router = await _router(store)
    await store.ingest(patch("b", 1, 2))
    await store.ingest(cover("b", 2, "KVM: SVM"))  # SVM all along
    await store.ingest(patch("c", 1, 2, "KVM: x86"))
    await store.ingest(cover("c", 2))  # x86 all along: never routed to SVM
    new = await _route(router)
    series = {e.event_id: e.series_id for e in await store.events_after(0, limit=100)}
    by_series: dict[int, set[int]] = {}
    for d in await q.list_deliveries(store, limit=100):
        by_series.setdefault(series[d.event_id], set()).add(d.channel_id)
    assert sorted(by_series.values(), key=len) == [{CARDS}, {CARDS, SVM}]
    assert new


async def test_an_unsubscribed_channel_or_a_review_removes_nothing(store: Store) -> None:
    await store.add_subscription(SubscriptionConfig(guild=GUILD, channel=CARDS))
    svm_id = await store.add_subscription(SVM_SUB)
    router = await _router(store)
    await store.ingest(patch("d", 2, 3))
    await _route(router)
    # The SVM subscription is replaced by one for another subsystem: a review
    # of the series (no new mail of the series itself) changes nothing there...
    await store.remove_subscription(svm_id)
    await store.add_subscription(
        SubscriptionConfig(guild=GUILD, channel=SVM, filter=SubscriptionFilter(subsystems=["KVM: VMX"]))
    )
    await router.subscriptions.load()
    await store.ingest(raw_mail("r1@x", "Re: [PATCH 2/3] KVM: SVM: Rework it part 2",
                                "Reviewed-by: Rita Reviewer <rita@example.com>\n", irt="d-2@x", at=9))
    assert SVM not in {c for _, c in await _route(router)}
    # ... and unsubscribing entirely never takes a card down, even as the series grows.
    (vmx,) = [s for s in await store.list_subscriptions() if s.channel_id == SVM]
    await store.remove_subscription(vmx.id)
    await router.subscriptions.load()
    await store.ingest(cover("d", 3))
    assert {c for _, c in await _route(router)} == {CARDS}


async def test_taken_down_rows_are_routed_again_in_full(store: Store) -> None:
    await store.add_subscription(SubscriptionConfig(guild=GUILD, channel=CARDS))
    await store.add_subscription(SVM_SUB)
    router = await _router(store)
    await store.ingest(patch("e", 2, 3))
    await store.ingest(patch("e", 3, 3))
    await _route(router)
    sid = (await store.events_after(0, limit=1))[0].series_id
    await store.save_post(sid, SVM, card_message_id=11, thread_id=11)
    post = await store.get_post(sid, SVM)
    assert post is not None
    gone = await posted.take_down(store, post, "test")
    assert (gone.card_message_id, gone.thread_id, gone.removals) == (None, None, 1)
    assert await store.get_post(sid, SVM) == gone
    assert {d.status for d in await q.list_deliveries(store, channel_id=SVM)} == {q.REMOVED}
    assert await posted.routed_channels(store, sid) == {CARDS}
    # Routed there again (a catch-up, in this process or another): every row is owed again.
    router.forget(sid, SVM)
    view = await store.get_series(sid)
    assert view is not None
    rows = await router.owed(view, SVM)
    await q.queue_again(store, rows)
    again = await q.list_deliveries(store, channel_id=SVM)
    assert len(again) == len(rows) >= 3 and {(d.status, d.discord_message_id) for d in again} == {(q.PENDING, None)}


async def test_a_batch_reads_where_its_series_went_once_and_takes_each_down_where_it_stopped(store: Store) -> None:
    """Three series reshaped in one batch of events: one read of the channels
    they were routed to (not one a series), and each that left the SVM
    channel gets its one removal delivery there."""
    from sqlalchemy import event

    titles = {"f": "Flush the shadow pages", "g": "Gate nested exits early", "h": "Hoist the TSC scaling"}

    def mail(tag: str, i: int, n: int, prefix: str) -> bytes:
        body = "Cover text.\n" if i == 0 else patch_body(f"{tag} {i}")
        return raw_mail(f"{tag}-{i}@x", f"[PATCH {i}/{n}] {prefix}: {titles[tag]}", body,
                        irt=None if i == 0 else f"{tag}-0@x", at=i)

    await store.add_subscription(SubscriptionConfig(guild=GUILD, channel=CARDS))
    await store.add_subscription(SVM_SUB)
    router = await _router(store)
    for tag in ("f", "g"):
        await store.ingest(mail(tag, 2, 3, "KVM: SVM"))  # SVM until their covers say x86
    await store.ingest(mail("h", 1, 2, "KVM: x86"))
    await _route(router)
    for tag, n in (("f", 3), ("g", 3), ("h", 2)):
        await store.ingest(mail(tag, 0, n, "KVM: x86"))
    reads: list[str] = []

    def seen(conn: object, cursor: object, statement: str, *rest: object) -> None:
        if "DISTINCT events.series_id, deliveries.channel_id" in " ".join(statement.split()):
            reads.append(statement)

    event.listen(store.engine.sync_engine, "before_cursor_execute", seen)
    try:
        new = await _route(router)
    finally:
        event.remove(store.engine.sync_engine, "before_cursor_execute", seen)
    assert len(reads) == 1
    events = await store.events_after(0, limit=100)
    series = {e.message_id: e.series_id for e in events}
    assert len({series[f"{tag}-0@x"] for tag in titles}) == 3  # three series, not versions of one
    kinds = {e.event_id: (e.kind, e.series_id) for e in events}
    removed = sorted(kinds[d.event_id][1] for d in await q.list_deliveries(store, channel_id=SVM)
                     if kinds[d.event_id][0] is EventKind.COVER_ADDED)
    assert removed == sorted([series["f-0@x"], series["g-0@x"]])
    assert [k for k, c in new if c == SVM] == [str(EventKind.COVER_ADDED)] * 2
    assert await posted.routed_channels_many(store, [series["f-0@x"], series["h-0@x"]]) == {
        series["f-0@x"]: {CARDS, SVM}, series["h-0@x"]: {CARDS}}
