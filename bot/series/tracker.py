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

from datetime import datetime, timedelta, timezone

from bot.mail.models import Kind, ParsedMail
from bot.series.bridge import bridge
from bot.series.decision import Decision, MemberRecord, Role, TrailerRecord, giver_of
from bot.series.late import LateFix
from bot.series.lineage import early_partial_reroll, find_lineage, place_in_lineage
from bot.series.models import Event, EventKind
from bot.series.neighbours import with_neighbour_events
from bot.series.replies import REVIEW_TRAILERS, decide_reply
from bot.series.state import Member, SeriesIndex, SeriesState, copy_state, voted_subsystem
from bot.series.threads import event, explicit_version, nearest_member, parents, slot_of, version_key
from bot.series.titles import same_title

# A mailer without threading sends the whole set within this window.
UNTHREADED_WINDOW = timedelta(minutes=15)
# Further patches of a partial reroll may trickle in over a day.
PARTIAL_WINDOW = timedelta(days=1)
# How many of an author's most recent series an unthreaded patch is matched against.
UNTHREADED_SCAN = 20
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
# Mails that post a cover or patch (a stable backport is a posting of its own kind).
POSTING_KINDS = (Kind.PATCH, Kind.COVER, Kind.PULL, Kind.BACKPORT)


def is_backport(mail: ParsedMail) -> bool:
    """A stable backport posting: the parser's kind, or (from parsers before it) the subject's flag."""
    return mail.kind is Kind.BACKPORT or mail.subject.stable_backport


def decide(mail: ParsedMail, index: SeriesIndex, *, received_at: datetime | None = None) -> Decision:
    """Where `mail` belongs and what changes; `received_at` stands in for a missing Date."""
    when = mail.date or received_at or _EPOCH
    if mail.kind in (Kind.BOT, Kind.UNPARSEABLE):
        return Decision(mail.message_id, Role.NONE, notes=(f"kind {mail.kind}: not tracked",))
    if mail.kind in POSTING_KINDS and not _reply_with_patch(mail, index):
        d = _posting(mail, index, when)
    else:
        d = decide_reply(mail, index, when)
    return with_neighbour_events(d, index, when)


def _reply_with_patch(mail: ParsedMail, index: SeriesIndex) -> bool:
    """An unnumbered diff sent inside a multi-patch series ("how about this?").

    It stays a reply unless it is clearly the next version of what it answers
    (a new version number, or the same title)."""
    if mail.kind is not Kind.PATCH or mail.subject.total is not None:
        return False
    found = nearest_member(mail, index)
    if found is None:
        return False
    s = index.series(found.series_id)
    if s.total <= 1 or s.pull:
        return False
    if not set(mail.subject.tags) <= set(s.tags):
        return False  # for another project ("[PATCH QEMU]" beside a kernel series): a posting of its own
    if explicit_version(mail) and version_key(mail) != s.version_key:
        return False
    return not same_title(mail.subject.title, s.member_titles.get(found.slot, s.title))


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
    if s.declared_total is None and s.cover is None:
        return False  # ... so a numbered one does not join it (it came first, answering the same cover)
    if s.declared_total is not None and mail.subject.total != s.declared_total:
        return False
    if version_key(mail) != s.version_key:
        if not direct or (explicit_version(mail) and s.version_explicit):
            return False
    return True


def _find_target(
    mail: ParsedMail, slot: int, index: SeriesIndex, when: datetime
) -> tuple[SeriesState | None, Member | None]:
    """The posting this mail joins, and the nearest series member it replies to."""
    nearest = nearest_member(mail, index)
    if nearest is not None:
        s = index.series(nearest.series_id)
        direct = s.members.get(nearest.slot) == mail.in_reply_to
        if _compatible(mail, slot, s, direct=direct):
            return s, nearest
    # Out of order: a child that arrived first named us (or our parent).
    email = mail.author.email.lower()
    for i, rid in enumerate([mail.message_id, *parents(mail)]):
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
                and explicit_version(mail)
                and version_key(mail) == s.version_key
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
            and version_key(mail) == s.version_key
            and _compatible(mail, slot, s)
        ):
            return s, None
    return None, None


def _posting(mail: ParsedMail, index: SeriesIndex, when: datetime) -> Decision:
    slot = slot_of(mail)
    target, nearest = _find_target(mail, slot, index, when)
    if target is not None:
        return _join(mail, slot, target, nearest, index, when)
    return _create(mail, slot, nearest, index, when)


def stable_repost_of(mail: ParsedMail, slot: int, sid: int, lineage: list[SeriesState]) -> str | None:
    """The patch of another version in the lineage that asked stable for this same
    fix (the same title), oldest first: its alert is the one alert of the fix."""
    if slot == 0:
        return None
    for o in lineage:
        if o.series_id == sid:
            continue
        for k in sorted(o.stable_slots):
            if k > 0 and same_title(o.member_titles.get(k, ""), mail.subject.title):
                return o.members.get(k)
    return None


