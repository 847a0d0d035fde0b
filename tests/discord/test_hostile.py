"""The bot against the strict fake with hostile mail and a hostile Discord.

In every case each delivery ends done, exactly once: no failed delivery, no
duplicated post (a post is named by its footer: the card of series N, patch
k/N, an alert), nothing left parked.
"""

from __future__ import annotations

import asyncio
import io
import logging
import sqlite3
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import event

from bot.cli import main as cli
from bot.config import Settings, SubscriptionConfig
from bot.delivery import DeliveryService
from bot.notify.notices import NO_THREADS_FOOTER
from bot.store import Store
from bot.store import delivery as q
from tests.helpers import diff
from tests.helpers import series
from tests.helpers import smtp_mail as mail
from tests.fakediscord import FAST_RATE_LIMITS, FakeDiscord, permissions, pointed_at

GUILD = 4400
CARDS, ALERTS = 4401, 4402
ROLE = 4455
POST = "POST /channels/{channel_id}/messages"
THREAD = "POST /channels/{channel_id}/messages/{message_id}/threads"
HISTORY = "GET /channels/{channel_id}/messages"
NO_THREADS = permissions.CREATE_PUBLIC_THREADS | permissions.SEND_MESSAGES_IN_THREADS


def strict(**knobs: Any) -> FakeDiscord:
    return FakeDiscord(
        guild_id=GUILD, channels=[(CARDS, "patches"), (ALERTS, "stable")], rate_limits=FAST_RATE_LIMITS, **knobs
    )


@asynccontextmanager
async def delivering(
    fake: FakeDiscord, store: Store, *, guild_ids: list[int] | None = None, gateway: bool = False, **knobs: Any
) -> AsyncIterator[DeliveryService]:
    """The service against `fake`; with `gateway`, once its gateway cache is ready
    (discord.py waits 2 s after the last GUILD_CREATE), for tests of gateway events."""
    settings = Settings(
        discord={"token": "hostile-token", "api_base_url": fake.api_base_url, "gateway_url": fake.gateway_url,
                 "guild_ids": [GUILD] if guild_ids is None else guild_ids},
        subscriptions=[SubscriptionConfig(guild=GUILD, channel=CARDS, alert_channel=ALERTS, alert_role=ROLE)],
    )
    with pointed_at(fake):
        service = await DeliveryService.start(
            settings, store, stream=io.StringIO(), coalesce_delay=0.05, backoff=(0.05, 0.2), **knobs
        )
        try:
            if gateway:  # permission changes from now on reach the bot
                await fake.wait_for(lambda f: f.state.gateway_connects, timeout=10)
                assert service.client is not None
                await asyncio.wait_for(service.client.wait_until_ready(), 10)
            yield service
        finally:
            await service.stop()


async def deliver(store: Store, service: DeliveryService, *raws: bytes) -> None:
    for raw in raws:
        await store.ingest(raw)
    service.wake()


async def assert_each_delivery_done_once(fake: FakeDiscord, store: Store) -> None:
    counts = await q.count_by_status(store)
    assert counts == {"done": await store.count("deliveries")}, counts
    posts = Counter(
        (m.channel_id, m.embeds[0]["footer"]["text"]) for m in fake.messages if m.embeds and not m.deleted
    )
    assert [p for p, n in posts.items() if n > 1] == []


def footers_in(fake: FakeDiscord, channel_id: int) -> list[str]:
    return [m.embeds[0]["footer"]["text"] for m in fake.messages_in(channel_id) if m.embeds]


# ---------------------------------------------------------------- a 700-character Message-ID


def huge_message_id(tag: str) -> str:
    """Legal (every character is atext), 699 characters, and a lore link of 2,100."""
    return ("%/#" * 229) + f"{tag}@example.com"


