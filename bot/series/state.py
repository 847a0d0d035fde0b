"""The tracker's working state of one series, and the lookup interface it decides with.

`SeriesState` is what the tracker needs to know about a posting to decide
where the next mail goes; the store keeps these in memory (loaded from the
database at start-up) and persists them as rows of its `series` table.
`SeriesIndex` is the read-only lookup the pure `decide` function is given.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from bot.mail.models import Person


@dataclass(slots=True)
class SeriesState:
    series_id: int
    lineage_id: int
    author: Person
    title: str
    subject: str
    first_seen: datetime
    last_seen: datetime
    version: int = 1
    version_label: str | None = None
    version_explicit: bool = False  # some member said "vN" (else patches inherit)
    declared_total: int | None = None  # the N of "k/N"; None for an unnumbered patch
    rfc: bool = False
    resend: bool = False
    pull: bool = False
    backport: bool = False  # a stable backport posting (mail kind backport)
    subsystem: str | None = None
    prefixes: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    list_id: str | None = None
    cover: str | None = None
    title_slot: int = 99999  # which member the title came from: 0 cover, k patch k
    # slot -> message id; slot 0 is the cover, slot k is patch k (1 for an unnumbered patch)
    members: dict[int, str] = field(default_factory=dict)
    member_titles: dict[int, str] = field(default_factory=dict)
    # slot -> the subsystem its subject named: the series' subsystem is voted from these
    member_subsystems: dict[int, str | None] = field(default_factory=dict)
    change_id: str | None = None
    supersedes: int | None = None
    superseded_by: int | None = None
    duplicate_of: int | None = None
    partial: bool = False  # a partial reroll: a few patches of a new version
    # (slot, trailer name, giver email) already counted: slot 0 means the cover
    trailer_keys: set[tuple[int, str, str]] = field(default_factory=set)
    applied_slots: set[int] = field(default_factory=set)  # 0: the whole series
    # Members that asked for stable (not stable+noautosel): a later version's
    # re-post of the same fix is not alerted again.
    stable_slots: set[int] = field(default_factory=set)

    @property
    def author_email(self) -> str:
        return self.author.email.lower()

    @property
    def version_key(self) -> float:
        if self.version_label:
            try:
                return float(self.version_label)
            except ValueError:
                pass
        return float(self.version)

    @property
    def total(self) -> int:
        """Patches expected: the declared N, at least the highest index seen (3/2 -> 3)."""
        highest = max((s for s in self.members if s > 0), default=0)
        return max(self.declared_total or (0 if self.pull else 1), highest)

    @property
    def missing(self) -> tuple[int, ...]:
        return tuple(i for i in range(1, self.total + 1) if i not in self.members)

    @property
    def complete(self) -> bool:
        return not self.missing



def copy_state(s: SeriesState) -> SeriesState:
    """A shallow copy of `s`, what `dataclasses.replace(s)` makes (its dicts and
    sets shared, not copied), field by field: the tracker copies every
    posting of a lineage to try a change on it (`bot.series.bridge`), and
    `replace`, which looks each field up by name, was a third of its time."""
    return SeriesState(
        series_id=s.series_id,
        lineage_id=s.lineage_id,
        author=s.author,
        title=s.title,
        subject=s.subject,
        first_seen=s.first_seen,
        last_seen=s.last_seen,
        version=s.version,
        version_label=s.version_label,
        version_explicit=s.version_explicit,
        declared_total=s.declared_total,
        rfc=s.rfc,
        resend=s.resend,
        pull=s.pull,
        backport=s.backport,
        subsystem=s.subsystem,
        prefixes=s.prefixes,
        tags=s.tags,
        list_id=s.list_id,
        cover=s.cover,
        title_slot=s.title_slot,
        members=s.members,
        member_titles=s.member_titles,
        member_subsystems=s.member_subsystems,
        change_id=s.change_id,
        supersedes=s.supersedes,
        superseded_by=s.superseded_by,
        duplicate_of=s.duplicate_of,
        partial=s.partial,
        trailer_keys=s.trailer_keys,
        applied_slots=s.applied_slots,
        stable_slots=s.stable_slots,
    )


def voted_subsystem(subsystems: dict[int, str | None]) -> str | None:
    """A series' subsystem: its cover's, else the most common among its
    patches (ties: the lowest patch index), so never whichever mail came first."""
    if subsystems.get(0):
        return subsystems[0]
    counts: dict[str, int] = {}
    lowest: dict[str, int] = {}
    for slot in sorted(subsystems):
        name = subsystems[slot]
        if slot == 0 or not name:
            continue
        counts[name] = counts.get(name, 0) + 1
        lowest.setdefault(name, slot)
    if not counts:
        return None
    return min(counts, key=lambda n: (-counts[n], lowest[n]))


@dataclass(frozen=True, slots=True)
class Member:
    series_id: int
    slot: int  # 0 cover, k patch k


class SeriesIndex(Protocol):
    """What `decide` may ask about the series seen so far (no I/O behind it)."""

    def member(self, message_id: str) -> Member | None:
        """The series (and slot) a posted cover or patch belongs to."""

    def series(self, series_id: int) -> SeriesState:
        """The state of a known series."""

    def series_referencing(self, message_id: str) -> list[int]:
        """Series whose members named this id in In-Reply-To/References (its
        parent arriving late must join them rather than start a new series)."""

    def is_threaded(self, series_id: int) -> bool:
        """Whether any member of the series named a parent (In-Reply-To/References)."""

    def series_answering(self, message_id: str) -> list[int]:
        """Series with a cover or patch whose In-Reply-To is this id."""

    def series_by_change_id(self, change_id: str) -> list[int]:
        """Series that carried this b4 change-id, oldest first."""

    def candidates_by_author(self, email: str) -> list[int]:
        """Series by this author (lower-cased email), oldest first: for
        threading mailers that send no References at all. Only its last
        `tracker.UNTHREADED_SCAN` are read, and a windowed index holds no more."""

    def candidates_by_title(self, email: str, title: str) -> list[int]:
        """Series by this author with a member title sharing a word with `title`
        (see `bot.series.titles.title_tokens`), oldest first: lineage candidates."""

    def series_with_title(self, email: str, title: str) -> list[int]:
        """Series by this author with a member of exactly this title
        (`bot.series.titles.same_title`), oldest first."""

    def lineage(self, lineage_id: int) -> list[int]:
        """The series of a lineage, in the order they were created."""

    def next_ids(self) -> tuple[int, int]:
        """The ids a new series and a new lineage would get."""
