"""The tracker window on both databases: series evicted from memory are looked
up in the store when a mail refers to them, with the results of an index of
every series (the corpus version of this is in test_corpus.py)."""

from __future__ import annotations

from pathlib import Path

from bot.series.window import Window
from bot.store import Store
from tests.helpers import patch_body, raw_mail, series_mails

from .conftest import outcome

ONE = Window(days=0, max_series=1)
REVIEWER = "Rita Reviewer <rita@example.org>"
DAY = 24 * 60


def _mails() -> list[bytes]:
    """v1, an unrelated series, v2 months later (lineage by title), then
    replies to the evicted v1 and v2 (trailers, applied) and a late v1 resend."""
    out = series_mails("PATCH", 2, "Teach the MMU about huge pages", tag="v1", at=0)
    out += series_mails("PATCH", 1, "Rework the PIT timer", tag="pit", at=DAY)
    out += series_mails("PATCH v2", 2, "Teach the MMU about huge pages", tag="v2", at=90 * DAY)
    out.append(raw_mail("r1@x", "Re: [PATCH 2/2] KVM: x86: Teach the MMU about huge pages part 2",
                        "Looks good.\n\nReviewed-by: Rita Reviewer <rita@example.org>\n",
                        irt="v1-2@x", refs=["v1-0@x"], author=REVIEWER, at=91 * DAY))
    out.append(raw_mail("r2@x", "Re: [PATCH v2 0/2] KVM: x86: Teach the MMU about huge pages",
                        "Acked-by: Rita Reviewer <rita@example.org>\n", irt="v2-0@x", author=REVIEWER, at=92 * DAY))
    out.append(raw_mail("p3@x", "[PATCH] KVM: x86: Rework the PIT timer part 1",
                        patch_body("Rework the PIT timer again"), at=200 * DAY))
    out.append(raw_mail("late-early@x", "Re: [PATCH 1/1] KVM: x86: Rework the PIT timer part 1",
                        "Tested-by: Rita Reviewer <rita@example.org>\n", irt="pit-1@x", author=REVIEWER, at=201 * DAY))
    return out


async def test_a_window_of_one_series_tracks_as_every_series_does(store_target, tmp_path: Path):
    mails = _mails()
    windowed = await Store.open(store_target.url, schema=store_target.schema, window=ONE)
    full = await Store.open(f"sqlite+aiosqlite:///{tmp_path / 'full.db'}")
    try:
        for raw in mails[:-3]:
            await windowed.ingest(raw)
            await full.ingest(raw)
            assert windowed.index_size <= 1
        await windowed.close()
        # a restart on the window, then mail that refers to evicted series
        windowed = await Store.open(store_target.url, schema=store_target.schema, window=ONE)
        assert windowed.index_size == 1
        for raw in mails[-3:]:
            await windowed.ingest(raw)
            await full.ingest(raw)
        assert windowed.window_loads > 0
        got, expected = await outcome(windowed), await outcome(full)
        assert got == expected
        v1, v2 = sorted((v for v in got[0] if "huge pages" in v["title"]), key=lambda v: v["version"])
        assert v1["superseded_by"] == v2["series_id"] and v1["lineage_id"] == v2["lineage_id"]
        assert any(REVIEWER in p["reviewed_by"] for p in v1["patches"])
        assert all(REVIEWER in p["acked_by"] for p in v2["patches"])
        pit = [v for v in got[0] if v["title"].endswith("Rework the PIT timer")]
        assert any(REVIEWER in p["tested_by"] for p in pit[0]["patches"])  # a reply to an evicted patch
    finally:
        await windowed.close()
        await full.close()


async def test_a_big_import_into_a_windowed_store_trims_back_after(store_target):
    mails = [m for k in range(40) for m in series_mails("PATCH", 2, f"Series number {k} of many", tag=f"s{k}", at=k)]
    store = await Store.open(store_target.url, schema=store_target.schema, window=Window(max_series=10))
    try:
        stats = await store.ingest_many(mails, source="archive", batch_size=1000)
        assert stats.new == len(mails) and stats.series_created == 40
        assert store.index_size == 10  # the ten most recently active
    finally:
        await store.close()


async def test_a_window_holding_every_stored_series_asks_the_database_nothing(store_target, tmp_path: Path):
    """A new or small store fits in its window: until the first eviction the
    index knows every series, so tracking asks no lookups (the SMTP path's
    cost on such a store), with the results of an index of every series."""
    mails = _mails()
    wide = Window(days=10_000)
    windowed = await Store.open(store_target.url, schema=store_target.schema, window=wide)
    full = await Store.open(f"sqlite+aiosqlite:///{tmp_path / 'full.db'}")
    try:
        for raw in mails[:-3]:
            await windowed.ingest(raw)
            await full.ingest(raw)
        assert windowed.window_lookups == 0 and windowed.window_loads == 0
        await windowed.close()
        # reopened on a window the store outgrew: lookups again, same results
        windowed = await Store.open(store_target.url, schema=store_target.schema, window=ONE)
        for raw in mails[-3:]:
            await windowed.ingest(raw)
            await full.ingest(raw)
        assert windowed.window_lookups > 0
        assert await outcome(windowed) == await outcome(full)
        await windowed.close()
        # reopened on the wide window: every series fits again
        windowed = await Store.open(store_target.url, schema=store_target.schema, window=wide)
        await windowed.ingest(raw_mail("r9@x", "Re: [PATCH v2 1/2] KVM: x86: Teach the MMU about huge pages part 1",
                                       "Reviewed-by: Rita Reviewer <rita@example.org>\n", irt="v2-1@x",
                                       author=REVIEWER, at=300 * DAY))
        assert windowed.window_lookups == 0
    finally:
        await windowed.close()
        await full.close()
