"""Decide where one parsed mail belongs: pure logic over a `SeriesIndex`.

`decide(mail, index, received_at=...)` never mutates anything: it returns a
`Decision` (new or joined series, lineage links, trailers, applied patches and
the events that report them). The caller persists it and then updates its
index (see `MemoryIndex.apply`), so a failed write leaves the index untouched.

Events for a mail that posts a cover or patch, in order: SERIES_CREATED (when
it starts a series), COVER_ADDED or PATCH_ADDED (always, so every patch can be
shown), STABLE_REQUESTED, SERIES_COMPLETED (when the last missing patch lands)
and SUPERSEDED (on the older version). Replies give TRAILER_ADDED per new
trailer and one APPLIED per "applied, thanks" notice.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from urllib.parse import unquote

from bot.mail.models import Kind, ParsedMail, Trailer
from bot.series.decision import (
    AppliedRecord,
    Decision,
    MemberRecord,
    Role,
    TrailerRecord,
    giver_of,
)
from bot.series.models import Event, EventKind
from bot.series.state import Member, SeriesIndex, SeriesState
from bot.series.titles import same_title, similarity

# Trailers that record review work and are shown per patch.
REVIEW_TRAILERS = frozenset({"Reviewed-by", "Acked-by", "Tested-by"})
# A mailer without threading sends the whole set within this window.
UNTHREADED_WINDOW = timedelta(minutes=15)
# The same posting sent again within this window is a duplicate, not a resend.
DUPLICATE_WINDOW = timedelta(minutes=30)
# Further patches of a partial reroll may trickle in over a day.
PARTIAL_WINDOW = timedelta(days=1)
# Versions linked by title alone are at most this far apart.
TITLE_WINDOW = timedelta(days=365)
# How many of an author's most recent series an unthreaded patch is matched against.
UNTHREADED_SCAN = 20

_LORE_MID = re.compile(r"https?://lore\.kernel\.org/(?:[^/\s]+/)*?([^/\s<>]+@[^/\s<>]+)")
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


def _event(**fields: object) -> Event:
    # Built from our own typed values: skip validation (it was a third of the
    # tracker's time on the bulk path).
    return Event.model_construct(**fields)


def decide(mail: ParsedMail, index: SeriesIndex, *, received_at: datetime | None = None) -> Decision:
    """Where `mail` belongs and what changes; `received_at` stands in for a missing Date."""
    when = mail.date or received_at or _EPOCH
    if mail.kind in (Kind.BOT, Kind.UNPARSEABLE):
        return Decision(mail.message_id, Role.NONE, notes=(f"kind {mail.kind}: not tracked",))
    if mail.kind in (Kind.PATCH, Kind.COVER, Kind.PULL) and not _reply_with_patch(mail, index):
        return _posting(mail, index, when)
    return _reply(mail, index, when)


# ---------------------------------------------------------------- threading


def _parents(mail: ParsedMail) -> list[str]:
    """Ancestors, nearest first: In-Reply-To, then References newest to oldest."""
    out: list[str] = []
    if mail.in_reply_to:
        out.append(mail.in_reply_to)
    for ref in reversed(mail.references):
        if ref not in out and ref != mail.message_id:
            out.append(ref)
    return out


def _nearest_member(mail: ParsedMail, index: SeriesIndex) -> Member | None:
    for pid in _parents(mail):
        found = index.member(pid)
        if found is not None:
            return found
    return None


def _slot(mail: ParsedMail) -> int:
    if mail.kind in (Kind.COVER, Kind.PULL):
        return 0
    if mail.subject.index is None:
        return 1
    return mail.subject.index


def _explicit_version(mail: ParsedMail) -> bool:
    # The parser normalises version prefixes to "v<digits>" ("V2" -> "v2").
    return mail.subject.version_label is not None or any(
        p[:1] == "v" and p[1:2].isdigit() for p in mail.subject.prefixes
    )


def _version_key(mail: ParsedMail) -> float:
    if mail.subject.version_label:
        try:
            return float(mail.subject.version_label)
        except ValueError:
            pass
    return float(mail.subject.version)


def _reply_with_patch(mail: ParsedMail, index: SeriesIndex) -> bool:
    """An unnumbered diff sent inside a multi-patch series ("how about this?").

    It stays a reply unless it is clearly the next version of what it answers
    (a new version number, or the same title)."""
    if mail.kind is not Kind.PATCH or mail.subject.total is not None:
        return False
    found = _nearest_member(mail, index)
    if found is None:
        return False
    s = index.series(found.series_id)
    if s.total <= 1 or s.pull:
        return False
    if _explicit_version(mail) and _version_key(mail) != s.version_key:
        return False
    return not same_title(mail.subject.title, s.member_titles.get(found.slot, s.title))


# ---------------------------------------------------------------- postings


def _compatible(mail: ParsedMail, slot: int, s: SeriesState, *, direct: bool = True) -> bool:
    """Could `mail` be the member `slot` of posting `s`?

    `direct`: the mail answers a member of `s` itself (or a member answers
    the mail); only then may one side inherit the other's version (case 7:
    `[PATCH 1/4]` answering `[PATCH v3 0/4]`)."""
    if slot in s.members:
        return False  # taken: another posting of the same patch
    if s.pull:
        return mail.kind is not Kind.PULL
    if mail.kind is Kind.PULL:
        return s.cover is None
    if mail.subject.total is None:
        return False  # an unnumbered patch is a series of its own
    if s.declared_total is not None and mail.subject.total != s.declared_total:
        return False
    if _version_key(mail) != s.version_key:
        if not direct or (_explicit_version(mail) and s.version_explicit):
            return False
    return True


def _find_target(
    mail: ParsedMail, slot: int, index: SeriesIndex, when: datetime
) -> tuple[SeriesState | None, Member | None]:
    """The posting this mail joins, and the nearest series member it replies to."""
    nearest = _nearest_member(mail, index)
    if nearest is not None:
        s = index.series(nearest.series_id)
        direct = s.members.get(nearest.slot) == mail.in_reply_to
        if _compatible(mail, slot, s, direct=direct):
            return s, nearest
    # Out of order: a child that arrived first named us (or our parent).
    email = mail.author.email.lower()
    for i, rid in enumerate([mail.message_id, *_parents(mail)]):
        for sid in index.series_referencing(rid):
            s = index.series(sid)
            if nearest is not None and sid == nearest.series_id:
                continue
            # Two series answering the same unrelated mail must not merge:
            # through a shared parent only the same author's patches join (a
            # cover never answers a mail its own patches answer).
            if i > 0 and (s.author_email != email or slot == 0):
                continue
            direct = i == 0 and sid in index.series_answering(rid)
            if _compatible(mail, slot, s, direct=direct):
                return s, nearest
    if nearest is not None:
        # Further patches of a partial reroll, each answering its old version.
        base = index.series(nearest.series_id)
        for sid in reversed(index.lineage(base.lineage_id)):
            s = index.series(sid)
            if (
                s.partial
                and s.author_email == email
                and abs(when - s.last_seen) <= PARTIAL_WINDOW
                and _explicit_version(mail)
                and _version_key(mail) == s.version_key
                and _compatible(mail, slot, s)
            ):
                return s, nearest
        return None, nearest
    if mail.in_reply_to or mail.references or (mail.subject.total or 0) <= 1:
        return None, None
    # No threading headers at all: same sender, version and total, within
    # minutes, joining a posting that was sent without threading too.
    for sid in reversed(index.candidates_by_author(email)[-UNTHREADED_SCAN:]):
        s = index.series(sid)
        if (
            not index.is_threaded(sid)
            and abs(when - s.last_seen) <= UNTHREADED_WINDOW
            and s.declared_total == mail.subject.total
            and s.rfc == mail.subject.rfc
            and _version_key(mail) == s.version_key
            and _compatible(mail, slot, s)
        ):
            return s, None
    return None, None


def _posting(mail: ParsedMail, index: SeriesIndex, when: datetime) -> Decision:
    slot = _slot(mail)
    target, nearest = _find_target(mail, slot, index, when)
    if target is not None:
        return _join(mail, slot, target, nearest, index, when)
    return _create(mail, slot, nearest, index, when)


def _member_events(mail: ParsedMail, slot: int, sid: int, when: datetime) -> list[Event]:
    mid = mail.message_id
    events = [
        _event(
            kind=EventKind.COVER_ADDED if slot == 0 else EventKind.PATCH_ADDED,
            series_id=sid,
            message_id=mid,
            patch_index=None if slot == 0 else mail.subject.index,
            data={"slot": slot},
            created_at=when,
        )
    ]
    if mail.stable.tagged and not mail.stable.noautosel:
        events.append(
            _event(
                kind=EventKind.STABLE_REQUESTED,
                series_id=sid,
                message_id=mid,
                patch_index=None if slot == 0 else mail.subject.index,
                data={"versions": ", ".join(mail.stable.versions) or None},
                created_at=when,
            )
        )
    return events


def _own_trailers(mail: ParsedMail, slot: int, sid: int) -> tuple[TrailerRecord, ...]:
    """Review trailers a patch carries itself (kept from an earlier version)."""
    if slot == 0:
        return ()
    out: dict[tuple[str, str], TrailerRecord] = {}
    for t in mail.trailers:
        if t.name in REVIEW_TRAILERS:
            giver, email = giver_of(t.value, t.person)
            out.setdefault(
                (t.name, email),
                TrailerRecord(sid, slot, t.name, giver, email, mail.message_id, False),
            )
    return tuple(out.values())


def _identity_updates(mail: ParsedMail, slot: int, s: SeriesState) -> list[tuple[str, object]]:
    """Fields a joining member sets: the cover names the series; patches inherit."""
    out: list[tuple[str, object]] = []
    sub = mail.subject
    if slot < s.title_slot:
        out += [
            ("title", sub.title),
            ("subject", sub.raw),
            ("title_slot", slot),
            ("subsystem", sub.subsystem),
            ("prefixes", sub.prefixes),
            ("tags", sub.tags),
            ("rfc", sub.rfc or s.rfc),
            ("resend", sub.resend or s.resend),
        ]
    if _explicit_version(mail) and not s.version_explicit:
        out += [("version", sub.version), ("version_label", sub.version_label), ("version_explicit", True)]
    if s.declared_total is None and sub.total is not None:
        out.append(("declared_total", sub.total))
    if slot == 0:
        out.append(("cover", mail.message_id))
        if mail.kind is Kind.PULL:
            out.append(("pull", True))
    if mail.change_id and not s.change_id:
        out.append(("change_id", mail.change_id))
    if _dated_before(mail, s):
        out.append(("first_seen", mail.date))
    if mail.date and mail.date > s.last_seen:
        out.append(("last_seen", mail.date))
    return out


def _dated_before(mail: ParsedMail, s: SeriesState) -> bool:
    return mail.date is not None and mail.date < s.first_seen


def _join(
    mail: ParsedMail, slot: int, s: SeriesState, nearest: Member | None, index: SeriesIndex, when: datetime
) -> Decision:
    sid = s.series_id
    updates = [(sid, f, v) for f, v in _identity_updates(mail, slot, s)]
    events = _member_events(mail, slot, sid, when)
    was_complete = s.complete
    after_members = {**s.members, slot: mail.message_id}
    after_total = max(
        s.declared_total or mail.subject.total or (0 if s.pull or mail.kind is Kind.PULL else 1),
        max((k for k in after_members if k > 0), default=0),
    )
    now_complete = all(i in after_members for i in range(1, after_total + 1))
    if now_complete and not was_complete:
        events.append(_event(kind=EventKind.SERIES_COMPLETED, series_id=sid, message_id=mail.message_id, created_at=when))
    notes = [f"joins series {sid} as slot {slot}"]
    if s.partial and not (nearest and nearest.series_id == s.supersedes and nearest.slot == slot):
        # Not a patch-by-patch answer to the old version after all (a cover, or a
        # patch threaded to its own posting): a full new version in the chain.
        updates.append((sid, "partial", False))
        if s.supersedes is not None:
            probe = replace(s, members=after_members, partial=False, supersedes=None)
            link = (index.series(s.supersedes), "thread")
            lin_updates, lin_events, mine = _link(probe, link, index, when, mail.message_id)
            updates += lin_updates + [(sid, f, v) for f, v in mine.items()]
            events += lin_events
        notes.append("no longer a partial reroll")
    reroll = _early_partial_reroll(mail, slot, s, index)
    if reroll is not None:
        # A newer version of this very k/N arrived first, answering it: a
        # partial reroll of this posting, which stays current.
        rid = reroll.series_id
        if reroll.lineage_id != s.lineage_id:
            if index.lineage(s.lineage_id) == [sid]:
                updates.append((sid, "lineage_id", reroll.lineage_id))
            else:
                updates.append((rid, "lineage_id", s.lineage_id))
        updates += [(rid, "partial", True), (rid, "supersedes", sid)]
        if s.superseded_by == rid:
            updates.append((sid, "superseded_by", None))
        notes.append(f"series {rid} is a partial reroll of this one")
    alone = s.supersedes is None and s.duplicate_of is None and index.lineage(s.lineage_id) == [sid]
    linked = reroll is not None
    if not linked and alone and slot < s.title_slot:
        # A cover (or a lower patch) arriving late names the series better: its
        # title, change-id and links may reveal the lineage.
        explicit = _explicit_version(mail)
        probe = replace(
            s,
            members=after_members,
            member_titles={**s.member_titles, slot: mail.subject.title},
            title=mail.subject.title,
            title_slot=slot,
            version=mail.subject.version if explicit else s.version,
            version_label=mail.subject.version_label if explicit else s.version_label,
        )
        link = _find_lineage(mail, slot, _nearest_member(mail, index), index, when, probe)
        if link is not None:
            lin_updates, lin_events, mine = _link(probe, link, index, when, mail.message_id)
            updates += lin_updates + [(sid, f, v) for f, v in mine.items()]
            events += lin_events
            notes.append(f"lineage {link[0].lineage_id} via {link[1]}")
            linked = True
    if not linked:
        # A posting that came first but could not be placed until this mail
        # arrived joins our lineage: a newer version that answered this mail,
        # or the same posting sent again (same k/N title, same version).
        title = mail.subject.title if slot < s.title_slot else s.title
        by_title = [
            other_id
            for other_id in index.candidates_by_title(s.author_email, mail.subject.title)
            if index.series(other_id).version_key == s.version_key
            and same_title(index.series(other_id).member_titles.get(slot, ""), mail.subject.title)
        ]
        for how, other_id in [("thread", i) for i in index.series_answering(mail.message_id)] + [
            ("title", i) for i in by_title
        ]:
            o = index.series(other_id)
            if (
                other_id == sid
                or o.lineage_id == s.lineage_id
                or o.supersedes is not None
                or o.duplicate_of is not None
                or index.lineage(o.lineage_id) != [other_id]
                or (how == "thread" and o.version_key == s.version_key and similarity(o.title, title) == 0)
            ):
                continue  # already placed, or a follow-up set answering us (case 16)
            after = replace(s, members=after_members, member_titles={**s.member_titles, slot: mail.subject.title})
            if (
                how == "thread"
                and slot > 0
                and set(o.members) == {slot}
                and o.declared_total == s.declared_total
                and o.version_key != s.version_key
            ):
                o = replace(o, partial=True)  # it answered this very k/N: a partial reroll
                updates.append((other_id, "partial", True))
            lin_updates, lin_events, mine = _link(o, (s, how), index, when, mail.message_id, peer=after)
            updates += lin_updates + [(other_id, f, v) for f, v in mine.items()]
            events += lin_events
            notes.append(f"series {other_id} joins lineage {s.lineage_id} via {how}")
            break
    return Decision(
        mail.message_id,
        Role.COVER if slot == 0 else Role.PATCH,
        sid,
        member=MemberRecord(sid, slot, mail),
        updates=tuple(updates),
        refs=tuple(_parents(mail)),
        trailers=_own_trailers(mail, slot, sid),
        events=tuple(events),
        notes=tuple(notes),
    )


def _previous_ids(mail: ParsedMail) -> Iterator[str]:
    for link in mail.previous_versions:
        text = unquote(link.strip())
        m = _LORE_MID.search(text)
        if m:
            yield m.group(1)
        elif "@" in text and "/" not in text:
            yield text.strip("<>")


def _comparable_titles(s: SeriesState, slot: int) -> list[str]:
    """What a posting's member `slot` is compared with: the same k/N of the other
    posting, and for a cover or first/single patch also its series title."""
    out = [s.member_titles[slot]] if slot in s.member_titles else []
    if slot in (0, 1):
        out.append(s.title)
    return out


def _find_lineage(
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
        if _version_key(mail) != s.version_key or similarity(mail.subject.title, other_title) > 0:
            return s, "thread"
    if mail.change_id:
        found = [sid for sid in index.series_by_change_id(mail.change_id) if sid != mine]
        if found:
            return index.series(found[-1]), "change-id"
    for mid in _previous_ids(mail):
        hit = index.member(mid)
        if hit is not None and hit.series_id != mine:
            return index.series(hit.series_id), "link"
    if mail.kind is Kind.PULL:
        return None  # pull titles repeat every cycle; they are not versions
    best: tuple[float, SeriesState] | None = None
    mine_key = me.version_key if me is not None else _version_key(mail)
    for sid in index.candidates_by_title(mail.author.email.lower(), mail.subject.title):
        s = index.series(sid)
        if sid == mine or s.pull or s.tags != mail.subject.tags:
            continue
        if abs(when - s.last_seen) > TITLE_WINDOW:
            continue
        # A similar title links a later version; the same version only with
        # the same title (a resend, a duplicate, or an older version arriving late).
        if s.version_key == mine_key and not any(
            same_title(mail.subject.title, o) for o in _comparable_titles(s, slot)
        ):
            continue
        score = max((similarity(mail.subject.title, o) for o in _comparable_titles(s, slot)), default=0.0)
        if score > 0 and (best is None or score >= best[0]):
            best = (score, s)
    return (best[1], "title") if best else None


def _same_titles(a: SeriesState, b: SeriesState) -> bool:
    """The same title, or the same title for a k/N both have received."""
    if a.title_slot == b.title_slot and same_title(a.title, b.title):
        return True
    return any(same_title(t, a.member_titles[k]) for k, t in b.member_titles.items() if k in a.member_titles)


def _link(
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
            and _same_titles(s, me)
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
                _event(
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
            _event(
                kind=EventKind.SUPERSEDED,
                series_id=me.series_id,
                message_id=message_id,
                data={"by": succ.series_id, "via": how},
                created_at=when,
            )
        )
    return updates, events, mine


def _early_partial_reroll(mail: ParsedMail, slot: int, me: SeriesState, index: SeriesIndex) -> SeriesState | None:
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


def _create(
    mail: ParsedMail, slot: int, nearest: Member | None, index: SeriesIndex, when: datetime
) -> Decision:
    sid, new_lid = index.next_ids()
    sub = mail.subject
    partial = False
    if nearest is not None and slot > 0 and nearest.slot == slot and (sub.total or 0) > 1:
        # b4's rule: a new version's patch answering the same k/N of the old one.
        base = index.series(nearest.series_id)
        partial = (
            _explicit_version(mail)
            and _version_key(mail) != base.version_key
            and base.declared_total == sub.total
        )
    state = SeriesState(
        series_id=sid,
        lineage_id=new_lid,
        author=mail.author,
        title=sub.title,
        subject=sub.raw,
        first_seen=when,
        last_seen=when,
        version=sub.version,
        version_label=sub.version_label,
        version_explicit=_explicit_version(mail),
        declared_total=sub.total,
        rfc=sub.rfc,
        resend=sub.resend,
        pull=mail.kind is Kind.PULL,
        subsystem=sub.subsystem,
        prefixes=sub.prefixes,
        tags=sub.tags,
        list_id=mail.list_id,
        cover=mail.message_id if slot == 0 else None,
        title_slot=slot,
        members={slot: mail.message_id},
        member_titles={slot: sub.title},
        change_id=mail.change_id,
        partial=partial,
    )
    link = _find_lineage(mail, slot, nearest, index, when, None)
    updates: list[tuple[int, str, object]] = []
    link_events: list[Event] = []
    notes = [f"new series {sid}"]
    new_lineage = link is None
    if link is not None:
        updates, link_events, mine = _link(state, link, index, when, mail.message_id)
        for f, v in mine.items():
            setattr(state, f, v)
        notes.append(f"lineage {state.lineage_id} via {link[1]}")
    reroll = _early_partial_reroll(mail, slot, state, index)
    if reroll is not None:
        # A newer version of this very k/N arrived first, answering it: it is a
        # partial reroll of this posting, which stays current.
        if state.superseded_by == reroll.series_id:
            state.superseded_by = None
            link_events = [e for e in link_events if e.series_id != sid]
        else:
            state.lineage_id = reroll.lineage_id
            new_lineage = False
        updates = [u for u in updates if u[0] != reroll.series_id]
        updates += [(reroll.series_id, "partial", True), (reroll.series_id, "supersedes", sid)]
        notes.append(f"series {reroll.series_id} is a partial reroll of this one")
    events = [
        _event(
            kind=EventKind.SERIES_CREATED,
            series_id=sid,
            message_id=mail.message_id,
            patch_index=None,
            data={
                "lineage_id": state.lineage_id,
                "version": sub.version,
                "total": state.total,
                "duplicate_of": state.duplicate_of,
                "supersedes": state.supersedes,
            },
            created_at=when,
        ),
        *_member_events(mail, slot, sid, when),
    ]
    if state.complete:
        events.append(_event(kind=EventKind.SERIES_COMPLETED, series_id=sid, message_id=mail.message_id, created_at=when))
    events += link_events
    return Decision(
        mail.message_id,
        Role.COVER if slot == 0 else Role.PATCH,
        sid,
        new_series=state,
        new_lineage=new_lineage,
        member=MemberRecord(sid, slot, mail),
        updates=tuple(updates),
        refs=tuple(_parents(mail)),
        trailers=_own_trailers(mail, slot, sid),
        events=tuple(events),
        notes=tuple(notes),
    )


# ---------------------------------------------------------------- replies


def waits_for_parent(mail: ParsedMail, d: Decision) -> bool:
    """A reply that gives trailers or applies patches, but arrived before the
    patch it answers: worth deciding again once that patch is posted."""
    return (
        d.role is Role.NONE
        and mail.in_reply_to is not None
        and mail.kind not in (Kind.BOT, Kind.UNPARSEABLE, Kind.PATCH, Kind.COVER, Kind.PULL)
        and (mail.applied is not None or bool(_review_trailers(mail)))
    )


def _review_trailers(mail: ParsedMail) -> list[Trailer]:
    return [t for t in mail.trailers if t.name in REVIEW_TRAILERS]


def _applied_slot(commit_index: int | None, commit_title: str, at: Member, s: SeriesState) -> int | None:
    if commit_index is not None:
        return commit_index if commit_index in s.members else None
    if at.slot > 0:
        return at.slot
    if s.total == 1 and 1 in s.members:
        return 1
    for slot, title in s.member_titles.items():
        if slot > 0 and commit_title and same_title(title, commit_title):
            return slot
    return None


def _reply(mail: ParsedMail, index: SeriesIndex, when: datetime) -> Decision:
    at = _nearest_member(mail, index)
    if at is None:
        return Decision(mail.message_id, Role.NONE, notes=("reply outside any known series",))
    s = index.series(at.series_id)
    k = mail.subject.index
    if k and k != at.slot and k not in s.members and index.member(mail.in_reply_to or "") is None:
        # "Re: [PATCH 2/5]" whose patch 2 has not arrived: its trailers are not
        # the cover's; wait for the patch (the store hands it back then).
        return Decision(mail.message_id, Role.NONE, notes=(f"reply waits for patch {k}",))
    sid = s.series_id
    trailers: list[TrailerRecord] = []
    events: list[Event] = []
    seen: set[tuple[int, str, str]] = set()
    patch_index = None if at.slot == 0 else (at.slot if s.declared_total is not None else None)
    for t in _review_trailers(mail):
        giver, email = giver_of(t.value, t.person)
        key = (at.slot, t.name, email)
        if key in s.trailer_keys or key in seen:
            continue
        seen.add(key)
        trailers.append(TrailerRecord(sid, at.slot, t.name, giver, email, mail.message_id, True))
        events.append(
            _event(
                kind=EventKind.TRAILER_ADDED,
                series_id=sid,
                message_id=mail.message_id,
                patch_index=patch_index,
                data={"name": t.name, "giver": giver, "slot": at.slot},
                created_at=when,
            )
        )
    applied: list[AppliedRecord] = []
    if mail.applied is not None:
        done: set[int] = set()
        for c in mail.applied.commits:
            slot = _applied_slot(c.index, c.title, at, s)
            if slot is None or slot in s.applied_slots or slot in done:
                continue
            done.add(slot)
            applied.append(AppliedRecord(sid, slot, c, mail.applied.tree, mail.applied.branch, mail.message_id))
        if applied:
            events.append(
                _event(
                    kind=EventKind.APPLIED,
                    series_id=sid,
                    message_id=mail.message_id,
                    data={
                        "tree": mail.applied.tree,
                        "branch": mail.applied.branch,
                        "patches": ",".join(str(a.slot) for a in applied),
                    },
                    created_at=when,
                )
            )
    return Decision(
        mail.message_id,
        Role.REPLY,
        sid,
        trailers=tuple(trailers),
        applied=tuple(applied),
        events=tuple(events),
        notes=(f"reply to slot {at.slot} of series {sid}",),
    )
