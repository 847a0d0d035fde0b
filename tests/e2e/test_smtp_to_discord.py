"""Mail in through SMTP, posts observed in the fake Discord."""

from __future__ import annotations

from pathlib import Path

from bot.store import delivery as q
from tests.fakediscord import FAST_RATE_LIMITS, FakeDiscord

from tests.notify.discord_markdown import ANGLE, live

from .harness import ALERTS, CARDS, GUILD, ROLE, field, footers, service
from tests.helpers import series, single

POST = "POST /channels/{channel_id}/messages"


def _fake() -> FakeDiscord:
    return FakeDiscord(guild_id=GUILD, channels=[(CARDS, "patches"), (ALERTS, "stable")], rate_limits=FAST_RATE_LIMITS)


async def test_out_of_order_series_one_card_one_thread_every_patch_once(tmp_path: Path) -> None:
    mails = series("ooo", "Rework the frobnicator", 4)
    async with _fake() as fake, service(fake, tmp_path) as svc:
        await svc.send(mails[3], mails[1])
        await svc.settle()
        (card,) = fake.messages_in(CARDS)
        assert field(card, "Received") == "2/4 (missing 2, 4)"
        await svc.send(mails[4], mails[0], mails[2])
        await svc.settle()
        (card,) = fake.messages_in(CARDS)
        assert len(fake.threads) == 1 and card.thread_id == fake.threads[0].id
        assert field(card, "Received") == "4/4" and card.edits >= 1
        assert card.embeds[0]["title"] == "[PATCH 0/4] KVM: x86: Rework the frobnicator"
        in_thread = sorted(footers(fake, card.thread_id))
        assert in_thread == [f"kvm-patchbot · series 1 · {i}/4" for i in range(1, 5)]
        # Named from the first patch seen, renamed once the cover gave the series its title.
        assert fake.threads[0].name == "v1 KVM: x86: Rework the frobnicator"


async def test_v2_links_to_v1_and_v1_says_superseded(tmp_path: Path) -> None:
    v1 = series("w1", "Teach the widget", 2)
    v2 = series("w2", "Teach the widget", 2, version=2, minutes=90,
                cover_extra="v1: https://lore.kernel.org/r/w1-0@example.com\n")
    async with _fake() as fake, service(fake, tmp_path) as svc:
        await svc.send(*v1)
        await svc.settle()
        await svc.send(*v2)
        await svc.settle()
        card1, card2 = fake.messages_in(CARDS)
        link1 = f"https://discord.com/channels/{GUILD}/{CARDS}/{card1.id}"
        link2 = f"https://discord.com/channels/{GUILD}/{CARDS}/{card2.id}"
        assert field(card2, "Version") == f"v2 · previous: [v1]({link1})"
        assert field(card1, "Status") == f"Superseded by [v2]({link2})"


async def test_stable_alert_is_the_only_mention_and_mail_text_is_escaped(tmp_path: Path) -> None:
    evil = single(
        "evil@example.com",
        "[PATCH] KVM: x86: Fix **everything** @everyone <@&123456789012345678> ||now||",
        trailers='Fixes: 0123456789ab ("KVM: x86: old")\nCc: stable@vger.kernel.org # 6.1+\n',
    )
    plain = single("plain@example.com", "[PATCH] KVM: x86: Tidy @here", minutes=5)
    async with _fake() as fake, service(fake, tmp_path) as svc:
        fake.add_role(ROLE, "kvm-stable", mentionable=True)
        fake.add_role(123456789012345678, "someone-elses")
        await svc.send(evil, plain)
        await svc.settle()
        (alert,) = fake.messages_in(ALERTS)
        assert alert.content.startswith(f"<@&{ROLE}> Stable request: [")
        assert alert.allowed_mentions == {"parse": [], "roles": [ROLE]}
        others = [m for m in fake.messages if m is not alert]
        assert len(others) == 2  # two cards; single patches get no thread
        for m in others:
            assert m.allowed_mentions == {"parse": []}
            assert not m.content
        evil_card = fake.messages_in(CARDS)[0]
        title = evil_card.embeds[0]["title"]
        assert title == "[PATCH] KVM: x86: Fix \\*\\*everything\\*\\* \\@everyone \\<@&123456789012345678\\> \\|\\|now\\|\\|"
        assert field(evil_card, "Badges") == "stable (6.1+)"
        # The alert text escapes the subject too: the role id in it cannot ping.
        assert ANGLE.findall(live(alert.content)) == ["<@&5"]
        assert alert.mention_roles == [ROLE] and not alert.mention_everyone  # as Discord resolves them
        assert all(m.mention_roles == [] and not m.mention_everyone for m in others)


async def test_429s_and_an_outage_lose_and_duplicate_nothing(tmp_path: Path) -> None:
    first = series("r1", "Survive the storm", 3)
    second = series("r2", "Survive the outage", 3, minutes=30)
    third = series("r3", "Drain the outbox", 2, minutes=60)
    async with _fake() as fake, service(fake, tmp_path) as svc:
        fake.rate_limit_next(4, route=POST, retry_after=0.05)
        await svc.send(*first)
        await svc.settle()
        assert fake.count_requests(POST, status=429) == 4
        # A long Discord outage, driven by the fake's switch rather than by the clock.
        await fake.set_outage("503")
        await svc.send(*second)
        await fake.wait_for(lambda f: sum(r.status == 503 for r in f.requests) >= 3, timeout=10)
        await fake.set_outage("refuse")
        await svc.send(*third)
        assert await q.pending_count(svc.app.store) > 0
        await fake.set_outage(None)
        await svc.settle(timeout=60)
        got = footers(fake)
        assert len(got) == len(set(got)) == 3 + 3 + 3 + 2  # cards + patch messages
        # kvmbot_discord_requests_total counted what the fake answered, 429s and 503s included.
        def counted(status: str) -> float | None:
            return svc.app.metrics.registry.get_sample_value("kvmbot_discord_requests_total", {"status": status})

        for status in (429, 503):
            assert counted(str(status)) == sum(r.status == status for r in fake.requests) > 0
        assert (counted("error") or 0) > 0  # the refused connections
        assert len(fake.threads) == 3
        for card in fake.messages_in(CARDS):
            total = card.embeds[0]["title"].split()[1].split("/")[1].rstrip("]")
            assert field(card, "Received") == f"{total}/{total}"


