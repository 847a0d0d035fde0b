"""The delivery worker against the fake Discord through unmodified discord.py."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from bot.config import Settings, SubscriptionConfig
from bot.discord.sender import DiscordSink
from bot.delivery import DeliveryService
from bot.store import Store
from bot.store import delivery as q
from tests.fakediscord import FAST_RATE_LIMITS, FakeDiscord, pointed_at

GUILD = 4000
CARDS, ALERTS = 4101, 4102
ROLE = 4555
POST = "POST /channels/{channel_id}/messages"
THREAD = "POST /channels/{channel_id}/messages/{message_id}/threads"
EDIT = "PATCH /channels/{channel_id}/messages/{message_id}"


@asynccontextmanager
async def delivering(fake: FakeDiscord, store: Store, **sub: object) -> AsyncIterator[DeliveryService]:
    settings = Settings(
        discord={"token": "test-token", "api_base_url": fake.api_base_url, "gateway_url": fake.gateway_url,
                 "guild_ids": [GUILD]},
        subscriptions=[SubscriptionConfig(guild=GUILD, channel=CARDS, alert_channel=ALERTS, alert_role=ROLE, **sub)],
    )
    with pointed_at(fake):
        service = await DeliveryService.start(settings, store, stream=io.StringIO(), coalesce_delay=0.05, backoff=(0.05, 0.2))
        try:
            yield service
        finally:
            await service.stop()


def _cards(fake: FakeDiscord) -> list:
    return [m for m in fake.messages_in(CARDS)]


async def test_series_cards_threads_alerts_and_mentions(store: Store, seeds: list[bytes]) -> None:
    async with FakeDiscord(guild_id=GUILD, channels=[(CARDS, "patches"), (ALERTS, "stable")], rate_limits=FAST_RATE_LIMITS) as fake:
        async with delivering(fake, store) as service:
            # The 8-patch series out of order: patches 8..5 first, then the rest.
            singles_and_small, pir = seeds[:9], seeds[9:]
            for raw in singles_and_small:
                await store.ingest(raw)
            for raw in reversed(pir[5:]):
                await store.ingest(raw)
            service.wake()
            await service.wait_idle(timeout=30)
            first = [m for m in _cards(fake) if "PIR" in m.embeds[0]["title"]]
            assert len(first) == 1
            for raw in pir[:5]:
                await store.ingest(raw)
            service.wake()
            await service.wait_idle(timeout=30)
    cards = _cards(fake)
    assert len(cards) == 7  # one card per series, nothing else in the card channel
    alerts = fake.messages_in(ALERTS)
    assert len(alerts) == 1
    assert [m for m in cards if m.content] == []
    # The two series get a thread each; a single patch's card says it all.
    real_cards = [m for m in cards if m.thread_id is not None]
    assert len(real_cards) == 2 and len(fake.threads) == 2
    pir_card = next(m for m in real_cards if "PIR" in m.embeds[0]["title"])
    received = next(f["value"] for f in pir_card.embeds[0]["fields"] if f["name"] == "Received")
    assert received == "8/8" and pir_card.edits >= 1
    pir_thread = fake.messages_in(pir_card.thread_id)
    assert sorted(m.embeds[0]["footer"]["text"] for m in pir_thread) == [
        f"kvm-patchbot · series {pir_card.embeds[0]['footer']['text'].split()[-1]} · {i}/8" for i in range(1, 9)
    ]
    # The only mention the bot ever makes: the stable role, on the alert.
    (alert,) = alerts
    assert alert.content.startswith(f"<@&{ROLE}> Stable request:")
    assert alert.allowed_mentions == {"parse": [], "roles": [ROLE]}
    for m in fake.messages:
        if m is not alert:
            assert m.allowed_mentions == {"parse": []}, m.allowed_mentions


async def test_429s_and_an_outage_lose_and_duplicate_nothing(store: Store, seeds: list[bytes]) -> None:
    async with FakeDiscord(guild_id=GUILD, channels=[(CARDS, "patches"), (ALERTS, "stable")], rate_limits=FAST_RATE_LIMITS) as fake:
        async with delivering(fake, store) as service:
            fake.rate_limit_next(3, route=POST, retry_after=0.05)
            for raw in seeds[:5]:
                await store.ingest(raw)
            service.wake()
            await fake.wait_for(lambda f: f.count_requests(POST, status=429) == 3, timeout=10)
            await service.wait_idle(timeout=30)
            # Discord goes away (503s, then refused connections) while mail keeps coming.
            await fake.set_outage("503")
            for raw in seeds[5:12]:
                await store.ingest(raw)
            service.wake()
            await fake.wait_for(lambda f: sum(r.status == 503 for r in f.requests) >= 2, timeout=10)
            await fake.set_outage("refuse")
            for raw in seeds[12:]:
                await store.ingest(raw)
            service.wake()
            assert await q.pending_count(store) > 0
            await fake.set_outage(None)
            await service.wait_idle(timeout=60)
    # Footers name what a post is (card, patch k/N, alert): each exactly once.
    footers = [m.embeds[0]["footer"]["text"] for m in fake.messages if not m.deleted]
    # cards, the two series' 3 + 8 patches (a single patch gets no thread), one alert
    assert len(footers) == len(set(footers)) == 7 + 11 + 1
    assert len(fake.threads) == 2
    assert await q.count_by_status(store) == {"done": await store.count("deliveries")}


async def test_a_refusal_parks_until_permissions_change_and_a_deleted_channel_disables(
    store: Store, seeds: list[bytes]
) -> None:
    async with FakeDiscord(guild_id=GUILD, channels=[(CARDS, "patches"), (ALERTS, "stable")], rate_limits=FAST_RATE_LIMITS) as fake:
        fake.set_forbidden(ALERTS)
        async with delivering(fake, store) as service:
            for raw in seeds[:9]:
                await store.ingest(raw)
            service.wake()
            await service.wait_idle(timeout=30)
            parked = await q.list_deliveries(store, status=q.PARKED)
            assert [d.channel_id for d in parked] == [ALERTS]
            assert "50013" in (parked[0].error or "")
            assert fake.count_requests(POST, status=403) == 1  # one refused request, no retry storm
            assert await q.failed_deliveries(store) == []
            fake.set_forbidden(ALERTS, False)  # CHANNEL_UPDATE: the bot retries at once
            await service.wait_settled(timeout=30)
            assert len(fake.messages_in(ALERTS)) == 1
            assert await q.count_by_status(store) == {"done": await store.count("deliveries")}
            # A deleted channel disables its subscriptions and fails what was queued for it.
            fake.delete_channel(CARDS)
            for raw in seeds[9:]:
                await store.ingest(raw)
            service.wake()
            await service.wait_idle(timeout=30)
    subs = await store.list_subscriptions()
    assert [s.enabled for s in subs] == [False]
    assert await q.pending_count(store) == 0


async def test_retried_thread_creation_recovers_the_thread(store: Store) -> None:
    async with FakeDiscord(guild_id=GUILD, channels=[(CARDS, "patches")], rate_limits=FAST_RATE_LIMITS) as fake:
        from bot.discord.client import make_client
        from bot.notify.models import Embed, Post

        with pointed_at(fake):
            settings = Settings(discord={"token": "t", "api_base_url": fake.api_base_url, "gateway_url": fake.gateway_url})
            client = make_client(settings, store)
            await client.login("t")
            try:
                sink = DiscordSink(client)
                mid = await sink.send(CARDS, Post(embeds=(Embed(title="card"),)), nonce="n1")
                again = await sink.send(CARDS, Post(embeds=(Embed(title="card"),)), nonce="n1")
                assert again == mid  # the nonce de-duplicates a retried send
                tid = await sink.start_thread(CARDS, mid, "v1 thing")
                assert await sink.start_thread(CARDS, mid, "v1 thing") == tid == mid
            finally:
                await client.close()
    assert len(fake.threads) == 1
    assert fake.count_requests(THREAD, status=400) == 1


async def test_discord_down_at_start_up_then_the_outbox_drains(store: Store, seeds: list[bytes]) -> None:
    async with FakeDiscord(guild_id=GUILD, channels=[(CARDS, "patches"), (ALERTS, "stable")], rate_limits=FAST_RATE_LIMITS) as fake:
        await fake.set_outage("refuse")
        async with delivering(fake, store) as service:
            for raw in seeds[:5]:
                await store.ingest(raw)
            service.wake()
            assert await q.pending_count(store) == 0 and await store.last_event_id() > 0
            await fake.set_outage(None)
            await service.wait_idle(timeout=30)
        assert len(fake.messages_in(CARDS)) == 2  # a single patch and the 3-patch series


async def test_status_slash_command(store: Store, seeds: list[bytes]) -> None:
    async with FakeDiscord(guild_id=GUILD, channels=[(CARDS, "patches"), (ALERTS, "stable")], rate_limits=FAST_RATE_LIMITS) as fake:
        async with delivering(fake, store) as service:
            await store.ingest(seeds[0])
            service.wake()
            await service.wait_idle(timeout=30)
            await service.client.wait_until_ready()  # type: ignore[union-attr]
            record = fake.interact("kvm", [{"type": 1, "name": "status"}], channel_id=CARDS)
            await fake.wait_for(lambda f: record.followup_ids, timeout=10)
    (answer,) = record.callbacks
    # Deferred first (a slow store must not miss Discord's 3 s), then answered.
    assert answer["type"] == 5 and answer["data"]["flags"] == 64  # ephemeral
    original = fake.state.messages_by_id[record.original_message_id]
    assert original.content == "kvm-patchbot deliveries: 3 done" and original.flags & 64


async def test_a_deleted_thread_sends_its_patches_under_the_card(store: Store, seeds: list[bytes]) -> None:
    async with FakeDiscord(guild_id=GUILD, channels=[(CARDS, "patches"), (ALERTS, "stable")], rate_limits=FAST_RATE_LIMITS) as fake:
        async with delivering(fake, store) as service:
            for raw in seeds[9:12]:  # the 8-patch cover and patches 1-2
                await store.ingest(raw)
            service.wake()
            await service.wait_idle(timeout=30)
            (thread,) = fake.threads
            fake.delete_channel(thread.id)
            await store.ingest(seeds[12])
            await store.ingest(seeds[13])
            service.wake()
            await service.wait_idle(timeout=30)
    assert await q.failed_deliveries(store) == []
    (card,) = [m for m in fake.messages_in(CARDS) if m.thread_id is not None]
    under = [m for m in fake.messages_in(CARDS) if m.message_reference]
    assert [m.embeds[0]["footer"]["text"].rsplit(" ", 1)[-1] for m in under] == ["3/8", "4/8"]
    assert all(m.message_reference["message_id"] == str(card.id) for m in under)
    assert fake.count_requests(POST, status=404) == 1  # the deleted thread is tried once
    assert [s.enabled for s in await store.list_subscriptions()] == [True]