async def test_a_700_character_message_id_keeps_its_text_and_drops_only_the_link(store: Store) -> None:
    cover, one, two = series("huge", "Handle huge ids", 2)
    big = huge_message_id("c")
    cover = cover.replace(b"huge-0@example.com", big.encode())
    one = one.replace(b"huge-1@example.com", huge_message_id("p1").encode()).replace(
        b"huge-0@example.com", big.encode()
    )
    two = two.replace(b"huge-0@example.com", big.encode())
    async with strict() as fake, delivering(fake, store) as service:
        await deliver(store, service, cover, one, two)
        await service.wait_settled(timeout=30)
        assert [r for r in fake.requests if r.status >= 400] == []
        (card,) = fake.messages_in(CARDS)
        embed = card.embeds[0]
        assert embed["title"] == "[PATCH 0/2] KVM: x86: Handle huge ids" and "url" not in embed
        (thread,) = fake.threads
        patches = {m.embeds[0]["footer"]["text"].rsplit(" ", 1)[-1]: m.embeds[0] for m in fake.messages_in(thread.id)}
        assert sorted(patches) == ["1/2", "2/2"]
        assert "url" not in patches["1/2"]  # its own link and its series' are both too long
        assert patches["2/2"]["url"] == "https://lore.kernel.org/r/huge-2@example.com"
        assert all(len(m.embeds[0].get("url", "")) <= 2048 for m in fake.messages)
        await assert_each_delivery_done_once(fake, store)


# ---------------------------------------------------------------- markup in subjects and names

EVIL = "fix](https://evil.example/phish) (stable <#4401> </kvm status:1> <t:1700000000:R> <:kvm:1> @everyone ||x|| `c`"


async def test_markup_in_subjects_and_names_stays_text(store: Store) -> None:
    from tests.notify.discord_markdown import ANGLE, EVERYONE, links, live, unescape

    author = '"# Mal ||x|| @here <@&4455> [click](https://evil.example)" <mal@example.com>'
    trailers = (f'Fixes: 0123456789ab ("KVM: x86: [a](https://evil.example) <@&{ROLE}>")\n'
                "Cc: stable@vger.kernel.org\n")
    cover = mail("mk-0@example.com", f"[PATCH 0/1] KVM: x86: {EVIL}", "Cover.\n", author=author)
    one = mail("mk-1@example.com", f"[PATCH 1/1] KVM: x86: {EVIL}",
               f"A fix.\n\n{trailers}Signed-off-by: Mal <mal@example.com>\n" + diff("arch/x86/kvm/x86.c"),
               parent="mk-0@example.com", author=author)
    async with strict() as fake:
        fake.add_role(ROLE, "kvm-stable", mentionable=True)
        async with delivering(fake, store) as service:
            await deliver(store, service, cover, one)
            await service.wait_settled(timeout=30)
        (alert,) = fake.messages_in(ALERTS)
        assert alert.mention_roles == [ROLE] and not alert.mention_everyone
        for m in fake.messages:
            texts = [m.content] + [t for e in m.embeds for t in
                                   (e.get("title", ""), e.get("description", ""), *(f["value"] for f in e.get("fields", [])))]
            for text in texts:
                assert all(u.startswith(("https://lore.kernel.org/", "https://git.kernel.org/")) for u in links(text)), text
                assert not EVERYONE.search(live(text))
            live_angles = [a for t in texts for a in ANGLE.findall(live(t)) if not a.startswith("<http")]
            assert live_angles == ([f"<@&{str(ROLE)[0]}"] if m is alert else [])
            if m is not alert:
                assert m.mention_roles == [] and m.mention_users == [] and not m.mention_everyone
        card = fake.messages_in(CARDS)[0]
        assert unescape(card.embeds[0]["title"]) == f"[PATCH 0/1] KVM: x86: {EVIL}"  # the text, all of it
        await assert_each_delivery_done_once(fake, store)


# ---------------------------------------------------------------- a late cover


