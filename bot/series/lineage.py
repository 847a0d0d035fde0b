"""Which earlier (or later) posting is the same work, and where a posting sits
among its versions: chain, duplicate or partial reroll. Pure functions."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime, timedelta
from urllib.parse import unquote

from bot.mail.models import Kind, ParsedMail
from bot.series.models import Event, EventKind
from bot.series.state import Member, SeriesIndex, SeriesState
from bot.series.threads import event, version_key
from bot.series.titles import same_title, similarity


# The same posting sent again within this window is a duplicate, not a resend.
DUPLICATE_WINDOW = timedelta(minutes=30)
# Versions linked by title alone are at most this far apart.
TITLE_WINDOW = timedelta(days=365)
# lore.kernel.org/<list>/<msgid>/, lore.kernel.org/r/<msgid>, patch.msgid.link/<msgid>
_LORE_MID = re.compile(
    r"https?://(?:lore\.kernel\.org|patch\.msgid\.link)/(?:[^/\s]+/)*?([^/\s<>]+@[^/\s<>]+)"
)


def _previous_ids(mail: ParsedMail) -> Iterator[str]:
    for link in mail.previous_versions:
        text = unquote(link.strip())
        m = _LORE_MID.search(text)
        if m:
            yield m.group(1)
        elif "@" in text and "/" not in text:
            yield text.strip("<>")


def comparable_titles(s: SeriesState, slot: int) -> list[str]:
    """What a posting's member `slot` is compared with: the same k/N of the other
    posting, and for a cover or first/single patch also its series title."""
    out = [s.member_titles[slot]] if slot in s.member_titles else []
    if slot in (0, 1):
        out.append(s.title)
    return out


def find_lineage(
    mail: ParsedMail,
    slot: int,
    nearest: Member | None,
    index: SeriesIndex,
    when: datetime,
    me: SeriesState | None,
) -> tuple[SeriesState, str] | None:
    """An earlier (or later) posting of the same work, and how we know."""
    mine = me.series_id if me is not None else None
    if nearest is not None:
        s = index.series(nearest.series_id)
        other_title = s.member_titles.get(nearest.slot, s.title)
        if version_key(mail) != s.version_key or similarity(mail.subject.title, other_title) > 0:
            return s, "thread"
    if mail.change_id:
        found = [sid for sid in index.series_by_change_id(mail.change_id) if sid != mine]
        if found:
            return index.series(found[-1]), "change-id"
    for mid in _previous_ids(mail):
        hit = index.member(mid)
        if hit is not None and hit.series_id != mine:
            return index.series(hit.series_id), "link"
    if mail.kind is Kind.PULL or mail.subject.stable_backport:
        # Pull titles repeat every cycle, and a backport for 5.4 is not a new
        # version of the one for 4.19: same titles, different work.
        return None
    best: tuple[float, SeriesState] | None = None
    mine_key = me.version_key if me is not None else version_key(mail)
    for sid in index.candidates_by_title(mail.author.email.lower(), mail.subject.title):
        s = index.series(sid)
        if sid == mine or s.pull or s.tags != mail.subject.tags:
            continue
        if abs(when - s.last_seen) > TITLE_WINDOW:
            continue
        # A similar title links a later version; the same version only with
        # the same title (a resend, a duplicate, or an older version arriving late).
        if s.version_key == mine_key and not any(
            same_title(mail.subject.title, o) for o in comparable_titles(s, slot)
        ):
            continue
        score = max((similarity(mail.subject.title, o) for o in comparable_titles(s, slot)), default=0.0)
        if score > 0 and (best is None or score >= best[0]):
            best = (score, s)
    return (best[1], "title") if best else None


def same_titles(a: SeriesState, b: SeriesState) -> bool:
    """The same title, or the same title for a k/N both have received."""
    if a.title_slot == b.title_slot and same_title(a.title, b.title):
        return True
    return any(same_title(t, a.member_titles[k]) for k, t in b.member_titles.items() if k in a.member_titles)


def place_in_lineage(
    me: SeriesState,
    link: tuple[SeriesState, str],
    index: SeriesIndex,
    when: datetime,
    message_id: str,
    peer: SeriesState | None = None,
) -> tuple[list[tuple[int, str, object]], list[Event], dict[str, object]]:
    """Place `me` in the lineage of `link`: duplicate, partial reroll, or a link in the chain.

    `peer`: the state of a lineage member as this decision changes it (the
    index still holds the old one). Returns updates of other series, events,
    and the fields to set on `me`."""
    other, how = link
    lid = other.lineage_id
    mine: dict[str, object] = {"lineage_id": lid}
    updates: list[tuple[int, str, object]] = []
    events: list[Event] = []
    members = [
        peer if peer is not None and sid == peer.series_id else index.series(sid)
        for sid in index.lineage(lid)
        if sid != me.series_id
    ]
    # The same posting again within minutes: a duplicate, outside the version chain.
    for s in members:
        if (
            s.author_email == me.author_email
            and s.version_key == me.version_key
            and s.declared_total == me.declared_total
            and same_titles(s, me)
            and abs(me.first_seen - s.first_seen) <= DUPLICATE_WINDOW
        ):
            mine["duplicate_of"] = s.duplicate_of or s.series_id  # always the first posting
            return updates, events, mine
    if me.partial:
        # A partial reroll points at what it rerolls; that version stays current.
        mine["supersedes"] = other.series_id
        return updates, events, mine
    chain = [s for s in members if s.duplicate_of is None and not s.partial]
    key = (me.version_key, me.first_seen)
    pred = max(
        (s for s in chain if (s.version_key, s.first_seen) <= key),
        key=lambda s: (s.version_key, s.first_seen),
        default=None,
    )
    succ = min(
        (s for s in chain if (s.version_key, s.first_seen) > key),
        key=lambda s: (s.version_key, s.first_seen),
        default=None,
    )
    if pred is not None:
        mine["supersedes"] = pred.series_id
        updates.append((pred.series_id, "superseded_by", me.series_id))
        if pred.superseded_by is None:
            events.append(
                event(
                    kind=EventKind.SUPERSEDED,
                    series_id=pred.series_id,
                    message_id=message_id,
                    data={"by": me.series_id, "via": how},
                    created_at=when,
                )
            )
    if succ is not None:
        # An older version arriving late slots in before the newer one.
        mine["superseded_by"] = succ.series_id
        updates.append((succ.series_id, "supersedes", me.series_id))
        events.append(
            event(
                kind=EventKind.SUPERSEDED,
                series_id=me.series_id,
                message_id=message_id,
                data={"by": succ.series_id, "via": how},
                created_at=when,
            )
        )
    return updates, events, mine


def early_partial_reroll(mail: ParsedMail, slot: int, me: SeriesState, index: SeriesIndex) -> SeriesState | None:
    """A posting holding only this k/N in another version, sent In-Reply-To this mail."""
    if slot == 0 or mail.subject.total is None:
        return None
    for other_id in index.series_answering(mail.message_id):
        o = index.series(other_id)
        if (
            set(o.members) == {slot}
            and not o.partial
            and o.declared_total == mail.subject.total
            and o.version_key != me.version_key
            and o.superseded_by is None
            and (o.supersedes is None or o.supersedes == me.series_id)
        ):
            return o
    return None
