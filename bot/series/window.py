"""The tracker's window: only recently active series in memory, the rest asked for.

A windowed `MemoryIndex` holds the series active within `Window.days` (at
most `Window.max_series` of them). `decide` stays pure: the store runs it on a
`Probe` over the window, which answers from memory what it knows the whole
answer to, and records every other lookup as a `Key`. When a lookup found
keys missing, the store loads the series they name from the database (every
series a key matches, with all its members, refs and trailers), marks the
keys known and decides again; the decision that saw no missing key is the one
an index of every series would have made. `series()` of an unloaded series
cannot answer at all: it raises `Missing` to end that attempt early.

Which keys are known is only true until a series they match is evicted:
`evict` says which to drop (least recently active first), and `Known.forget`
drops the keys a series matched before it goes. Pure logic, no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

from bot.series.lineage import TITLE_WINDOW
from bot.series.memindex import MemoryIndex
from bot.series.state import Member, SeriesState

# A lookup the window may not answer in full: (what, key).
#   member / refs / answers: a Message-ID; change: a b4 change-id;
#   author: a lower-cased email (its most recent series);
#   title: (email, title), the same title; words: (email, title, day), a title
#   word shared, last active within TITLE_WINDOW of that day; lineage / series: an id
Key = tuple[str, object]


@dataclass(frozen=True, slots=True)
class Window:
    """How much of the archive the tracker keeps in memory; None: all of it."""

    days: float | None = None
    max_series: int | None = None

    @property
    def bounded(self) -> bool:
        return self.days is not None or self.max_series is not None


class Known:
    """The keys whose every matching series is in the window."""

    def __init__(self) -> None:
        self._keys: set[Key] = set()
        self._titles: dict[str, set[Key]] = {}  # email -> its title and words keys

    def __contains__(self, key: Key) -> bool:
        return key in self._keys

    def __len__(self) -> int:
        return len(self._keys)

    def add(self, key: Key) -> None:
        self._keys.add(key)
        what, value = key
        if what in ("title", "words") and isinstance(value, tuple):
            self._titles.setdefault(value[0], set()).add(key)

    def forget(self, index: MemoryIndex, series_id: int) -> None:
        """Before `series_id` leaves the window: drop every key it matched."""
        s = index.series(series_id)
        email = s.author_email
        keys: list[Key] = [("series", series_id), ("lineage", s.lineage_id), ("author", email)]
        keys += [("member", mid) for mid in s.members.values()]
        keys += [("refs", mid) for mid in index.refs_of(series_id)]
        keys += [("answers", mid) for mid in index.answers_of(series_id)]
        if s.change_id:
            keys.append(("change", s.change_id))
        keys += self._titles.pop(email, set())
        self._keys.difference_update(keys)


class Missing(Exception):
    """`series()` was asked for a series the window has not loaded."""


@dataclass
class Probe:
    """A `SeriesIndex` over a windowed index that records what it could not answer.

    `known`: keys whose every matching series is loaded; None means all are
    (an index of every series)."""

    index: MemoryIndex
    known: Known | None
    when: datetime  # the mail's time, as `decide` takes it
    missing: set[Key] = field(default_factory=set)

    def _ask(self, key: Key) -> None:
        if self.known is not None and key not in self.known:
            self.missing.add(key)

    def member(self, message_id: str) -> Member | None:
        self._ask(("member", message_id))
        return self.index.member(message_id)

    def series(self, series_id: int) -> SeriesState:
        if series_id not in self.index:
            self.missing.add(("series", series_id))
            raise Missing(series_id)
        return self.index.series(series_id)

    def series_referencing(self, message_id: str) -> list[int]:
        self._ask(("refs", message_id))
        return self.index.series_referencing(message_id)

    def is_threaded(self, series_id: int) -> bool:
        return self.index.is_threaded(series_id)  # a loaded series comes with all its refs

    def series_answering(self, message_id: str) -> list[int]:
        self._ask(("answers", message_id))
        return self.index.series_answering(message_id)

    def series_by_change_id(self, change_id: str) -> list[int]:
        self._ask(("change", change_id))
        return self.index.series_by_change_id(change_id)

    def candidates_by_author(self, email: str) -> list[int]:
        # Resolved as the author's most recent series (tracker.UNTHREADED_SCAN):
        # all the tracker reads of this list is its end.
        self._ask(("author", email))
        return self.index.candidates_by_author(email)

    def candidates_by_title(self, email: str, title: str) -> list[int]:
        # Only lineage by title asks this, and it passes over every series last
        # active more than TITLE_WINDOW away from the mail: those need no loading.
        self._ask(("words", (email, title, self.when.date().isoformat())))
        return self.index.candidates_by_title(email, title)

    def series_with_title(self, email: str, title: str) -> list[int]:
        self._ask(("title", (email, title)))
        return self.index.series_with_title(email, title)

    def lineage(self, lineage_id: int) -> list[int]:
        self._ask(("lineage", lineage_id))
        return self.index.lineage(lineage_id)

    def next_ids(self) -> tuple[int, int]:
        return self.index.next_ids()


def words_range(day: str) -> tuple[datetime, datetime]:
    """The last activity a words key's series may have: TITLE_WINDOW around its
    day, a day more each side for the time of day."""
    start = datetime.fromisoformat(day).replace(tzinfo=timezone.utc)
    return start - TITLE_WINDOW - timedelta(days=1), start + TITLE_WINDOW + timedelta(days=2)


def activity(s: SeriesState, touched: datetime | None) -> datetime:
    """When a series was last active: its newest mail, or a mail that touched it later."""
    return s.last_seen if touched is None or touched < s.last_seen else touched


def evict(
    index: MemoryIndex,
    touched: dict[int, datetime],
    window: Window,
    now: datetime,
    keep: set[int] | frozenset[int] = frozenset(),
) -> list[int]:
    """The series to drop: active before `now - days`, then the least recently
    active beyond `max_series`; never those in `keep` (not yet committed)."""
    if not window.bounded:
        return []
    cutoff = None if window.days is None else now - timedelta(days=window.days)
    if window.max_series is None:
        # No cap: one pass, no ranking (this runs after every commit, over every series in memory).
        assert cutoff is not None
        return [
            s.series_id
            for s in index.all_series()
            if s.series_id not in keep and activity(s, touched.get(s.series_id)) < cutoff
        ]
    ranked = sorted(
        ((activity(s, touched.get(s.series_id)), s.series_id) for s in index.all_series() if s.series_id not in keep),
        reverse=True,
    )
    room = max(window.max_series - len(keep), 0)
    out = []
    for n, (when, sid) in enumerate(ranked):
        if n >= room or (cutoff is not None and when < cutoff):
            out.append(sid)
    return out
