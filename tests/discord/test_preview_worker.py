from __future__ import annotations

import io
import json
from pathlib import Path

from bot.config import Settings, SubscriptionConfig, SubscriptionFilter
from bot.delivery import DeliveryService
from bot.store import Store
from bot.store import delivery as q


def _records(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


async def _deliver(
    settings: Settings, store: Store, seeds: list[bytes], out: io.StringIO, *, wake_each: bool
) -> list[dict]:
    """Ingest the seeds with the preview delivery running; its records once idle."""
    service = await DeliveryService.start(settings, store, stream=out, coalesce_delay=0.05)
    try:
        for raw in seeds:
            await store.ingest(raw)
            if wake_each:
                service.wake()
        service.wake()
        await service.wait_idle(timeout=30)
    finally:
        await service.stop()
    return _records(settings.discord.preview_file)


async def test_preview_everything_without_subscriptions(any_store: Store, seeds: list[bytes], tmp_path: Path) -> None:
    out = io.StringIO()
    settings = Settings(discord={"preview_file": tmp_path / "preview.jsonl"})
    store = any_store
    recs = await _deliver(settings, store, seeds, out, wake_each=True)
    sends = [r for r in recs if r["action"] == "send"]
    threads = [r for r in recs if r["action"] == "thread"]
    cards = [r for r in sends if r["post"]["embeds"][0]["footer"].count("·") == 1]
    # 5 single patches + the 3-patch and 8-patch series: 7 cards, a thread for each series.
    assert len(cards) == 7
    assert len(threads) == 2
    patch_msgs = [r for r in sends if r["post"]["embeds"][0]["footer"].count("·") == 2]
    titles = sorted(r["post"]["embeds"][0]["title"] for r in patch_msgs)
    assert len(titles) == 11 and len(set(titles)) == 11  # every patch of the two series once
    assert "== channel 0: new message" in out.getvalue()
    assert "[PATCH 0/8] x86/irq: KVM: Optimize KVM's PIR harvesting" in out.getvalue()
    # The 8-patch card ends at 8/8. How many edits it took depends on how fast
    # the burst came (the debounce rule is tested in tests/notify/test_coalesce.py);
    # what holds in any timing: fewer edits than patches, none repeating a render.
    pir = next(c for c in cards if "PIR harvesting" in c["post"]["embeds"][0]["title"])
    edits = [r for r in recs if r["action"] == "edit" and r["message_id"] == pir["message_id"]]
    assert len(edits) < 8
    renders = [json.dumps(r["post"], sort_keys=True) for r in [pir, *edits]]
    assert all(a != b for a, b in zip(renders, renders[1:], strict=False))
    fields = {f["name"]: f["value"] for f in (edits or [pir])[-1]["post"]["embeds"][0]["fields"]}
    assert fields["Received"] == "8/8"
    assert await q.pending_count(store) == 0
    assert await q.count_by_status(store) == {"done": await store.count("deliveries")}


async def test_filters_pick_channels(any_store: Store, seeds: list[bytes], tmp_path: Path) -> None:
    settings = Settings(
        discord={"preview_file": tmp_path / "preview.jsonl"},
        subscriptions=[
            SubscriptionConfig(guild=1, channel=10, filter=SubscriptionFilter(kinds=["series"])),
            SubscriptionConfig(guild=1, channel=20, threads=False, filter=SubscriptionFilter(subsystems=["KVM: nVMX"])),
        ],
    )
    store = any_store
    recs = await _deliver(settings, store, seeds, io.StringIO(), wake_each=False)
    cards10 = [r for r in recs if r["action"] == "send" and r["channel_id"] == 10 and r["post"]["thread_name"]]
    assert len(cards10) == 2
    in20 = [r for r in recs if r["channel_id"] == 20]
    assert [r["action"] for r in in20] == ["send"]
    assert "nVMX" in in20[0]["post"]["embeds"][0]["title"]


async def test_a_late_cover_renames_the_thread_after_a_restart(any_store: Store, tmp_path: Path) -> None:
    """The thread is named from the first patch seen; the cover, arriving after
    the service restarted, still renames it (the name is kept with the post)."""
    from tests.helpers import series_mails

    cover, *patches = series_mails("PATCH", 2, "Rework the frobnicator", tag="late")
    settings = Settings(discord={"preview_file": tmp_path / "preview.jsonl"})
    before = await _deliver(settings, any_store, patches, io.StringIO(), wake_each=True)
    (thread,) = [r for r in before if r["action"] == "thread"]
    assert thread["name"] == "v1 KVM: x86: Rework the frobnicator part 1"

    after = await _deliver(settings, any_store, [cover], io.StringIO(), wake_each=True)  # a new service
    renames = [r for r in after[len(before):] if r["action"] == "rename"]
    assert [(r["message_id"], r["name"]) for r in renames] == [
        (thread["message_id"], "v1 KVM: x86: Rework the frobnicator")
    ]
    post = await any_store.get_post(1, 0)
    assert post is not None and post.thread_name == "v1 KVM: x86: Rework the frobnicator"