def _member_events(
    mail: ParsedMail, slot: int, sid: int, when: datetime, repost_of: str | None = None
) -> list[Event]:
    mid = mail.message_id
    events = [
        event(
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
            event(
                kind=EventKind.STABLE_REQUESTED,
                series_id=sid,
                message_id=mid,
                patch_index=None if slot == 0 else mail.subject.index,
                data={"versions": ", ".join(mail.stable.versions) or None, "repost_of": repost_of},
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
            ("prefixes", sub.prefixes),
            ("tags", sub.tags),
            ("rfc", sub.rfc or s.rfc),
            ("resend", sub.resend or s.resend),
        ]
    if explicit_version(mail) and not s.version_explicit:
        out += [("version", sub.version), ("version_label", sub.version_label), ("version_explicit", True)]
    if s.declared_total is None and sub.total is not None:
        out.append(("declared_total", sub.total))
    if slot == 0:
        out.append(("cover", mail.message_id))
        if mail.kind is Kind.PULL:
            out.append(("pull", True))
    if mail.change_id and not s.change_id:
        out.append(("change_id", mail.change_id))
    if is_backport(mail) and not s.backport:
        out.append(("backport", True))
    voted = voted_subsystem({**s.member_subsystems, slot: sub.subsystem})
    if voted != s.subsystem:
        out.append(("subsystem", voted))
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
    lineage = [index.series(x) for x in index.lineage(s.lineage_id)]
    events = _member_events(mail, slot, sid, when, stable_repost_of(mail, slot, sid, lineage))
    was_complete = s.complete
    after_members = {**s.members, slot: mail.message_id}
    after_total = max(
        s.declared_total or mail.subject.total or (0 if s.pull or mail.kind is Kind.PULL else 1),
        max((k for k in after_members if k > 0), default=0),
    )
    now_complete = all(i in after_members for i in range(1, after_total + 1))
    if now_complete and not was_complete:
        events.append(event(kind=EventKind.SERIES_COMPLETED, series_id=sid, message_id=mail.message_id, created_at=when))
    notes = [f"joins series {sid} as slot {slot}"]
    late = LateFix(mail, slot, s, index, when, after_members)
    late.revisit(nearest)
    updates += late.updates
    events += late.events
    notes += late.notes
    probe = copy_state(s)
    probe.members = after_members
    probe.member_titles = {**s.member_titles, slot: mail.subject.title}
    probe.change_id = s.change_id or mail.change_id
    for usid, f, v in updates:
        if usid == sid:
            setattr(probe, f, v)
    if not probe.partial:
        bridged, bridge_events = bridge(
            probe, slot, mail.subject.title, index, when, mail.message_id, pending=updates,
            backport=mail.subject.stable_backport,
        )
        updates += bridged
        events += bridge_events
        if bridged:
            notes.append(f"bridges lineages into {probe.lineage_id}")
    return Decision(
        mail.message_id,
        Role.COVER if slot == 0 else Role.PATCH,
        sid,
        member=MemberRecord(sid, slot, mail),
        updates=tuple(updates),
        refs=tuple(parents(mail)),
        trailers=_own_trailers(mail, slot, sid),
        events=tuple(events),
        notes=tuple(notes),
    )


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
            explicit_version(mail)
            and version_key(mail) != base.version_key
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
        version_explicit=explicit_version(mail),
        declared_total=sub.total,
        rfc=sub.rfc,
        resend=sub.resend,
        pull=mail.kind is Kind.PULL,
        backport=is_backport(mail),
        subsystem=sub.subsystem,
        prefixes=sub.prefixes,
        tags=sub.tags,
        list_id=mail.list_id,
        cover=mail.message_id if slot == 0 else None,
        title_slot=slot,
        members={slot: mail.message_id},
        member_titles={slot: sub.title},
        member_subsystems={slot: sub.subsystem},
        change_id=mail.change_id,
        partial=partial,
    )
    link = find_lineage(mail, slot, nearest, index, when, None)
    updates: list[tuple[int, str, object]] = []
    link_events: list[Event] = []
    notes = [f"new series {sid}"]
    new_lineage = link is None
    if link is not None:
        updates, link_events, mine = place_in_lineage(state, link, index, when, mail.message_id)
        for f, v in mine.items():
            setattr(state, f, v)
        notes.append(f"lineage {state.lineage_id} via {link[1]}")
    reroll = early_partial_reroll(mail, slot, state, index)
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
    if not state.partial:
        bridged, bridge_events = bridge(
            state, slot, sub.title, index, when, mail.message_id, pending=updates, backport=sub.stable_backport
        )
        for sid_, f, v in bridged:
            if sid_ == sid:
                setattr(state, f, v)
            else:
                updates.append((sid_, f, v))
        link_events += bridge_events
        if state.lineage_id != new_lid:
            new_lineage = False
        if bridged:
            notes.append(f"bridges lineages into {state.lineage_id}")
    events = [
        event(
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
        *_member_events(
            mail, slot, sid, when,
            stable_repost_of(mail, slot, sid, [index.series(x) for x in index.lineage(state.lineage_id)]),
        ),
    ]
    if state.complete:
        events.append(event(kind=EventKind.SERIES_COMPLETED, series_id=sid, message_id=mail.message_id, created_at=when))
    events += link_events
    return Decision(
        mail.message_id,
        Role.COVER if slot == 0 else Role.PATCH,
        sid,
        new_series=state,
        new_lineage=new_lineage,
        member=MemberRecord(sid, slot, mail),
        updates=tuple(updates),
        refs=tuple(parents(mail)),
        trailers=_own_trailers(mail, slot, sid),
        events=tuple(events),
        notes=tuple(notes),
    )
