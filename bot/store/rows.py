"""Between tracker objects and table rows: pure conversions, no I/O."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from typing import Any

from bot.mail.models import Kind, ParsedMail, Person
from bot.series.diffhash import diff_hash, normalised_files
from bot.series.decision import AppliedRecord, Decision, MemberRecord, TrailerRecord
from bot.series.state import SeriesState


def body_hash(raw: bytes) -> str:
    """A digest of a mail's body: what tells a re-delivery of a Message-ID (the
    same mail through another path, e.g. lore after SMTP, whose headers differ:
    Received, X-*) from a variant with other content. Line ends and trailing
    blank lines do not count."""
    if b"\r" in raw:
        raw = raw.replace(b"\r\n", b"\n")
    cut = raw.find(b"\n\n")
    start = cut + 2 if cut >= 0 else 0
    end = len(raw)
    while end > start and raw[end - 1] == 10:  # trailing newlines
        end -= 1
    # A view, not a slice: no copy of a body that may be megabytes.
    return hashlib.sha256(memoryview(raw)[start:end]).hexdigest()[:32]


def storable(text: str) -> str:
    """`text` as every database takes it: a lone surrogate (UTF-8 cannot encode
    it) and NUL (PostgreSQL's text cannot hold it) written as escapes."""
    if text.isascii() and "\x00" not in text:
        return text
    return text.encode("utf-8", "backslashreplace").decode("utf-8").replace("\x00", "\\x00")


def mail_row(
    parsed: ParsedMail,
    *,
    raw_z: bytes,
    body_hash: str | None,
    size: int,
    source: str,
    source_ref: str | None,
    received_at: Any,
    errors: list[str],
    unparsed: bool,
    series_id: int | None,
) -> dict[str, Any]:
    return {
        "message_id": parsed.message_id,
        "raw": raw_z,
        "size": size,
        "source": source,
        "source_ref": source_ref,
        "received_at": received_at,
        "kind": str(parsed.kind),
        "subject": parsed.subject.raw,
        "author_name": parsed.author.name,
        "author_email": parsed.author.email,
        "date": parsed.date,
        "list_id": parsed.list_id,
        "in_reply_to": parsed.in_reply_to,
        "series_id": series_id,
        "errors": errors or None,
        "unparsed": unparsed,
        "body_hash": body_hash,
    }


def is_unparsed(parsed: ParsedMail) -> bool:
    return parsed.kind is Kind.UNPARSEABLE


def series_row(s: SeriesState) -> dict[str, Any]:
    return {
        "id": s.series_id,
        "lineage_id": s.lineage_id,
        "title": s.title,
        "subject": s.subject,
        "subsystem": s.subsystem,
        "prefixes": list(s.prefixes),
        "tags": list(s.tags),
        "version": s.version,
        "version_label": s.version_label,
        "version_explicit": s.version_explicit,
        "declared_total": s.declared_total,
        "total": s.total,
        "complete": s.complete,
        "rfc": s.rfc,
        "resend": s.resend,
        "pull": s.pull,
        "backport": s.backport,
        "partial": s.partial,
        "author_name": s.author.name,
        "author_email": s.author.email,
        "list_id": s.list_id,
        "cover": s.cover,
        "title_slot": s.title_slot,
        "change_id": s.change_id,
        "supersedes": s.supersedes,
        "superseded_by": s.superseded_by,
        "duplicate_of": s.duplicate_of,
        "first_seen": s.first_seen,
        "last_seen": s.last_seen,
    }


def state_from_rows(
    row: Mapping[str, Any],
    members: Iterable[tuple[int, str, str, str | None]],
    trailer_keys: Iterable[tuple[int, str, str]],
    applied_slots: Iterable[int],
    stable_slots: Iterable[int] = (),
) -> SeriesState:
    """Rebuild the tracker's state of one series from its stored rows."""
    s = SeriesState(
        series_id=row["id"],
        lineage_id=row["lineage_id"],
        author=Person(name=row["author_name"], email=row["author_email"]),
        title=row["title"],
        subject=row["subject"],
        first_seen=row["first_seen"],
        last_seen=row["last_seen"],
        version=row["version"],
        version_label=row["version_label"],
        version_explicit=row["version_explicit"],
        declared_total=row["declared_total"],
        rfc=row["rfc"],
        resend=row["resend"],
        pull=row["pull"],
        backport=bool(row.get("backport", False)),
        subsystem=row["subsystem"],
        prefixes=tuple(row["prefixes"]),
        tags=tuple(row["tags"]),
        list_id=row["list_id"],
        cover=row["cover"],
        title_slot=row["title_slot"],
        change_id=row["change_id"],
        supersedes=row["supersedes"],
        superseded_by=row["superseded_by"],
        duplicate_of=row["duplicate_of"],
        partial=row["partial"],
    )
    for slot, mid, title, subsystem in members:
        s.members[slot] = mid
        s.member_titles[slot] = title
        s.member_subsystems[slot] = subsystem
    s.trailer_keys.update(trailer_keys)
    s.applied_slots.update(applied_slots)
    s.stable_slots.update(stable_slots)
    return s


def patch_row(m: MemberRecord, files: dict[str, str] | None = None) -> dict[str, Any]:
    """`files`: `normalised_files` of this mail's body, if already known (the parse worker's)."""
    mail = m.mail
    if not (mail.has_diff and m.slot > 0):
        hashes: dict[str, str] = {}
    else:
        hashes = files if files is not None else normalised_files(mail.body)
    return {
        "series_id": m.series_id,
        "slot": m.slot,
        "idx": mail.subject.index,
        "message_id": mail.message_id,
        "title": mail.subject.title,
        "subject": mail.subject.raw,
        "author_name": mail.author.name,
        "author_email": mail.author.email,
        "date": mail.date,
        "diffstat": None if mail.diffstat is None else mail.diffstat.model_dump(mode="json"),
        "files": list(mail.files),
        "fixes": [f.model_dump(mode="json") for f in mail.fixes],
        "stable": mail.stable.model_dump(mode="json"),
        "diff_hash": diff_hash(hashes),
        "file_hashes": hashes or None,
    }


def fixes_rows(m: MemberRecord) -> list[dict[str, Any]]:
    return [
        {
            "series_id": m.series_id,
            "slot": m.slot,
            "message_id": m.mail.message_id,
            "sha": f.sha,
            "subject": f.subject,
        }
        for f in m.mail.fixes
    ]


def stable_rows(m: MemberRecord) -> list[dict[str, Any]]:
    st = m.mail.stable
    if not st.tagged:
        return []
    return [
        {
            "series_id": m.series_id,
            "slot": m.slot,
            "message_id": m.mail.message_id,
            "versions": list(st.versions),
            "noautosel": st.noautosel,
            "embargoed": st.embargoed,
        }
    ]


def trailer_row(t: TrailerRecord) -> dict[str, Any]:
    return {
        "series_id": t.series_id,
        "slot": t.slot,
        "name": t.name,
        "giver": t.giver,
        "giver_email": t.giver_email,
        "message_id": t.message_id,
        "from_reply": t.from_reply,
    }


def applied_row(a: AppliedRecord) -> dict[str, Any]:
    return {
        "series_id": a.series_id,
        "slot": a.slot,
        "idx": a.commit.index,
        "title": a.commit.title,
        "commit": a.commit.commit,
        "url": a.commit.url,
        "tree": a.tree,
        "branch": a.branch,
        "dest": a.where,
        "message_id": a.message_id,
    }


def event_rows(d: Decision, created_at: Any) -> list[dict[str, Any]]:
    return [
        {
            "kind": str(e.kind),
            "series_id": e.series_id,
            "message_id": e.message_id,
            "patch_index": e.patch_index,
            "data": dict(e.data),
            "created_at": created_at,
        }
        for e in d.events
    ]


class RowBatch:
    """Rows of many decisions, written table by table in one transaction."""

    def __init__(self) -> None:
        self.lineages: list[dict[str, Any]] = []
        self.touched: set[int] = set()
        self.patches: list[dict[str, Any]] = []
        self.refs: list[dict[str, Any]] = []
        self.trailers: list[dict[str, Any]] = []
        self.fixes: list[dict[str, Any]] = []
        self.stable: list[dict[str, Any]] = []
        self.applied: list[dict[str, Any]] = []
        self.events: list[dict[str, Any]] = []
        self.pending: list[dict[str, Any]] = []  # pending_replies rows
        self.resolved: list[str] = []  # pending replies no longer waiting (deleted after `pending` is written)
        # Rows of the touched series taken when the batch was tracked (else
        # they are read from the index when written).
        self.series_rows: list[dict[str, Any]] | None = None
        # Message-ID -> (the parsed mail, `normalised_files` of its body),
        # computed by the parse worker: used for that very mail object only.
        self.known_files: dict[str, tuple[ParsedMail, dict[str, str]]] = {}

    def add(self, d: Decision, fresh_refs: list[str], created_at: Any, *, with_events: bool = True) -> None:
        if d.new_lineage and d.new_series is not None:
            self.lineages.append({"id": d.new_series.lineage_id, "created_at": created_at})
        self.touched |= d.touched
        if d.member is not None:
            known = self.known_files.get(d.member.mail.message_id)
            files = known[1] if known is not None and known[0] is d.member.mail else None
            self.patches.append(patch_row(d.member, files))
            self.fixes += fixes_rows(d.member)
            self.stable += stable_rows(d.member)
        if d.series_id is not None:
            self.refs += [{"series_id": d.series_id, "message_id": r} for r in fresh_refs]
        self.trailers += [trailer_row(t) for t in d.trailers]
        self.applied += [applied_row(a) for a in d.applied]
        if d.waits and d.series_id is not None:
            self.pending.append({"message_id": d.message_id, "series_id": d.series_id})
        if with_events:
            self.events += event_rows(d, created_at)
