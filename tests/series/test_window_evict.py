"""Which series the tracker window drops from memory (bot.series.window.evict)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from bot.mail.models import Person
from bot.series.memindex import MemoryIndex
from bot.series.state import SeriesState
from bot.series.window import Window, evict

NOW = datetime(2026, 6, 1, tzinfo=timezone.utc)


def _index(ages_in_days: dict[int, float]) -> MemoryIndex:
    index = MemoryIndex()
    for sid, age in ages_in_days.items():
        seen = NOW - timedelta(days=age)
        index.add_series(SeriesState(
            series_id=sid, lineage_id=sid, author=Person(name="A", email="a@example.org"),
            title=f"t{sid}", subject=f"[PATCH] t{sid}", first_seen=seen, last_seen=seen,
        ))
    return index


def test_days_only_drops_exactly_what_was_last_active_before_the_window() -> None:
    index = _index({1: 200, 2: 181, 3: 179, 4: 10, 5: 300, 6: 250})
    # 5 was touched since (a reply 20 days ago); 6 is being written (kept)
    touched = {5: NOW - timedelta(days=20), 3: NOW - timedelta(days=400)}  # an older touch changes nothing
    got = evict(index, touched, Window(days=180), NOW, keep={6})
    assert sorted(got) == [1, 2]


def test_a_cap_drops_the_least_recently_active_beyond_it() -> None:
    index = _index({1: 5, 2: 1, 3: 3, 4: 2, 5: 400})
    assert sorted(evict(index, {}, Window(max_series=2), NOW)) == [1, 3, 5]
    # both limits: the days drop 5, the cap the least recent of the rest; kept series use room
    assert sorted(evict(index, {1: NOW}, Window(days=180, max_series=3), NOW, keep={4})) == [3, 5]


def test_an_unbounded_window_drops_nothing() -> None:
    assert evict(_index({1: 9999}), {}, Window(), NOW) == []
