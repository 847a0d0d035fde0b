"""Replies inside a series: review trailers per patch and applied notices."""

from __future__ import annotations

from datetime import datetime

from bot.mail.models import AppliedCommit, Kind, ParsedMail, Trailer
from bot.series.decision import AppliedRecord, Decision, Role, TrailerRecord, giver_of
from bot.series.models import Event, EventKind
from bot.series.state import Member, SeriesIndex, SeriesState
from bot.series.threads import event, nearest_member
from bot.series.titles import same_title


# Trailers that record review work and are shown per patch.
REVIEW_TRAILERS = frozenset({"Reviewed-by", "Acked-by", "Tested-by"})


def waits_for_parent(mail: ParsedMail, d: Decision) -> bool:
    """A reply that gives trailers or applies patches, but arrived before the
    patch it answers: worth deciding again once that patch is posted."""
    return (
        d.role is Role.NONE
        and mail.in_reply_to is not None
        and mail.kind not in (Kind.BOT, Kind.UNPARSEABLE, Kind.PATCH, Kind.COVER, Kind.PULL, Kind.BACKPORT)
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


def _answered_slot(at: Member, s: SeriesState) -> int:
    if at.slot > 0:
        return at.slot
    return 1 if s.total == 1 and 1 in s.members else 0


def decide_reply(mail: ParsedMail, index: SeriesIndex, when: datetime) -> Decision:
    at = nearest_member(mail, index)
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
            event(
                kind=EventKind.TRAILER_ADDED,
                series_id=sid,
                message_id=mail.message_id,
                patch_index=patch_index,
                data={"name": t.name, "giver": giver, "slot": at.slot},
                created_at=when,
            )
        )
    applied: list[AppliedRecord] = []
    waits = False
    if mail.applied is not None:
        waits = any(c.index is not None and c.index > 0 and c.index not in s.members for c in mail.applied.commits)
        done: set[int] = set()
        a = mail.applied
        # A notice naming no patches ("Queued this one for stable, thanks.")
        # applies what it answers: a patch, or on the cover the whole series (slot 0).
        commits = a.commits or (AppliedCommit(index=None),)
        for c in commits:
            slot = _applied_slot(c.index, c.title, at, s) if a.commits else _answered_slot(at, s)
            if slot is None or slot in s.applied_slots or slot in done:
                continue
            done.add(slot)
            applied.append(AppliedRecord(sid, slot, c, a.tree, a.branch, mail.message_id, a.where))
        if applied:
            events.append(
                event(
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
        waits=waits,
        notes=(f"reply to slot {at.slot} of series {sid}",),
    )
