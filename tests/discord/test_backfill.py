"""A back-fill (`kvm-patchbot ingest`) is stored and tracked but never announced;
`--announce` and live mail are."""

from __future__ import annotations

import asyncio
import io
import json
from pathlib import Path

from bot.cli import main
from bot.config import Settings
from bot.delivery import DeliveryService
from bot.store import Store
from bot.store import delivery as q


def _sent_titles(path: Path) -> list[str]:
    if not path.exists():
        return []
    recs = [json.loads(line) for line in path.read_text().splitlines()]
    return [e["title"] for r in recs if r["action"] == "send" for e in r["post"]["embeds"]]


async def test_backfill_is_not_announced_but_later_mail_is(tmp_path: Path, seed_dir: Path, seeds: list[bytes]) -> None:
    db = f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}"
    history = tmp_path / "history"
    history.mkdir()
    for name in ("01-tdp-mmu-prove-mmu.eml", "06-cpuid-zero-init-unions.eml"):
        (history / name).write_bytes((seed_dir / name).read_bytes())
    announced = tmp_path / "announced"
    announced.mkdir()
    (announced / "07.eml").write_bytes((seed_dir / "07-nvmx-msr-list-counts.eml").read_bytes())
    # The CLI runs its own event loop: give it a thread.
    assert await asyncio.to_thread(main, ["ingest", "--quiet", "--db", db, str(history)]) == 0
    assert await asyncio.to_thread(main, ["ingest", "--quiet", "--announce", "--db", db, str(announced)]) == 0

    preview = tmp_path / "preview.jsonl"
    store = await Store.open(db)
    service = await DeliveryService.start(
        Settings(discord={"preview_file": preview}), store, stream=io.StringIO(), coalesce_delay=0.05
    )
    try:
        service.wake()
        await service.wait_idle(timeout=30)
        assert await store.count("mails") == 3
        assert len(await store.list_series()) == 3  # the back-fill is tracked all the same
        await store.ingest(seeds[8])  # live mail: the device posted IRQs patch
        service.wake()
        await service.wait_idle(timeout=30)
        assert await q.pending_count(store) == 0
    finally:
        await service.stop()
        await store.close()
    titles = _sent_titles(preview)
    assert any("Check MSR load/store list counts" in t for t in titles)  # --announce
    assert any("device posted IRQs" in t for t in titles)  # live
    assert not any("TDP MMU" in t or "CPUID unions" in t for t in titles)  # back-filled