async def test_a_late_cover_renames_the_auto_archived_thread(store: Store) -> None:
    cover, *patches = series("late", "Arrive late", 3)
    async with strict() as fake, delivering(fake, store) as service:
        await deliver(store, service, *patches)
        await service.wait_settled(timeout=30)
        (thread,) = fake.threads
        assert thread.name == "v1 KVM: x86: Arrive late part 1"
        assert fake.advance(24 * 3600 + 60) == [thread]  # Discord archived it after a quiet day
        await deliver(store, service, cover)
        await service.wait_settled(timeout=30)
        await fake.wait_for(lambda f: thread.name == "v1 KVM: x86: Arrive late", timeout=10)
        assert not thread.archived  # reopened by the same request that renamed it
        assert [r.status for r in fake.requests if r.route == "PATCH /channels/{channel_id}"] == [200]
        (card,) = fake.messages_in(CARDS)
        assert card.embeds[0]["title"] == "[PATCH 0/3] KVM: x86: Arrive late" and card.edits >= 1
        await assert_each_delivery_done_once(fake, store)
    post = await store.get_post(card_series(card), CARDS)
    assert post is not None and post.thread_name == "v1 KVM: x86: Arrive late"


def card_series(card: Any) -> int:
    return int(card.embeds[0]["footer"]["text"].rsplit(" ", 1)[-1])


async def test_edits_of_an_hour_old_card_wait_out_30046(store: Store) -> None:
    cover, *patches = series("old", "Old card", 2)
    reviews = [
        mail(f"old-r{i}@example.com", "Re: [PATCH 1/2] KVM: x86: Old card part 1",
             f"> quoted\n\nReviewed-by: Reviewer {i} <r{i}@example.com>\n", parent="old-1@example.com", minutes=60 + i)
        for i in range(3)
    ]
    # One edit of an hour-old message per 0.3 s in the channel, and Discord says so with a 429.
    async with strict(old_message_edits=(1, 0.3)) as fake, delivering(fake, store) as service:
        await deliver(store, service, cover, *patches)
        await service.wait_settled(timeout=30)
        fake.advance(3601)
        for review in reviews:  # one at a time: each one is its own card edit
            await deliver(store, service, review)
            await service.wait_settled(timeout=30)
        (card,) = fake.messages_in(CARDS)
        reviewed = next(f["value"] for f in card.embeds[0]["fields"] if f["name"] == "Reviews")
        assert reviewed.startswith("Reviewed 1/2 — Reviewer 0, Reviewer 1, Reviewer 2")
        assert fake.count_requests("PATCH /channels/{channel_id}/messages/{message_id}", status=429) >= 1
        await assert_each_delivery_done_once(fake, store)


async def test_a_server_at_its_thread_limit_gets_patches_under_the_card(store: Store) -> None:
    async with strict() as fake, delivering(fake, store) as service:
        fake.max_active_threads = 1
        await deliver(store, service, *series("fl1", "First gets a thread", 2))
        await service.wait_settled(timeout=30)
        await deliver(store, service, *series("fl2", "Second does not", 2, minutes=5))
        await service.wait_settled(timeout=30)
        assert len(fake.threads) == 1 and fake.count_requests(THREAD, status=400) == 1
        assert len([m for m in fake.messages_in(CARDS) if m.message_reference]) == 2
        assert footers_in(fake, CARDS).count(NO_THREADS_FOOTER) == 0  # nothing for an admin to fix here
        await assert_each_delivery_done_once(fake, store)


# ---------------------------------------------------------------- no thread permissions


