"""Which patch messages an event changes: they are edited with the card. Pure.

A patch's thread message shows its trailers, where it was applied and whether
it changed since the previous version, so a review of it (or of the cover,
which counts for every patch), an applied notice naming it (or the series),
a change to the previous version (VERSION_CHANGED), and another patch of its
own version arriving (which may continue the same old patch) each owe it an
edit; one whose render is unchanged is not sent.
"""

from __future__ import annotations

from bot.series.models import Event, EventKind, SeriesView


def _by_slot(series: SeriesView) -> dict[int, str]:
    return {(p.index or 1): p.message_id for p in series.patches if p.index != 0}


def patches_to_edit(event: Event, series: SeriesView) -> set[str]:
    """Message-IDs of the series' patches whose message `event` changes."""
    slots = _by_slot(series)
    if event.kind is EventKind.VERSION_CHANGED:
        return set(slots.values())
    if event.kind is EventKind.PATCH_ADDED and series.supersedes is not None:
        # The new patch may continue (by title) the previous version's patch
        # another one was taken to continue (by index): that one's "since" changes.
        return set(slots.values()) - {event.message_id}
    if event.kind is EventKind.TRAILER_ADDED:
        slot = event.data.get("slot")
        if slot == 0:
            return set(slots.values())
        return {slots[slot]} if isinstance(slot, int) and slot in slots else set()
    if event.kind is EventKind.APPLIED:
        named = str(event.data.get("patches") or "")
        wanted = {int(x) for x in named.split(",") if x.strip().isdigit()}
        if 0 in wanted:
            return set(slots.values())
        return {slots[k] for k in wanted if k in slots}
    return set()
