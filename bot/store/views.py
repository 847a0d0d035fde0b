"""SeriesView from stored rows: the read model every later stage consumes."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from typing import Any

from bot.mail.models import Applied, AppliedCommit, Diffstat, Fixes, Person, StableTag
from bot.series.models import PatchView, SeriesView

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


def build_view(
    s: Mapping[str, Any],
    patch_rows: list[Mapping[str, Any]],
    trailer_rows: list[Mapping[str, Any]],
    applied_rows: list[Mapping[str, Any]],
) -> SeriesView:
    givers: dict[int, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
    for t in trailer_rows:
        field = _REVIEW_FIELDS.get(t["name"])
        if field and t["giver"] not in givers[t["slot"]][field]:
            givers[t["slot"]][field].append(t["giver"])
    applied_by_slot = {
        a["slot"]: AppliedCommit(index=a["idx"], title=a["title"], commit=a["commit"], url=a["url"])
        for a in applied_rows
    }
    patches: list[PatchView] = []
    cover_diffstat = None
    for p in sorted(patch_rows, key=lambda r: r["slot"]):
        slot = p["slot"]
        own = givers.get(slot, {})
        on_cover = givers.get(0, {}) if slot > 0 else {}
        lists = {
            f: tuple(dict.fromkeys([*own.get(f, []), *on_cover.get(f, [])]))
            for f in _REVIEW_FIELDS.values()
        }
        diffstat = Diffstat.model_validate(p["diffstat"]) if p["diffstat"] else None
        if slot == 0:
            cover_diffstat = diffstat
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
                applied=applied_by_slot.get(slot),
                **lists,
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
            commits=tuple(applied_by_slot[k] for k in sorted(applied_by_slot)),
        )
    numbered = [i for i in range(1, total + 1)]
    done = [i for i in numbered if i in applied_by_slot]
    state = "none" if not done else ("all" if len(done) == len(numbered) else "partial")
    first_mid = s["cover"] or (patches[0].message_id if patches else "")
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
        total=total,
        rfc=s["rfc"],
        resend=s["resend"],
        pull=s["pull"],
        partial=s["partial"],
        author=Person(name=s["author_name"], email=s["author_email"]),
        list_id=s["list_id"],
        cover=s["cover"],
        cover_diffstat=cover_diffstat,
        patches=tuple(patches),
        missing=missing,
        complete=not missing,
        supersedes=s["supersedes"],
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
