"""A series that stops matching a channel loses its card and thread there (issue 12).

The SVM example: a channel subscribed with `--subsystem "KVM: SVM"` gets a
series whose first patches say "KVM: SVM"; the settle window ends before
the cover arrives, so its card and thread are posted; the cover then says
"KVM: x86" (a series' subsystem is its cover's), and the card and thread
come down from the SVM channel, and from nowhere else.
"""

from __future__ import annotations

from pathlib import Path

from bot.config import SubscriptionConfig, SubscriptionFilter
from bot.store import delivery as q
from bot.store import queries
from tests.fakediscord import FAST_RATE_LIMITS, FakeDiscord, permissions

from .harness import ALERTS, CARDS, GUILD, ROLE, FakeClock, Service, field, footers, service
from .mails import series

SVM = 5103
WINDOW = 180
SUBS = [
    SubscriptionConfig(guild=GUILD, channel=CARDS),
    SubscriptionConfig(
        guild=GUILD, channel=SVM, filter=SubscriptionFilter(subsystems=["KVM: SVM"]),
        alert_channel=ALERTS, alert_role=ROLE,
    ),
]
DELETE_MESSAGE = "DELETE /channels/{channel_id}/messages/{message_id}"
DELETE_CHANNEL = "DELETE /channels/{channel_id}"


def _fake(*, manage_threads: bool = True) -> FakeDiscord:
    fake = FakeDiscord(
        guild_id=GUILD, channels=[(CARDS, "patches"), (SVM, "svm"), (ALERTS, "stable")], rate_limits=FAST_RATE_LIMITS
    )
    if manage_threads:  # a bot's usual invite has no Manage Threads (fakediscord.permissions)
        fake.set_permissions(SVM, allow=permissions.MANAGE_THREADS, dispatch=False)
    return fake


def svm_patches(tag: str, n: int, svm: set[int], *, stable: frozenset[int] = frozenset()) -> list[bytes]:
    """A cover saying "KVM: x86" and n patches, those in `svm` saying "KVM: SVM"."""
    mails = series(tag, "Rework the nested frobnicator", n)
    for i in svm:
        mails[i] = mails[i].replace(b"KVM: x86: Rework", b"KVM: SVM: Rework")
    for i in stable:
        mails[i] = mails[i].replace(b"Signed-off-by:", b"Cc: stable@vger.kernel.org\nSigned-off-by:")
    return mails


async def _routed_by_window(svc: Service, clock: FakeClock, *mails: bytes) -> None:
    """Send patches that decide nothing, then let the settle window end."""
    await svc.send(*mails)
    await svc.delivery.worker.wait_quiet(30)
    clock.advance(WINDOW + 1)
    await svc.settle()


def live(fake: FakeDiscord, channel_id: int) -> list[str]:
    return footers(fake, channel_id)


async def test_a_late_cover_takes_the_card_and_thread_down_from_the_svm_channel_only(tmp_path: Path) -> None:
    mails = svm_patches("late", 4, {1, 2, 3, 4}, stable=frozenset({3}))
    clock = FakeClock()
    async with _fake() as fake, service(fake, tmp_path, SUBS, settle_seconds=WINDOW, clock=clock) as svc:
        await _routed_by_window(svc, clock, mails[3], mails[4])
        (svm_card,) = fake.messages_in(SVM)
        (card,) = fake.messages_in(CARDS)
        assert field(svm_card, "Received") == "2/4 (missing 1-2)"
        assert live(fake, svm_card.thread_id) == ["kvm-patchbot · series 1 · 3/4", "kvm-patchbot · series 1 · 4/4"]
        (alert,) = fake.messages_in(ALERTS)  # patch 3 asks for stable: the SVM subscription alerts
        svm_thread = svm_card.thread_id

        await svc.send(mails[0])  # the cover: "KVM: x86"
        await svc.settle()
        assert fake.messages_in(SVM) == []
        assert fake.messages_in(svm_thread) == []
        assert [t.id for t in fake.threads if t.id in fake.state.deleted_channels] == [svm_thread]
        # Nowhere else: the catch-all card is kept (and edited), and so is the alert.
        assert fake.messages_in(CARDS) == [card] and card.edits >= 1
        assert live(fake, card.thread_id) == ["kvm-patchbot · series 1 · 3/4", "kvm-patchbot · series 1 · 4/4"]
        assert fake.messages_in(ALERTS) == [alert] and not alert.deleted
        # Exactly once: the thread and the card, one request each.
        assert fake.count_requests(DELETE_CHANNEL) == 1
        assert fake.count_requests(DELETE_MESSAGE) == 1

        await svc.send(mails[1], mails[2])  # the rest goes to the catch-all channel only
        await svc.settle()
        assert fake.messages_in(SVM) == []
        assert live(fake, card.thread_id) == [f"kvm-patchbot · series 1 · {i}/4" for i in (3, 4, 1, 2)]

        store = svc.app.store
        post = await store.get_post(1, SVM)
        assert post is not None and (post.card_message_id, post.thread_id, post.removals) == (None, None, 1)
        # /series links the cards a series has: the catch-all one only.
        assert [p.channel_id for p in await queries.posts_of(store, [1], [CARDS, SVM])] == [CARDS]
        rows = await q.list_deliveries(store, channel_id=SVM)
        assert rows and {(r.status, r.discord_message_id) for r in rows} == {("removed", None)}
        assert await q.failed_deliveries(store) == []
        # The bot's own thread deletion (THREAD_DELETE) disables no subscription.
        assert [sub.enabled for sub in await store.list_subscriptions()] == [True, True]


