"""Routing waits for what decides it: a series' cover or patch 1, or the settle window."""

from __future__ import annotations

from pathlib import Path

from bot.config import SubscriptionConfig, SubscriptionFilter
from tests.fakediscord import FAST_RATE_LIMITS, FakeDiscord

from .harness import CARDS, GUILD, FakeClock, field, footers, service
from .mails import series, single

SVM = 5103
SUBS = [
    SubscriptionConfig(guild=GUILD, channel=CARDS),
    SubscriptionConfig(guild=GUILD, channel=SVM, filter=SubscriptionFilter(subsystems=["KVM: SVM"])),
]


def _fake() -> FakeDiscord:
    return FakeDiscord(guild_id=GUILD, channels=[(CARDS, "patches"), (SVM, "svm")], rate_limits=FAST_RATE_LIMITS)


async def test_a_series_waits_for_its_cover_then_posts_patches_in_index_order(tmp_path: Path) -> None:
    mails = series("st", "Rework the frobnicator", 4)
    # Patch 3 says SVM; the cover and the other patches say x86.
    mails[3] = mails[3].replace(b"KVM: x86: Rework the frobnicator part 3", b"KVM: SVM: Rework the frobnicator part 3")
    clock = FakeClock()
    async with _fake() as fake, service(fake, tmp_path, SUBS, settle_seconds=180, clock=clock) as svc:
        await svc.send(mails[3], mails[4], mails[2])
        await svc.delivery.worker.wait_quiet(30)
        assert fake.messages_in(CARDS) == [] and fake.messages_in(SVM) == []  # held: nothing decides it yet
        await svc.send(mails[0])  # the cover: routed at once
        await svc.delivery.worker.wait_quiet(30)
        (card,) = fake.messages_in(CARDS)
        assert fake.messages_in(SVM) == []  # its subsystem is the cover's, not patch 3's
        assert field(card, "Received") == "3/4 (missing 1)"
        assert footers(fake, card.thread_id) == []  # 2..4 wait for patch 1
        await svc.send(mails[1])
        await svc.settle()
        assert footers(fake, card.thread_id) == [f"kvm-patchbot · series 1 · {i}/4" for i in range(1, 5)]


async def test_without_a_cover_or_patch_1_the_window_decides(tmp_path: Path) -> None:
    mails = series("sw", "Teach the widget", 3)
    clock = FakeClock()
    async with _fake() as fake, service(fake, tmp_path, SUBS, settle_seconds=180, clock=clock) as svc:
        await svc.send(mails[3], mails[2])
        await svc.delivery.worker.wait_quiet(30)
        assert fake.messages_in(CARDS) == []
        clock.advance(179)
        await svc.delivery.worker.wait_quiet(30)
        assert fake.messages_in(CARDS) == []
        clock.advance(2)
        await svc.settle()
        (card,) = fake.messages_in(CARDS)
        assert field(card, "Received") == "2/3 (missing 1)"
        assert footers(fake, card.thread_id) == ["kvm-patchbot · series 1 · 2/3", "kvm-patchbot · series 1 · 3/3"]


async def test_a_single_patch_is_routed_at_once(tmp_path: Path) -> None:
    clock = FakeClock()
    async with _fake() as fake, service(fake, tmp_path, SUBS, settle_seconds=180, clock=clock) as svc:
        await svc.send(single("one@example.com", "[PATCH] KVM: x86: Fix one thing"))
        await svc.settle()
        assert len(fake.messages_in(CARDS)) == 1
