"""What the tracker knows about a series, and the events it emits.

`SeriesView` is the read model every later stage consumes (the `series` CLI
prints it, notify renders cards from it, the digest groups by it). `Event` is
what the tracker writes to the outbox, in the same transaction as the change
it reports, for notify to route and deliver.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict

from bot.mail.models import Applied, AppliedCommit, Diffstat, Fixes, Person, StableTag


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class TrailerView(_Frozen):
    """One review trailer of a patch and where it came from."""

    name: str  # "Reviewed-by", "Acked-by", "Tested-by"
    giver: str  # "Name <email>"
    # "reply": given on this posting; "cover": given on the cover, for the series;
    # "patch": written in the patch by its author (carried from an earlier version);
    # "previous": given on the previous version of this patch, which is unchanged since.
    origin: str = "reply"

    @property
    def carried(self) -> bool:
        return self.origin in ("patch", "previous")


class PatchView(_Frozen):
    index: int | None  # None for an unnumbered single patch
    message_id: str
    title: str
    subject: str  # the full subject as sent, unfolded
    author: Person = Person()
    date: datetime | None = None
    reviewed_by: tuple[str, ...] = ()  # "Name <email>" of each giver, cover trailers included
    acked_by: tuple[str, ...] = ()
    tested_by: tuple[str, ...] = ()
    fixes: tuple[Fixes, ...] = ()
    stable: StableTag = StableTag()
    diffstat: Diffstat | None = None
    files: tuple[str, ...] = ()
    applied: AppliedCommit | None = None
    applied_to: str | None = None  # where it was applied, as the notice said ("kvm-x86 svm", "stable")
    trailers: tuple[TrailerView, ...] = ()  # every review trailer counted above, with its origin
    diff_hash: str | None = None  # bot.series.diffhash of its diff (None: no diff known)
    # The patch of the previous version this one continues (by title, else by
    # index), whether its diff is unchanged since, and which files changed.
    previous: str | None = None
    unchanged: bool | None = None  # None: no previous patch, or a diff missing on either side
    changed_files: tuple[str, ...] = ()


class SeriesView(_Frozen):
    series_id: int
    lineage_id: int
    title: str
    subject: str  # the cover's (or single patch's) full subject, for the card title
    subsystem: str | None = None
    prefixes: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()  # project/tree tags: "kvm-unit-tests", "net-next", ...
    version: int = 1
    version_label: str | None = None
    total: int = 1
    rfc: bool = False
    resend: bool = False
    pull: bool = False
    backport: bool = False  # a stable backport posting (AUTOSEL, `[PATCH 6.6 12/40]`)
    version_explicit: bool = True  # the subject said "vN" (else version 1 is only assumed)
    author: Person = Person()
    list_id: str | None = None
    cover: str | None = None  # message id of the cover letter
    cover_diffstat: Diffstat | None = None
    patches: tuple[PatchView, ...] = ()
    missing: tuple[int, ...] = ()
    complete: bool = False
    supersedes: int | None = None  # series_id of the previous version
    previous_version: str | None = None  # its label ("v12", "RFC"): what `unchanged` compares with
    superseded_by: int | None = None
    duplicate_of: int | None = None  # same posting sent again within minutes
    partial: bool = False  # a partial reroll (e.g. v3 2/5 alone): `supersedes` is its base
    fixes: tuple[Fixes, ...] = ()
    stable: StableTag = StableTag()
    applied: Applied | None = None  # rolled up: every applied commit of the series
    applied_state: str = "none"  # "none" | "partial" | "all"
    first_seen: datetime | None = None
    last_seen: datetime | None = None
    lore_url: str = ""

    @property
    def received(self) -> int:
        return sum(1 for p in self.patches if p.index != 0)

    @property
    def label(self) -> str:
        return version_text(self.version, self.version_label, rfc=self.rfc, explicit=self.version_explicit)


def version_text(version: int, version_label: str | None, *, rfc: bool, explicit: bool) -> str:
    """"v3", "RFC v2", "RFC"; "" for a posting that names no version and is no RFC."""
    written = f"v{version_label or version}" if explicit or version != 1 else ""
    return " ".join(x for x in ("RFC" if rfc else "", written) if x)


class EventKind(StrEnum):
    SERIES_CREATED = "series_created"
    COVER_ADDED = "cover_added"
    PATCH_ADDED = "patch_added"
    SERIES_COMPLETED = "series_completed"
    TRAILER_ADDED = "trailer_added"
    SUPERSEDED = "superseded"
    APPLIED = "applied"
    STABLE_REQUESTED = "stable_requested"
    # Another version of the series changed (a patch, trailer or applied notice
    # there, or the lineage itself): its card re-renders, nothing is posted.
    VERSION_CHANGED = "version_changed"


class Event(_Frozen):
    """One state change of a series, as stored in the outbox."""

    event_id: int | None = None  # assigned by the store
    kind: EventKind
    series_id: int
    message_id: str  # the mail that caused it
    patch_index: int | None = None
    # Small kind-specific facts (trailer name and giver, superseding series id, ...).
    data: dict[str, str | int | None] = {}
    created_at: datetime | None = None
