"""The digest read from each real store backend gives the same golden bytes."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from bot.digest.model import Window
from bot.digest.source import digest_from_store
from bot.store import Store

from .test_seed_golden import improved_seed, seed_files


async def test_seed_digest_from_store(store: Store, seed_dir: Path) -> None:
    await store.ingest_many(
        ((p.read_bytes(), p.name) for p in seed_files(seed_dir)), source="file"
    )
    since, until = datetime(2025, 3, 15, tzinfo=UTC), datetime(2025, 3, 16, tzinfo=UTC)
    window = Window.for_dates(since, until)
    out = await digest_from_store(store, window, since=since, until=until)
    assert out == improved_seed(seed_dir, "2025-03-15", "2025-03-16")
    # By source reference instead of date: the last 9 files are the PIR series.
    refs = [p.name for p in seed_files(seed_dir)[9:]]
    out = await digest_from_store(store, window, source_refs=refs)
    assert "      9  Sean Christopherson <seanjc@google.com>\n" in out
    assert out.count("\nNew:  ") == 2
