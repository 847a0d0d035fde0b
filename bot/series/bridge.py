"""Lineages that one posting shows to be the same work: merged, and rechained.

Linking picks one earlier (or later) posting per new one. In arrival order
that is enough; out of order, v4 and v6 may each start a lineage before v5
arrives, and v5 links to only one of them. A posting whose title (or
change-id) matches postings in several lineages bridges them: they become
one, and its versions are chained again in (version, first seen) order, the
chain Date order would have built. Pure functions over a `SeriesIndex`.
"""

from __future__ import annotations

from datetime import datetime

from bot.series.lineage import DUPLICATE_WINDOW, TITLE_WINDOW, comparable_titles, same_titles
from bot.series.models import Event, EventKind
from bot.series.state import SeriesIndex, SeriesState, copy_state
from bot.series.threads import event
from bot.series.titles import same_title, similarity


def _matching_lineages(me: SeriesState, slot: int, title: str, index: SeriesIndex, backport: bool) -> set[int]:
    """Lineages (other than `me`'s) holding a posting of the same work by title or change-id."""
    found: set[int] = set()
    if me.change_id:
        found |= {index.series(sid).lineage_id for sid in index.series_by_change_id(me.change_id)}
    # A backport for 5.4 is not a new version of the one for 4.19 (as find_lineage).
    for sid in () if backport else index.candidates_by_title(me.author_email, title):
        s = index.series(sid)
        if sid == me.series_id or s.pull or me.pull or s.tags != me.tags:
            continue
        if abs(me.first_seen - s.last_seen) > TITLE_WINDOW:
            continue
        titles = comparable_titles(s, slot)
        if s.version_key == me.version_key and not any(same_title(title, o) for o in titles):
            continue
        if any(similarity(title, o) > 0 for o in titles):
            found.add(s.lineage_id)
    found.discard(me.lineage_id)
    return found


def _conflicts(a: list[SeriesState], b: list[SeriesState]) -> bool:
    """Two postings of the same version (RFC or not) with different titles: two
    pieces of work that a third posting resembles, not one lineage."""
    return any(
        x.version_key == y.version_key and x.rfc == y.rfc and not same_titles(x, y)
        for x in a
        if x.duplicate_of is None and not x.partial
        for y in b
        if y.duplicate_of is None and not y.partial
    )


def bridge(
    me: SeriesState,
    slot: int,
    title: str,
    index: SeriesIndex,
    when: datetime,
    message_id: str,
    pending: list[tuple[int, str, object]] | tuple[()] = (),
    *,
    backport: bool = False,
) -> tuple[list[tuple[int, str, object]], list[Event]]:
    """Updates (and SUPERSEDED events) merging every lineage `me` matches
    into `me`'s, its versions chained again. `me` is the posting as this
    decision leaves it (it may not be in the index yet). Nothing when it
    bridges nothing. `pending`: this decision's updates so far, seen as done."""
    others = _matching_lineages(me, slot, title, index, backport)
    if me.partial or not (others or [sid for sid in index.lineage(me.lineage_id) if sid != me.series_id]):
        return [], []
    members: dict[int, SeriesState] = {sid: copy_state(index.series(sid)) for sid in index.lineage(me.lineage_id)}
    members[me.series_id] = copy_state(me)
    merged = {me.lineage_id}
    for other in sorted(others):
        joining = [copy_state(index.series(sid)) for sid in index.lineage(other)]
        if not _conflicts(list(members.values()), joining):
            merged.add(other)
            members.update((s.series_id, s) for s in joining)
    lid = min(merged)  # the oldest lineage keeps its number
    for sid, name, value in pending:
        if sid in members and sid != me.series_id:
            setattr(members[sid], name, value)
    updates: list[tuple[int, str, object]] = [
        (sid, "lineage_id", lid) for sid, s in sorted(members.items()) if s.lineage_id != lid
    ]
    # The same posting sent again within minutes, seen apart until now: the
    # later one is a duplicate of the first, as place_in_lineage would say.
    originals: list[SeriesState] = []
    for s in sorted(members.values(), key=lambda s: (s.first_seen, s.series_id)):
        if s.partial:
            continue
        first = next(
            (
                o
                for o in originals
                if o.author_email == s.author_email
                and o.version_key == s.version_key
                and o.declared_total == s.declared_total
                and same_titles(o, s)
                and abs(s.first_seen - o.first_seen) <= DUPLICATE_WINDOW
            ),
            None,
        )
        if first is None:
            originals.append(s)
            if s.duplicate_of is not None:
                updates.append((s.series_id, "duplicate_of", None))
                s.duplicate_of = None
            continue
        if s.duplicate_of != first.series_id:
            updates.append((s.series_id, "duplicate_of", first.series_id))
            s.duplicate_of = first.series_id
            for f in ("supersedes", "superseded_by"):
                if getattr(s, f) is not None:
                    updates.append((s.series_id, f, None))
                    setattr(s, f, None)
    chain = sorted(
        (s for s in members.values() if s.duplicate_of is None and not s.partial),
        key=lambda s: (s.version_key, s.first_seen, s.series_id),
    )
    events: list[Event] = []
    for pos, s in enumerate(chain):
        before = chain[pos - 1].series_id if pos > 0 else None
        after = chain[pos + 1].series_id if pos + 1 < len(chain) else None
        if s.supersedes != before:
            updates.append((s.series_id, "supersedes", before))
        if s.superseded_by != after:
            updates.append((s.series_id, "superseded_by", after))
            if after is not None:
                events.append(
                    event(
                        kind=EventKind.SUPERSEDED,
                        series_id=s.series_id,
                        message_id=message_id,
                        data={"by": after, "via": "bridge"},
                        created_at=when,
                    )
                )
    return updates, events
