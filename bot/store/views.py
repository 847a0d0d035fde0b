"""SeriesView from stored rows: the read model every later stage consumes."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from bot.mail.models import Applied, AppliedCommit, Diffstat, Fixes, Person, StableTag
from bot.series.diffhash import changed_files
from bot.series.models import PatchView, SeriesView, TrailerView, version_text
from bot.series.titles import same_title

LORE = "https://lore.kernel.org/r/"
_REVIEW_FIELDS = {"Reviewed-by": "reviewed_by", "Acked-by": "acked_by", "Tested-by": "tested_by"}


def _merge_stable(tags: Iterable[StableTag]) -> StableTag:
    tags = [t for t in tags if t.tagged]
    if not tags:
        return StableTag()

    def union(attr: str) -> tuple[Any, ...]:
        seen: dict[Any, None] = {}
        for t in tags:
            for v in getattr(t, attr):
                seen.setdefault(v, None)
        return tuple(seen)

    return StableTag(
        tagged=True,
        versions=union("versions"),
        prerequisites=union("prerequisites"),
        noautosel=all(t.noautosel for t in tags),
        embargoed=any(t.embargoed for t in tags),
        depends_on=union("depends_on"),
    )


@dataclass(frozen=True, slots=True)
class PreviousRows:
    """The rows of the version a series supersedes: what its patches are compared with."""

    series: Mapping[str, Any]
    patches: list[Mapping[str, Any]]
    trailers: list[Mapping[str, Any]]


def _origin(t: Mapping[str, Any]) -> str:
    if t["slot"] == 0:
        return "cover"
    return "reply" if t["from_reply"] else "patch"


def _given_order(r: Mapping[str, Any]) -> tuple[Any, ...]:
    given = r.get("given_at")
    # One mail's trailers keep the order they were written in (their ids).
    return (r["slot"], given is None, given.timestamp() if given is not None else 0.0, r["message_id"],
            r.get("id") or 0)


def _trailer_views(trailer_rows: list[Mapping[str, Any]]) -> dict[int, list[TrailerView]]:
    """Review trailers per slot (slot 0: the cover's), each giver once per name,
    in the order they were given (by Date, not by arrival)."""
    out: dict[int, list[TrailerView]] = defaultdict(list)
    seen: set[tuple[int, str, str]] = set()
    for t in sorted(trailer_rows, key=_given_order):
        if t["name"] not in _REVIEW_FIELDS or (t["slot"], t["name"], t["giver_email"]) in seen:
            continue
        seen.add((t["slot"], t["name"], t["giver_email"]))
        out[t["slot"]].append(TrailerView(name=t["name"], giver=t["giver"], origin=_origin(t)))
    return out


def _continued(
    mine: list[Mapping[str, Any]], theirs: list[Mapping[str, Any]]
) -> dict[int, Mapping[str, Any]]:
    """slot -> the previous version's patch it continues: the same title, else the same index."""
    # By slot, not as stored (arrival order): which old patch a title matches first.
    theirs = sorted((p for p in theirs if p["slot"] > 0), key=lambda r: r["slot"])
    out: dict[int, Mapping[str, Any]] = {}
    taken: set[int] = set()
    for p in mine:
        for q in theirs:
            if q["slot"] not in taken and same_title(p["title"], q["title"]):
                out[p["slot"]] = q
                taken.add(q["slot"])
                break
    by_slot = {q["slot"]: q for q in theirs}
    for p in mine:
        same = by_slot.get(p["slot"])
        if p["slot"] not in out and same is not None and same["slot"] not in taken:
            out[p["slot"]] = same
            taken.add(same["slot"])
    return out


def _comparison(p: Mapping[str, Any], q: Mapping[str, Any] | None) -> dict[str, Any]:
    """`previous`, `unchanged` and `changed_files` of patch row `p` against `q`."""
    if q is None:
        return {}
    mine, theirs = p.get("diff_hash"), q.get("diff_hash")
    if mine is None or theirs is None:
        return {"previous": q["message_id"]}
    if mine == theirs:
        return {"previous": q["message_id"], "unchanged": True}
    return {
        "previous": q["message_id"],
        "unchanged": False,
        "changed_files": changed_files(p.get("file_hashes") or {}, q.get("file_hashes") or {}),
    }


def build_view(
    s: Mapping[str, Any],
    patch_rows: list[Mapping[str, Any]],
    trailer_rows: list[Mapping[str, Any]],
    applied_rows: list[Mapping[str, Any]],
    previous: PreviousRows | None = None,
) -> SeriesView:
    trailers = _trailer_views(trailer_rows)
    old_trailers = _trailer_views(previous.trailers) if previous is not None else {}
    applied_by_slot = {
        a["slot"]: AppliedCommit(index=a["idx"], title=a["title"], commit=a["commit"], url=a["url"])
        for a in applied_rows
    }
    dest_by_slot = {
        a["slot"]: a.get("dest") or " ".join(x for x in (a["tree"], a["branch"]) if x) or None
        for a in applied_rows
    }
    numbered = sorted((p for p in patch_rows if p["slot"] > 0), key=lambda r: r["slot"])
    continued = _continued(numbered, previous.patches) if previous is not None else {}
    patches: list[PatchView] = []
    cover_diffstat = None
    for p in sorted(patch_rows, key=lambda r: r["slot"]):
        slot = p["slot"]
        own = [*trailers.get(slot, [])]
        if slot > 0:
            own += trailers.get(0, [])
        compared = _comparison(p, continued.get(slot)) if slot > 0 else {}
        if compared.get("unchanged"):
            # Trailers the previous version of this very diff got, not given again here.
            q = continued[slot]
            have = {(t.name, t.giver.lower()) for t in own}
            for t in (*old_trailers.get(q["slot"], []), *old_trailers.get(0, [])):
                if (t.name, t.giver.lower()) not in have:
                    have.add((t.name, t.giver.lower()))
                    own.append(TrailerView(name=t.name, giver=t.giver, origin="previous"))
        lists = {
            # This version's own (case 29): what the previous one got is shown apart.
            f: tuple(dict.fromkeys(t.giver for t in own if t.name == name and t.origin != "previous"))
            for name, f in _REVIEW_FIELDS.items()
        }
        diffstat = Diffstat.model_validate(p["diffstat"]) if p["diffstat"] else None
        if slot == 0:
            cover_diffstat = diffstat
        applied_slot = slot if slot in applied_by_slot else (0 if slot > 0 and 0 in applied_by_slot else None)
        patches.append(
            PatchView(
                index=0 if slot == 0 else p["idx"],
                message_id=p["message_id"],
                title=p["title"],
                subject=p["subject"],
                author=Person(name=p["author_name"], email=p["author_email"]),
                date=p["date"],
                fixes=tuple(Fixes.model_validate(f) for f in p["fixes"]),
                stable=StableTag.model_validate(p["stable"]),
                diffstat=diffstat,
                files=tuple(p["files"]),
                applied=None if applied_slot is None else applied_by_slot[applied_slot],
                applied_to=None if applied_slot is None else dest_by_slot[applied_slot],
                trailers=tuple(own),
                diff_hash=p.get("diff_hash"),
                reviewed_by=lists["reviewed_by"],
                acked_by=lists["acked_by"],
                tested_by=lists["tested_by"],
                previous=compared.get("previous"),
                unchanged=compared.get("unchanged"),
                changed_files=compared.get("changed_files", ()),
            )
        )
    total = s["total"]
    present = {p["slot"] for p in patch_rows}
    missing = tuple(i for i in range(1, total + 1) if i not in present)
    fixes = tuple({f.sha: f for p in patches for f in p.fixes}.values())
    applied = None
    if applied_rows:
        first = min(applied_rows, key=lambda a: a["slot"])
        applied = Applied(
            tree=first["tree"],
            branch=first["branch"],
            where=dest_by_slot[first["slot"]],
            commits=tuple(applied_by_slot[k] for k in sorted(applied_by_slot)),
        )
    numbered_slots = [i for i in range(1, total + 1)]
    done = [i for i in numbered_slots if i in applied_by_slot or 0 in applied_by_slot]
    state = "none" if not done else ("all" if len(done) == len(numbered_slots) else "partial")
    first_mid = s["cover"] or (patches[0].message_id if patches else "")
    prev_label = None
    if previous is not None:
        ps = previous.series
        prev_label = version_text(
            ps["version"], ps["version_label"], rfc=ps["rfc"], explicit=ps["version_explicit"]
        ) or "v1"
    return SeriesView(
        series_id=s["id"],
        lineage_id=s["lineage_id"],
        title=s["title"],
        subject=s["subject"],
        subsystem=s["subsystem"],
        prefixes=tuple(s["prefixes"]),
        tags=tuple(s["tags"]),
        version=s["version"],
        version_label=s["version_label"],
        version_explicit=s["version_explicit"],
        total=total,
        rfc=s["rfc"],
        resend=s["resend"],
        pull=s["pull"],
        backport=bool(s.get("backport", False)),
        partial=s["partial"],
        author=Person(name=s["author_name"], email=s["author_email"]),
        list_id=s["list_id"],
        cover=s["cover"],
        cover_diffstat=cover_diffstat,
        patches=tuple(patches),
        missing=missing,
        complete=not missing,
        supersedes=s["supersedes"],
        previous_version=prev_label,
        superseded_by=s["superseded_by"],
        duplicate_of=s["duplicate_of"],
        fixes=fixes,
        stable=_merge_stable(p.stable for p in patches),
        applied=applied,
        applied_state=state,
        first_seen=s["first_seen"],
        last_seen=s["last_seen"],
        lore_url=LORE + first_mid if first_mid else "",
    )