async def test_a_channel_without_thread_permissions_gets_patches_under_the_cards(store: Store) -> None:
    first = series("nt1", "No threads here", 3)
    second = series("nt2", "Still no threads", 2, minutes=5)
    third = series("nt3", "Threads again", 2, minutes=10)
    async with strict() as fake:
        fake.set_permissions(CARDS, deny=NO_THREADS)
        async with delivering(fake, store, gateway=True) as service:
            await deliver(store, service, *first[1:], first[0], *second)
            await service.wait_settled(timeout=30)
            assert fake.threads == []
            # Tried once for the channel, not once per series or event; then told once.
            assert fake.count_requests(THREAD, status=403) == 1
            assert footers_in(fake, CARDS).count(NO_THREADS_FOOTER) == 1
            cards = {card_series(m): m for m in fake.messages_in(CARDS) if m.embeds[0]["footer"]["text"].count("·") == 1
                     and "series" in m.embeds[0]["footer"]["text"]}
            replies = [m for m in fake.messages_in(CARDS) if m.message_reference]
            assert len(cards) == 2 and len(replies) == 5
            for reply in replies:
                sid = int(reply.embeds[0]["footer"]["text"].split(" · ")[1].split()[-1])
                assert reply.message_reference["message_id"] == str(cards[sid].id)
            received = {next(f["value"] for f in m.embeds[0]["fields"] if f["name"] == "Received") for m in cards.values()}
            assert received == {"3/3", "2/2"}
            # An admin grants the permissions: the next series gets its thread, and nobody is told again.
            fake.set_permissions(CARDS)
            await deliver(store, service, *third)
            await service.wait_settled(timeout=30)
            (thread,) = fake.threads
            assert thread.name == "v1 KVM: x86: Threads again"
            assert len(fake.messages_in(thread.id)) == 2
            assert footers_in(fake, CARDS).count(NO_THREADS_FOOTER) == 1
            await assert_each_delivery_done_once(fake, store)


# ---------------------------------------------------------------- permission lost for a while


async def test_permission_lost_parks_and_the_permission_change_resumes(store: Store) -> None:
    before, during = series("pl1", "Before the change", 2), series("pl2", "During the outage", 2, minutes=5)
    async with strict() as fake, delivering(fake, store, gateway=True) as service:
        fake.set_permissions(CARDS, deny=permissions.VIEW_CHANNEL)  # an admin's mistake: 50001
        await deliver(store, service, *before)
        await service.wait_idle(timeout=30)
        assert {d.channel_id for d in await q.list_deliveries(store, status=q.PARKED)} == {CARDS}
        refused = [r for r in fake.requests if r.status == 403]
        assert len(refused) == 1  # one refusal parks the channel
        await deliver(store, service, *during)  # mail keeps coming while it is parked
        await service.wait_idle(timeout=30)
        assert [r for r in fake.requests if r.status == 403] == refused  # nothing more is sent to be refused
        parked = await q.list_deliveries(store, status=q.PARKED)
        assert len(parked) == await store.count("deliveries") and "50001" in (parked[0].error or "")
        fake.set_permissions(CARDS)  # fixed (CHANNEL_UPDATE)
        await service.wait_settled(timeout=30)
        assert len(fake.messages_in(CARDS)) == 2 and len(fake.threads) == 2
        await assert_each_delivery_done_once(fake, store)


async def test_without_embed_links_nothing_is_posted_bare_and_the_change_resumes(store: Store) -> None:
    """Discord would drop a stable alert's embeds and refuse a card's: the bot
    parks the channel instead of posting a bare mention, and resumes once the
    permission is back."""
    stable = series("el", "Fix the widget", 1, patch_trailers="Cc: stable@vger.kernel.org\n")
    async with strict() as fake, delivering(fake, store, gateway=True) as service:
        fake.set_permissions(ALERTS, deny=permissions.EMBED_LINKS)
        await deliver(store, service, *stable)
        await service.wait_idle(timeout=30)
        assert fake.messages_in(ALERTS) == []  # no alert without its embed
        assert {d.channel_id for d in await q.list_deliveries(store, status=q.PARKED)} == {ALERTS}
        assert "Embed Links" in ((await q.list_deliveries(store, status=q.PARKED))[0].error or "")
        fake.set_permissions(ALERTS)  # CHANNEL_UPDATE
        await service.wait_settled(timeout=30)
        (alert,) = fake.messages_in(ALERTS)
        assert alert.embeds and f"<@&{ROLE}>" in alert.content
        await assert_each_delivery_done_once(fake, store)


