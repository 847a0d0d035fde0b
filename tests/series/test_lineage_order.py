"""The 13-version Hyper-V TLB flush series forms one lineage in any arrival order, and after reparse."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from bot.store import Store
from tests.e2e import arrivals


def _orders() -> dict[str, list[bytes]]:
    mails = [m.raw for _, m in arrivals.by_date(arrivals.load())]
    out = {"date": mails, "reversed": mails[::-1]}
    for seed in (1, 2, 3):
        shuffled = list(mails)
        random.Random(seed).shuffle(shuffled)
        out[f"shuffled-{seed}"] = shuffled
    return out


ORDERS = _orders()


async def _lineages(store: Store) -> list[list[tuple[str, str | None, str | None]]]:
    """Each lineage of the Hyper-V work: its versions in chain order, as
    (subject, the version it supersedes, the one superseding it)."""
    views = {v.series_id: v for v in await store.list_series()}
    ours = [v for v in views.values() if "TLB flush" in v.title and v.author.email == "vkuznets@redhat.com"]
    by_lineage: dict[int, list] = {}
    for v in ours:
        by_lineage.setdefault(v.lineage_id, []).append(v)

    def subject(sid: int | None) -> str | None:
        return None if sid is None else views[sid].subject

    return [
        [(v.subject, subject(v.supersedes), subject(v.superseded_by)) for v in sorted(group, key=lambda v: v.first_seen)]
        for group in by_lineage.values()
    ]


@pytest.mark.parametrize("order", sorted(ORDERS))
async def test_one_lineage_in_any_order_and_after_reparse(order: str, tmp_path: Path) -> None:
    store = await Store.open(f"sqlite+aiosqlite:///{tmp_path / 'l.db'}")
    try:
        await store.ingest_many(ORDERS[order], source="mbox", batch_size=50)
        (lineage,) = await _lineages(store)
        assert len(lineage) == 13
        subjects = [s for s, _, _ in lineage]
        assert subjects[0].startswith("[PATCH RFC 00/19]") and subjects[-1].startswith("[PATCH v13 00/48]")
        # A chain: each version supersedes the one before it.
        for (prev, _, after), (cur, before, _) in zip(lineage, lineage[1:], strict=False):
            assert after == cur and before == prev
        assert lineage[0][1] is None and lineage[-1][2] is None
        await store.reparse()
        assert await _lineages(store) == [lineage]
    finally:
        await store.close()
