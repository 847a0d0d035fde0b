"""The typed outcome of tracking one mail: what changes, and which events say so."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from bot.mail.models import AppliedCommit, ParsedMail, Person
from bot.series.models import Event
from bot.series.state import SeriesState


class Role(StrEnum):
    COVER = "cover"  # the cover letter (or pull request) of a series
    PATCH = "patch"
    REPLY = "reply"  # a reply inside a series (trailers, applied notices)
    NONE = "none"  # not part of any series (bot report, stray mail, unknown thread)


@dataclass(frozen=True, slots=True)
class MemberRecord:
    """A cover or patch joining a series (its details are read from `mail`)."""

    series_id: int
    slot: int  # 0 cover, k patch k (1 for an unnumbered patch)
    mail: ParsedMail


@dataclass(frozen=True, slots=True)
class TrailerRecord:
    series_id: int
    slot: int  # 0: given on the cover, counts for every patch
    name: str
    giver: str  # "Name <email>" as written
    giver_email: str
    message_id: str  # the mail that carried it
    from_reply: bool  # False: carried in the patch itself (e.g. from an earlier version)


@dataclass(frozen=True, slots=True)
class AppliedRecord:
    series_id: int
    slot: int
    commit: AppliedCommit
    tree: str | None
    branch: str | None
    message_id: str
    where: str | None = None  # the destination as written: "kvm-x86 svm", "stable"


@dataclass(frozen=True, slots=True)
class Decision:
    message_id: str
    role: Role
    series_id: int | None = None
    new_series: SeriesState | None = None  # created by this mail (already holds the member)
    new_lineage: bool = False
    member: MemberRecord | None = None
    # (series_id, field, value) on existing series, applied in order
    updates: tuple[tuple[int, str, Any], ...] = ()
    refs: tuple[str, ...] = ()  # ids the new member names (recorded for `series_id`)
    trailers: tuple[TrailerRecord, ...] = ()
    applied: tuple[AppliedRecord, ...] = ()
    events: tuple[Event, ...] = ()
    # A reply whose applied notice names a patch not yet in its series: decide
    # it again when a patch joins (the store keeps it in `pending_replies`).
    waits: bool = False
    notes: tuple[str, ...] = field(default=())  # why, for debugging (`kvm-patchbot series -v`)

    @property
    def touched(self) -> set[int]:
        """Series whose stored row must be rewritten (a reply's trailers and
        applied notices live in their own tables)."""
        ids = {sid for sid, _, _ in self.updates}
        if self.series_id is not None and self.role in (Role.COVER, Role.PATCH):
            ids.add(self.series_id)
        return ids


def giver_of(value: str, person: Person | None) -> tuple[str, str]:
    """("Name <email>", email) of a trailer's giver."""
    if person is not None and person.email:
        shown = f"{person.name} <{person.email}>" if person.name else f"<{person.email}>"
        return shown, person.email.lower()
    return value.strip(), value.strip().lower()
