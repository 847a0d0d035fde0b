"""An in-memory `SeriesIndex`: the tracker's lookups as dictionaries.

The store fills one from its tables at start-up and applies every committed
`Decision` to it; the bulk importer uses it so that no mail costs a SELECT.
With a tracker window (`bot.series.window`) it holds only recent series:
`remove_series` evicts one, and series are added back (in any order) when a
mail refers to them. Every list answer is kept sorted by series id, so an
answer does not depend on the order series were added in.
Pure data structure, no I/O.
"""

from __future__ import annotations

from bisect import insort
from collections import defaultdict

from bot.series.decision import Decision
from bot.series.state import Member, SeriesState
from bot.series.titles import normal_title, title_tokens


class MemoryIndex:
    def __init__(self) -> None:
        self._series: dict[int, SeriesState] = {}
        self._members: dict[str, Member] = {}
        self._refs: dict[str, list[int]] = defaultdict(list)
        self._answers: dict[str, list[int]] = defaultdict(list)
        self._threaded: set[int] = set()
        self._change_ids: dict[str, list[int]] = defaultdict(list)
        self._authors: dict[str, list[int]] = defaultdict(list)
        self._lineages: dict[int, list[int]] = defaultdict(list)
        # (author email, title word) -> series: narrows lineage-by-title to a few candidates
        self._words: dict[tuple[str, str], set[int]] = defaultdict(set)
        self._titles: dict[tuple[str, str], list[int]] = defaultdict(list)
        # What each series put into _refs and _answers: what removing it takes out.
        self._refs_of: dict[int, list[str]] = defaultdict(list)
        self._answers_of: dict[int, list[str]] = defaultdict(list)
        self._next_series = 1
        self._next_lineage = 1

    # ------------------------------------------------------------ SeriesIndex

    def member(self, message_id: str) -> Member | None:
        return self._members.get(message_id)

    def series(self, series_id: int) -> SeriesState:
        return self._series[series_id]

    def series_referencing(self, message_id: str) -> list[int]:
        return self._refs.get(message_id, [])

    def is_threaded(self, series_id: int) -> bool:
        return series_id in self._threaded

    def series_answering(self, message_id: str) -> list[int]:
        return self._answers.get(message_id, [])

    def series_by_change_id(self, change_id: str) -> list[int]:
        return self._change_ids.get(change_id, [])

    def candidates_by_author(self, email: str) -> list[int]:
        return self._authors.get(email, [])

    def candidates_by_title(self, email: str, title: str) -> list[int]:
        found: set[int] = set()
        for word in title_tokens(title):
            found |= self._words.get((email, word), set())
        return sorted(found)

    def series_with_title(self, email: str, title: str) -> list[int]:
        return self._titles.get((email, normal_title(title)), [])

    def lineage(self, lineage_id: int) -> list[int]:
        return self._lineages.get(lineage_id, [])

    def next_ids(self) -> tuple[int, int]:
        return self._next_series, self._next_lineage

    # ------------------------------------------------------------ loading

    def __len__(self) -> int:
        return len(self._series)

    def __contains__(self, series_id: object) -> bool:
        return series_id in self._series

    def all_series(self) -> list[SeriesState]:
        return list(self._series.values())

    def add_series(self, state: SeriesState) -> None:
        """Register a series (with its members) as it was stored."""
        sid = state.series_id
        self._series[sid] = state
        for slot, mid in state.members.items():
            self._members[mid] = Member(sid, slot)
        for title in {state.title, *state.member_titles.values()}:
            self._index_title(state, title)
        _add_sorted(self._authors[state.author_email], sid)
        _add_sorted(self._lineages[state.lineage_id], sid)
        if state.change_id:
            _add_sorted(self._change_ids[state.change_id], sid)
        self._next_series = max(self._next_series, sid + 1)
        self._next_lineage = max(self._next_lineage, state.lineage_id + 1)

    def add_ref(self, series_id: int, message_id: str) -> None:
        self._threaded.add(series_id)
        if _add_sorted(self._refs[message_id], series_id):
            self._refs_of[series_id].append(message_id)

    def add_answer(self, series_id: int, in_reply_to: str) -> None:
        """A member of `series_id` was sent In-Reply-To `in_reply_to`."""
        if _add_sorted(self._answers[in_reply_to], series_id):
            self._answers_of[series_id].append(in_reply_to)

    def reserve_lineage(self, lineage_id: int) -> None:
        self._next_lineage = max(self._next_lineage, lineage_id + 1)

    def reserve_series(self, series_id: int) -> None:
        """Ids up to `series_id` are taken (by series not loaded)."""
        self._next_series = max(self._next_series, series_id + 1)

    def refs_of(self, series_id: int) -> list[str]:
        """The ids this series' members named (In-Reply-To/References)."""
        return self._refs_of.get(series_id, [])

    def answers_of(self, series_id: int) -> list[str]:
        """The In-Reply-To ids of this series' members."""
        return self._answers_of.get(series_id, [])

    def remove_series(self, series_id: int) -> None:
        """Forget a series and everything indexed for it (a windowed index evicting it)."""
        s = self._series.pop(series_id)
        for mid in s.members.values():
            if self._members.get(mid) is not None and self._members[mid].series_id == series_id:
                del self._members[mid]
        email = s.author_email
        for title in {s.title, *s.member_titles.values()}:
            for word in title_tokens(title):
                _drop(self._words, (email, word), series_id)
            _drop(self._titles, (email, normal_title(title)), series_id)
        _drop(self._authors, email, series_id)
        _drop(self._lineages, s.lineage_id, series_id)
        if s.change_id:
            _drop(self._change_ids, s.change_id, series_id)
        for mid in self._refs_of.pop(series_id, ()):
            _drop(self._refs, mid, series_id)
        for mid in self._answers_of.pop(series_id, ()):
            _drop(self._answers, mid, series_id)
        self._threaded.discard(series_id)

    # ------------------------------------------------------------ applying

    def apply(self, d: Decision) -> None:
        """Make a decision's changes visible to the next `decide`."""
        if d.member is not None and d.member.mail.in_reply_to:
            self.add_answer(d.member.series_id, d.member.mail.in_reply_to)
        if d.new_series is not None:
            self.add_series(d.new_series)
        elif d.member is not None:
            s = self._series[d.member.series_id]
            s.members[d.member.slot] = d.message_id
            s.member_titles[d.member.slot] = d.member.mail.subject.title
            s.member_subsystems[d.member.slot] = d.member.mail.subject.subsystem
            self._members[d.message_id] = Member(s.series_id, d.member.slot)
            self._index_title(s, d.member.mail.subject.title)
        if d.member is not None and d.member.mail.stable.tagged and not d.member.mail.stable.noautosel:
            self._series[d.member.series_id].stable_slots.add(d.member.slot)
        for sid, name, value in d.updates:
            self._update(self._series[sid], name, value)
        if d.series_id is not None:
            for ref in d.refs:
                self.add_ref(d.series_id, ref)
        for t in d.trailers:
            self._series[t.series_id].trailer_keys.add((t.slot, t.name, t.giver_email))
        for a in d.applied:
            self._series[a.series_id].applied_slots.add(a.slot)

    def _index_title(self, s: SeriesState, title: str) -> None:
        email = s.author_email
        for word in title_tokens(title):
            self._words[(email, word)].add(s.series_id)
        _add_sorted(self._titles[(email, normal_title(title))], s.series_id)

    def _update(self, s: SeriesState, name: str, value: object) -> None:
        if name == "lineage_id" and value != s.lineage_id:
            old = self._lineages[s.lineage_id]
            if s.series_id in old:
                old.remove(s.series_id)
            _add_sorted(self._lineages[value], s.series_id)  # type: ignore[index]
        elif name == "change_id" and value:
            _add_sorted(self._change_ids[value], s.series_id)  # type: ignore[index]
        setattr(s, name, value)


def _add_sorted(ids: list[int], series_id: int) -> bool:
    """Put `series_id` in its place in a sorted list; False if it was there."""
    if ids and ids[-1] < series_id:  # the usual case: the newest series
        ids.append(series_id)
        return True
    if series_id in ids:
        return False
    insort(ids, series_id)
    return True


def _drop(table: dict, key: object, series_id: int) -> None:  # type: ignore[type-arg]
    """Take `series_id` out of `table[key]`, and the key when nothing is left."""
    ids = table.get(key)
    if ids is None:
        return
    if isinstance(ids, set):
        ids.discard(series_id)
    elif series_id in ids:
        ids.remove(series_id)
    if not ids:
        del table[key]
