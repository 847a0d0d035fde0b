"""Taking a card down: on each store (two delivery processes on PostgreSQL,
one holding the channel's claim), with patches posted under the card, and in
preview mode."""

from __future__ import annotations

import asyncio
import io
import json
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path

from bot.config import Settings, SubscriptionConfig, SubscriptionFilter
from bot.delivery import DeliveryService
from bot.store import Store
from bot.store import delivery as q
from tests.fakediscord import FAST_RATE_LIMITS, FakeDiscord, permissions, pointed_at
from tests.helpers import patch_body, raw_mail

GUILD, CARDS, SVM = 5000, 5101, 5103
SUBS = [
    SubscriptionConfig(guild=GUILD, channel=CARDS),
    SubscriptionConfig(guild=GUILD, channel=SVM, filter=SubscriptionFilter(subsystems=["KVM: SVM"])),
]
DELETE_MESSAGE = "DELETE /channels/{channel_id}/messages/{message_id}"
DELETE_CHANNEL = "DELETE /channels/{channel_id}"


def cover(n: int) -> bytes:
    return raw_mail("t-0@x", f"[PATCH 0/{n}] KVM: x86: Rework it", "Cover text.\n")


def svm_patch(i: int, n: int) -> bytes:
    return raw_mail(f"t-{i}@x", f"[PATCH {i}/{n}] KVM: SVM: Rework it part {i}", patch_body(f"part {i}"),
                    irt="t-0@x", at=i)


def _settings(fake: FakeDiscord | None, tmp: Path | None = None) -> Settings:
    if fake is None:
        assert tmp is not None
        return Settings(discord={"preview_file": tmp / "preview.jsonl"}, subscriptions=SUBS)
    return Settings(
        discord={"token": "t", "api_base_url": fake.api_base_url, "gateway_url": fake.gateway_url},
        subscriptions=SUBS,
    )


@asynccontextmanager
async def processes(fake: FakeDiscord, store: Store) -> AsyncIterator[list[DeliveryService]]:
    """Two delivery processes on PostgreSQL (each its own claims connection), one on SQLite."""
    count = 2 if store.engine.dialect.name == "postgresql" else 1
    async with AsyncExitStack() as stack:
        stack.enter_context(pointed_at(fake))
        services = []
        for _ in range(count):
            service = await DeliveryService.start(
                _settings(fake), store, stream=io.StringIO(), coalesce_delay=0.05, backoff=(0.05, 0.2)
            )
            stack.push_async_callback(service.stop)
            services.append(service)
        yield services


async def _idle(services: list[DeliveryService], fake: FakeDiscord, until: Callable[[FakeDiscord], object]) -> None:
    """Every service idle. A process is told of its own deliveries only (and
    idle means none pending in any channel), so wait for Discord to show the
    outcome, then for the services; each one found idle wakes the others to
    look again: the last to settle its own channels sees all settled."""
    for service in services:
        service.wake()
    await fake.wait_for(until, timeout=30)
    waiting = {asyncio.create_task(s.wait_idle(timeout=30)): s for s in services}
    while waiting:
        done, _ = await asyncio.wait(waiting, return_when=asyncio.FIRST_COMPLETED)
        for task in done:
            del waiting[task]
            task.result()
        for service in waiting.values():
            service.wake()


async def test_the_claim_holder_takes_the_card_down_once(any_store: Store) -> None:
    store = any_store
    async with FakeDiscord(guild_id=GUILD, channels=[(CARDS, "patches"), (SVM, "svm")],
                           rate_limits=FAST_RATE_LIMITS) as fake:
        fake.set_permissions(SVM, allow=permissions.MANAGE_THREADS)
        async with processes(fake, store) as services:
            await store.ingest(svm_patch(2, 3))
            await store.ingest(svm_patch(3, 3))
            await _idle(services, fake, lambda f: len(f.messages_in(SVM)) == 1 and len(f.messages_in(CARDS)) == 1
                        and len(f.messages_in(f.messages_in(SVM)[0].thread_id)) == 2)
            (svm_card,) = fake.messages_in(SVM)
            await store.ingest(cover(3))
            await _idle(services, fake, lambda f: f.messages_in(SVM) == [])
            assert fake.messages_in(SVM) == [] and fake.messages_in(svm_card.thread_id) == []
            assert fake.count_requests(DELETE_CHANNEL) == 1 and fake.count_requests(DELETE_MESSAGE) == 1
            assert len(fake.messages_in(CARDS)) == 1
            holders = [s for s in services if s.claims is None or s.claims.holds(SVM)]
            assert len(holders) == 1  # one process delivers the channel, removal included
    rows = await q.list_deliveries(store, channel_id=SVM)
    assert {r.status for r in rows} == {q.REMOVED}


async def test_patches_posted_under_the_card_are_deleted_with_it(store: Store) -> None:
    async with FakeDiscord(guild_id=GUILD, channels=[(CARDS, "patches"), (SVM, "svm")],
                           rate_limits=FAST_RATE_LIMITS) as fake:
        fake.set_permissions(SVM, deny=permissions.CREATE_PUBLIC_THREADS)  # no thread: patches reply to the card
        async with processes(fake, store) as services:
            await store.ingest(svm_patch(2, 3))
            await store.ingest(svm_patch(3, 3))
            await _idle(services, fake, lambda f: len(f.messages_in(SVM)) == 4)
            assert len(fake.messages_in(SVM)) == 4  # the notice, the card and two replies
            (notice,) = [m for m in fake.messages_in(SVM) if m.embeds[0]["footer"]["text"].endswith("notice · threads")]
            await store.ingest(cover(3))
            await _idle(services, fake, lambda f: len(f.messages_in(SVM)) == 1)
            # The card and its patches are gone; the notice about threads is the channel's, not the series'.
            assert fake.messages_in(SVM) == [notice]
            assert fake.count_requests(DELETE_CHANNEL) == 0 and fake.count_requests(DELETE_MESSAGE) == 3


async def test_preview_prints_the_removal(any_store: Store, tmp_path: Path) -> None:
    out = io.StringIO()
    service = await DeliveryService.start(_settings(None, tmp_path), any_store, stream=out, coalesce_delay=0.05)
    try:
        for raw in (svm_patch(2, 3), svm_patch(3, 3), cover(3)):
            await any_store.ingest(raw)
            service.wake()
            await service.wait_idle(timeout=30)
    finally:
        await service.stop()
    records = [json.loads(line) for line in (tmp_path / "preview.jsonl").read_text().splitlines()]
    svm = [(r["action"], r["message_id"]) for r in records if r["channel_id"] == SVM or r["action"] == "delete_thread"]
    card = next(mid for action, mid in svm if action == "send")
    assert ("delete_thread", card) in svm and svm[-1] == ("delete", card)
    assert f"== channel {SVM}: message {card} deleted (the series no longer matches here)" in out.getvalue()
    assert f"== thread {card} deleted, with its messages (the series no longer matches here)" in out.getvalue()