async def test_parked_deliveries_are_retried_on_a_timer(store: Store) -> None:
    async with strict() as fake, delivering(fake, store, park_retry=0.2, park_sweep=0.05) as service:
        fake.set_permissions(CARDS, deny=permissions.SEND_MESSAGES)
        await deliver(store, service, *series("tm", "Timer", 2))
        await fake.wait_for(lambda f: f.count_requests(POST, status=403) >= 1, timeout=10)
        fake.set_permissions(CARDS, dispatch=False)  # a change the bot never saw
        await service.wait_settled(timeout=30)
        assert len(fake.messages_in(CARDS)) == 1
        await assert_each_delivery_done_once(fake, store)


async def test_parked_deliveries_are_retried_by_hand(store: Store, capsys: pytest.CaptureFixture[str]) -> None:
    async with strict() as fake, delivering(fake, store, park_sweep=0.05) as service:
        fake.set_permissions(CARDS, deny=permissions.SEND_MESSAGES)
        await deliver(store, service, *series("bh", "By hand", 2))
        await service.wait_idle(timeout=30)
        total = await store.count("deliveries")
        assert len(await q.list_deliveries(store, status=q.PARKED)) == total
        fake.set_permissions(CARDS, dispatch=False)
        url = store.engine.url.render_as_string(hide_password=False)
        assert await asyncio.to_thread(cli, ["deliveries", "--db", url, "list"]) == 0
        listed = capsys.readouterr().out.splitlines()
        assert len(listed) == total and all(f"channel {CARDS} parked" in line and "50013" in line for line in listed)
        assert await asyncio.to_thread(cli, ["deliveries", "--db", url, "retry", "--channel", str(CARDS)]) == 0
        assert capsys.readouterr().out.startswith(f"{total} deliveries to channel {CARDS} pending again")
        await service.wait_settled(timeout=30)
        assert len(fake.messages_in(CARDS)) == 1
        await assert_each_delivery_done_once(fake, store)


# ---------------------------------------------------------------- a store outage past the nonce window


@dataclass
class Outage:
    on: bool = False
    refused: int = 0
    enough: asyncio.Event | None = None
    wanted: int = 3


@contextmanager
def store_outage(store: Store, refused: str = "INSERT INTO POSTS") -> Iterator[Outage]:
    """Statements starting with `refused` fail while `on`, as on a failing disk.
    By default recording a posted card: routing's inserts still commit, so the
    bot posts, and cannot record that it did."""
    outage = Outage(enough=asyncio.Event())

    def refuse(conn: Any, cursor: Any, statement: str, params: Any, context: Any, many: bool) -> None:
        if outage.on and statement.lstrip().upper().startswith(refused):
            outage.refused += 1
            if outage.refused >= outage.wanted and outage.enough is not None:
                outage.enough.set()
            raise sqlite3.OperationalError("disk I/O error (injected store outage)")

    event.listen(store.engine.sync_engine, "before_cursor_execute", refuse)
    try:
        yield outage
    finally:
        event.remove(store.engine.sync_engine, "before_cursor_execute", refuse)


async def test_a_store_outage_longer_than_the_nonce_window_posts_nothing_twice(store: Store) -> None:
    # nonce_window=0: every retry comes "after the window", as after a long outage.
    async with strict(nonce_window=0.0) as fake, delivering(fake, store) as service:
        with store_outage(store) as outage:
            outage.on = True
            await deliver(store, service, *series("so", "Store outage", 2))
            assert outage.enough is not None
            await asyncio.wait_for(outage.enough.wait(), 30)  # posted, and failed to record it, 3 times
            outage.on = False
        await service.wait_settled(timeout=30)
        assert len(fake.messages_in(CARDS)) == 1
        assert fake.count_requests(POST, status=200) == 3  # card and two patches: nothing re-sent
        await assert_each_delivery_done_once(fake, store)