async def test_reviews_and_applied_notice_edit_the_card(tmp_path: Path) -> None:
    from tests.helpers import smtp_mail as mail

    posting = series("t", "Teach the widget", 2)
    review = mail("rv@example.com", "Re: [PATCH 1/2] KVM: x86: Teach the widget part 1",
                  "On Mon, Alice wrote:\n> stuff\n\nReviewed-by: Bob Reviewer <bob@example.com>\n",
                  parent="t-1@example.com", minutes=5, author="Bob Reviewer <bob@example.com>")
    applied = mail(
        "ap@example.com", "Re: [PATCH 0/2] KVM: x86: Teach the widget",
        "On Mon, 02 Jun 2025 10:00:00 +0000, Alice Dev wrote:\n> stuff\n\nApplied to kvm-x86 misc, thanks!\n\n"
        "[1/2] KVM: x86: Teach the widget part 1\n      https://github.com/kvm-x86/linux/commit/0123456789ab\n"
        "[2/2] KVM: x86: Teach the widget part 2\n      https://github.com/kvm-x86/linux/commit/abcdef012345\n",
        parent="t-0@example.com", minutes=9, author="Sean Christopherson <seanjc@google.com>",
    )
    async with _fake() as fake, service(fake, tmp_path) as svc:
        await svc.send(*posting)
        await svc.settle()
        await svc.send(review)
        await svc.settle()
        (card,) = fake.messages_in(CARDS)
        assert field(card, "Reviews") == "Reviewed 1/2 — Bob Reviewer; missing 2"
        await svc.send(applied)
        await svc.settle()
        (card,) = fake.messages_in(CARDS)
        assert field(card, "Status") == (
            "Applied all to kvm-x86 misc: "
            "[`0123456789ab`](https://github.com/kvm-x86/linux/commit/0123456789ab) "
            "[`abcdef012345`](https://github.com/kvm-x86/linux/commit/abcdef012345)"
        )
        assert len(footers(fake)) == 3  # edits only: no new posts for replies
        # Patch 1's thread message was edited once per change: its review, then its applied state.
        part1 = next(m for m in fake.messages_in(card.thread_id) if m.embeds[0]["footer"]["text"].endswith("1/2"))
        part2 = next(m for m in fake.messages_in(card.thread_id) if m.embeds[0]["footer"]["text"].endswith("2/2"))
        assert field(part1, "Reviewed-by") == "Bob Reviewer \\<bob@example.com\\>"
        assert field(part1, "Status") == (
            "applied to kvm-x86 misc: [`0123456789ab`](https://github.com/kvm-x86/linux/commit/0123456789ab)"
        )
        assert (part1.edits, part2.edits) == (2, 1)  # patch 2 changed only when applied


async def test_a_fix_reposted_in_v2_edits_its_one_alert_and_pings_no_one_again(tmp_path: Path) -> None:
    stable = 'Fixes: 0123456789ab ("KVM: x86: old")\nCc: stable@vger.kernel.org\n'
    v1 = single("fix1@example.com", "[PATCH] KVM: x86: Fix the frobnicator", trailers=stable)
    v2 = single("fix2@example.com", "[PATCH v2] KVM: x86: Fix the frobnicator", trailers=stable, minutes=60)
    async with _fake() as fake, service(fake, tmp_path) as svc:
        fake.add_role(ROLE, "kvm-stable", mentionable=True)
        await svc.send(v1)
        await svc.settle()
        await svc.send(v2)
        await svc.settle()
        (alert,) = fake.messages_in(ALERTS)  # one alert for the fix, whatever its versions
        assert alert.edits == 1  # v1's alert (its one ping), edited for v2
        assert alert.content.startswith("Stable request (re-posted in v2): [")
        assert "fix2@example.com" in alert.content and "<@&" not in alert.content
        assert len(fake.messages_in(CARDS)) == 2  # each version still gets its card
        assert not fake.threads  # single patches: no one-message threads


async def test_backports_get_no_card_by_default_and_never_ping(tmp_path: Path) -> None:
    from bot.config import SubscriptionConfig, SubscriptionFilter

    from .harness import GUILD

    autosel = single("as@example.com", "[PATCH AUTOSEL 6.1 07/19] KVM: x86: Fix the frobnicator",
                     trailers="Cc: stable@vger.kernel.org\n")
    subs = [
        SubscriptionConfig(guild=GUILD, channel=CARDS, alert_channel=ALERTS, alert_role=ROLE),
        SubscriptionConfig(guild=GUILD, channel=ALERTS, filter=SubscriptionFilter(kinds=["backport"]),
                           single_threads=True),
    ]
    async with _fake() as fake, service(fake, tmp_path, subs) as svc:
        await svc.send(autosel)
        await svc.settle()
        assert fake.messages_in(CARDS) == []  # no series card for stable-queue traffic
        (card,) = fake.messages_in(ALERTS)  # only where a filter asks for backports, and no alert
        assert "backport" in field(card, "Badges") and not card.content and card.mention_roles == []
        assert len(fake.threads) == 1  # single_threads: that subscription wants a thread even for one patch
