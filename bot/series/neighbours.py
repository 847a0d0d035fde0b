"""Cards that show another version's state: which must re-render after a decision. Pure.

A card of vN says which of its patches are unchanged since v(N-1) and shows
the trailers those carry over, and a superseded card's `b4 am` line names the
latest version. So a change to one posting (a late v(N-1) patch, a review
there, a new or late version in the lineage) changes other cards too; each
gets one VERSION_CHANGED event, whatever order the mails came in.
"""

from __future__ import annotations

import dataclasses
from datetime import datetime

from bot.series.decision import Decision
from bot.series.models import Event, EventKind
from bot.series.state import SeriesIndex, SeriesState
from bot.series.threads import event

# A lineage longer than this re-renders only its newest cards on a new version.
MAX_LINEAGE_EDITS = 30


def _state(d: Decision, index: SeriesIndex, sid: int) -> SeriesState:
    if d.new_series is not None and d.new_series.series_id == sid:
        return d.new_series
    return index.series(sid)


def _successor(d: Decision, index: SeriesIndex, sid: int) -> int | None:
    """`superseded_by` of `sid` once `d` is applied."""
    succ = _state(d, index, sid).superseded_by
    for target, name, value in d.updates:
        if target == sid and name == "superseded_by":
            succ = value if isinstance(value, int) else None
    return succ


def _predecessor(d: Decision, index: SeriesIndex, sid: int) -> int | None:
    """`supersedes` of `sid` once `d` is applied."""
    prev = _state(d, index, sid).supersedes
    for target, name, value in d.updates:
        if target == sid and name == "supersedes":
            prev = value if isinstance(value, int) else None
    return prev


def _lineage_after(d: Decision, index: SeriesIndex, sids: set[int]) -> list[int]:
    """Every series sharing a lineage with `sids`, before or after `d` (a
    superset is harmless: an unchanged card is not edited)."""
    lineages = {_state(d, index, sid).lineage_id for sid in sids}
    lineages |= {v for _, name, v in d.updates if name == "lineage_id" and isinstance(v, int)}
    members = set(sids)
    for lid in lineages:
        members.update(index.lineage(lid))
    if d.new_series is not None and d.new_series.lineage_id in lineages:
        members.add(d.new_series.series_id)
    return sorted(members)


def neighbours(d: Decision, index: SeriesIndex) -> list[int]:
    """Series whose card (or patch messages) depend on what `d` changes, other
    than those `d` already has events for, unless their own previous version
    changed: then their patches' "since vN" lines do, and only VERSION_CHANGED
    says so."""
    touched = {e.series_id for e in d.events}
    out: dict[int, None] = {}
    for sid in sorted(touched):
        succ = _successor(d, index, sid)
        if succ is not None:
            out.setdefault(succ)
    relinked = {sid for sid, name, _ in d.updates if name in ("supersedes", "superseded_by", "lineage_id")}
    must = {sid for sid, name, _ in d.updates if name == "supersedes"}
    for sid in sorted(relinked):
        out.setdefault(sid)
    new = d.new_series
    if new is not None and not d.new_lineage:
        relinked.add(new.series_id)
    # Other cards name a version by its first mail (cover, else lowest patch):
    # its previous version's "Superseded by" link and, while it is the latest,
    # every older card's `b4 am` line. Said when that becomes the cover or
    # patch 1, what names a whole posting whatever the order: not at every
    # lower patch of a series sent newest first (a long lineage's cards each time).
    renamed = {sid for sid, name, v in d.updates if name == "cover" or (name == "title_slot" and v == 1)}
    for sid in sorted(renamed):
        prev = _predecessor(d, index, sid)
        if prev is not None:
            out.setdefault(prev)
        if _successor(d, index, sid) is None:
            relinked.add(sid)
    if relinked:
        # A new, late or re-placed version: the older cards' `b4 am` line points to the latest.
        for sid in _lineage_after(d, index, relinked)[-MAX_LINEAGE_EDITS:]:
            out.setdefault(sid)
    return [sid for sid in out if sid not in touched or sid in must]


def with_neighbour_events(d: Decision, index: SeriesIndex, when: datetime) -> Decision:
    extra: list[Event] = [
        event(
            kind=EventKind.VERSION_CHANGED,
            series_id=sid,
            message_id=d.message_id,
            data={"by": d.series_id},
            created_at=when,
        )
        for sid in neighbours(d, index)
    ]
    if not extra:
        return d
    return dataclasses.replace(d, events=(*d.events, *extra))