async def test_a_series_that_matches_again_is_posted_again_in_full(tmp_path: Path) -> None:
    # No cover is ever sent: the patches' vote decides, SVM 1-3 against x86 4-6.
    mails = svm_patches("flip", 6, {1, 2, 3})
    clock = FakeClock()
    async with _fake() as fake, service(fake, tmp_path, SUBS, settle_seconds=WINDOW, clock=clock) as svc:
        await _routed_by_window(svc, clock, mails[2], mails[3])
        (first,) = fake.messages_in(SVM)
        # x86 3 to 2: no longer SVM (with no cover or patch 1 yet, what comes
        # after the window is held for another).
        await _routed_by_window(svc, clock, mails[4], mails[5], mails[6])
        assert fake.messages_in(SVM) == []
        await svc.send(mails[1])  # 3 to 3, the lowest patch decides: SVM again
        await svc.settle()
        (again,) = fake.messages_in(SVM)
        assert again.id != first.id and field(again, "Received") == "6/6"
        assert live(fake, again.thread_id) == [f"kvm-patchbot · series 1 · {i}/6" for i in range(1, 7)]
        # The catch-all channel kept one card throughout.
        (card,) = fake.messages_in(CARDS)
        assert len(live(fake, card.thread_id)) == 6
        assert await q.failed_deliveries(svc.app.store) == []


async def test_a_restart_between_the_decision_and_the_removal(tmp_path: Path) -> None:
    mails = svm_patches("crash", 3, {1, 2, 3})
    clock = FakeClock()
    async with _fake() as fake:
        async with service(fake, tmp_path, SUBS, settle_seconds=WINDOW, clock=clock) as svc:
            await _routed_by_window(svc, clock, mails[2], mails[3])
            (svm_card,) = fake.messages_in(SVM)
            fake.fail_next(10_000, route=DELETE_MESSAGE)  # the thread goes, the card's deletion fails
            await svc.send(mails[0])
            await fake.wait_for(lambda f: f.count_requests(DELETE_MESSAGE, status=503) >= 1, timeout=30)
            assert fake.state.channels.get(svm_card.thread_id) is None
            assert [m.id for m in fake.messages_in(SVM)] == [svm_card.id]
        fake.state.requests.clear()
        fake.faults.clear()
        async with service(fake, tmp_path, SUBS, settle_seconds=WINDOW, clock=clock) as svc:
            await svc.settle()
            assert fake.messages_in(SVM) == []
            # Done again from the start: the thread was gone already (10003), the card is deleted now.
            assert fake.count_requests(DELETE_CHANNEL, status=404) == 1
            assert fake.count_requests(DELETE_MESSAGE, status=204) == 1
            post = await svc.app.store.get_post(1, SVM)
            assert post is not None and post.card_message_id is None and post.removals == 1
            (card,) = fake.messages_in(CARDS)
            assert len(live(fake, card.thread_id)) == 2


async def test_without_manage_threads_our_messages_go_and_the_thread_is_archived(tmp_path: Path) -> None:
    mails = svm_patches("perm", 3, {1, 2, 3})
    clock = FakeClock()
    async with _fake(manage_threads=False) as fake, service(fake, tmp_path, SUBS, settle_seconds=WINDOW, clock=clock) as svc:
        await _routed_by_window(svc, clock, mails[2], mails[3])
        (svm_card,) = fake.messages_in(SVM)
        thread = svm_card.thread_id
        assert thread is not None
        reply = fake.post_as(thread, 820000000000000077, "a reviewer's note")
        await svc.send(mails[0])
        await svc.settle()
        assert fake.messages_in(SVM) == []  # the card is gone
        assert fake.count_requests(DELETE_CHANNEL, status=403) == 1  # Discord refused the thread
        # Ours are deleted in it (no Manage Messages needed), theirs stays; the thread is archived.
        assert [m.content for m in fake.messages_in(thread)] == [reply.content]
        assert fake.state.channels[thread].archived
        assert await q.failed_deliveries(svc.app.store) == []
        assert [s.enabled for s in await svc.app.store.list_subscriptions()] == [True, True]


async def test_in_any_order_the_svm_channel_ends_without_the_x86_series(tmp_path: Path) -> None:
    """Each mail in a window of its own, in orders that post the card before the
    cover or never: the SVM channel ends empty, the catch-all holds everything."""
    mails = svm_patches("any", 3, {1, 2, 3})
    for n, order in enumerate([(2, 3, 0, 1), (3, 1, 2, 0), (0, 3, 2, 1), (1, 0, 3, 2)]):
        clock = FakeClock()
        (tmp_path / str(n)).mkdir()
        async with _fake() as fake, service(fake, tmp_path / str(n), SUBS, settle_seconds=WINDOW, clock=clock) as svc:
            for i in order:
                await _routed_by_window(svc, clock, mails[i])
            assert fake.messages_in(SVM) == [], order
            (card,) = fake.messages_in(CARDS)
            assert field(card, "Received") == "3/3" and len(live(fake, card.thread_id)) == 3, order
            assert await q.failed_deliveries(svc.app.store) == []