async def test_a_restart_after_the_nonce_window_adopts_what_was_posted(store: Store) -> None:
    async with strict(nonce_window=0.0) as fake:
        async with delivering(fake, store) as service:
            with store_outage(store) as outage:
                outage.on, outage.wanted = True, 1
                await deliver(store, service, *series("rs", "Restart", 2))
                assert outage.enough is not None
                await asyncio.wait_for(outage.enough.wait(), 30)  # the card is out, unrecorded
        assert len(fake.messages_in(CARDS)) == 1
        async with delivering(fake, store) as service:  # the store is back, the window long past
            await service.wait_settled(timeout=30)
        assert len(fake.messages_in(CARDS)) == 1
        assert fake.count_requests(HISTORY) >= 1  # it looked before sending again
        await assert_each_delivery_done_once(fake, store)


async def test_a_store_down_at_start_up_only_delays_delivery(store: Store) -> None:
    async with strict() as fake:
        with store_outage(store, refused="UPDATE DELIVERIES") as outage:
            outage.on, outage.wanted = True, 1
            async with delivering(fake, store) as service:
                assert outage.enough is not None
                await asyncio.wait_for(outage.enough.wait(), 30)  # the worker could not start
                await deliver(store, service, *series("sd", "Store down", 2))
                outage.on = False
                await service.wait_settled(timeout=30)
        assert len(fake.messages_in(CARDS)) == 1
        await assert_each_delivery_done_once(fake, store)


async def test_each_stable_patch_keeps_its_own_alert_across_a_restart(store: Store) -> None:
    cover, one, two = series("st", "Two for stable", 2, patch_trailers="Cc: stable@vger.kernel.org\n")
    async with strict() as fake:
        async with delivering(fake, store) as service:
            await deliver(store, service, cover, one)
            await service.wait_settled(timeout=30)
        async with delivering(fake, store) as service:  # a fresh start looks before it sends
            await deliver(store, service, two)
            await service.wait_settled(timeout=30)
        assert sorted(footers_in(fake, ALERTS)) == ["kvm-patchbot · series 1 · 1/2 · stable",
                                                    "kvm-patchbot · series 1 · 2/2 · stable"]
        await assert_each_delivery_done_once(fake, store)


# ---------------------------------------------------------------- configuration mistakes


async def test_a_bad_guild_id_is_logged_and_the_rest_keeps_running(
    store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.ERROR, logger="bot.discord.client")
    async with strict() as fake, delivering(fake, store, guild_ids=[123456789, GUILD]) as service:
        await deliver(store, service, mail("bg@example.com", "[PATCH] KVM: x86: Bad guild", "A fix.\n"))
        await service.wait_settled(timeout=30)
        assert len(fake.messages_in(CARDS)) == 1
        # The good guild still got every slash command.
        assert {c["name"] for c in fake.state.guild_commands[GUILD]} == {
            "kvm", "subscribe", "unsubscribe", "subscriptions", "series", "stable", "fixes", "digest", "stats",
        }
    (record,) = [r for r in caplog.records if "guild_ids" in r.getMessage()]
    assert "123456789" in record.getMessage()


async def test_the_park_retry_comes_from_the_settings(store: Store) -> None:
    async with strict() as fake:
        settings = Settings(discord={"token": "hostile-token", "api_base_url": fake.api_base_url,
                                     "gateway_url": fake.gateway_url, "park_retry_seconds": 45})
        with pointed_at(fake):
            service = await DeliveryService.start(settings, store, stream=io.StringIO())
            try:
                assert service.worker.parking.retry_after == 45
                assert service.worker.fallback.full_retry == 45  # threads refused: the same pause
            finally:
                await service.stop()
