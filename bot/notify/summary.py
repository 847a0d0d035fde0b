"""What a card says about its patches, line by line: reviews, changes since the
previous version, where they were applied, which carry Fixes or stable. Pure.

Each function returns plain lines of escaped text (names and paths from mail
go through `fit`); `render` joins them into fields within Discord's limits.
"""

from __future__ import annotations

from collections.abc import Iterable

from bot.notify.text import ELLIPSIS, fit
from bot.series.models import PatchView, SeriesView

# (trailer, PatchView attribute, the word the card uses)
REVIEW_KINDS = (
    ("Reviewed-by", "reviewed_by", "Reviewed"),
    ("Acked-by", "acked_by", "Acked"),
    ("Tested-by", "tested_by", "Tested"),
)
NAMES_SHOWN = 4
INDICES_SHOWN = 20


def numbered(series: SeriesView) -> list[PatchView]:
    """The received patches (not the cover), in index order."""
    return sorted((p for p in series.patches if p.index != 0), key=lambda p: p.index or 0)


def cover(series: SeriesView) -> PatchView | None:
    return next((p for p in series.patches if p.index == 0), None)


def ranges(indices: Iterable[int], limit: int = INDICES_SHOWN) -> str:
    """"1-7, 9, 11-12": runs of consecutive indices; at most `limit` runs, then "…"."""
    runs: list[tuple[int, int]] = []
    for i in sorted(set(indices)):
        if runs and i == runs[-1][1] + 1:
            runs[-1] = (runs[-1][0], i)
        else:
            runs.append((i, i))
    text = [f"{a}-{b}" if b > a else str(a) for a, b in runs[:limit]]
    if len(runs) > limit:
        text.append(ELLIPSIS)
    return ", ".join(text)


def short_name(giver: str) -> str:
    """"Yosry Ahmed" of "Yosry Ahmed <yosry@google.com>" (the address when there is no name)."""
    name, sep, rest = giver.partition(" <")
    if sep and name.strip():
        return name.strip()
    return giver.strip().strip("<>")


def _patch_no(p: PatchView) -> int:
    return p.index or 1


def givers(attr: str, p: PatchView) -> tuple[str, ...]:
    if attr == "reviewed_by":
        return p.reviewed_by
    if attr == "acked_by":
        return p.acked_by
    return p.tested_by


def review_lines(series: SeriesView) -> list[str]:
    """`Reviewed 7/9 — Yosry Ahmed; missing 3, 8` per kind given at all; a
    giver on the cover is marked "for the series"; zero counts are left out."""
    patches = numbered(series)
    total = max(series.total, 1)
    on_cover = cover(series)
    out: list[str] = []
    for _, attr, word in REVIEW_KINDS:
        per_giver: dict[str, set[int]] = {}
        covered: set[int] = set()
        for p in patches:
            for g in givers(attr, p):
                per_giver.setdefault(g, set()).add(_patch_no(p))
                covered.add(_patch_no(p))
        series_wide = set(givers(attr, on_cover)) if on_cover is not None else set()
        for g in series_wide:
            per_giver.setdefault(g, set())
        if not per_giver:
            continue
        ranked = sorted(per_giver, key=lambda g: (g not in series_wide, -len(per_giver[g]), g.lower()))
        names = [
            fit(short_name(g), 80) + (" (for the series)" if g in series_wide else "")
            for g in ranked[:NAMES_SHOWN]
        ]
        if len(ranked) > NAMES_SHOWN:
            names.append(f"{len(ranked) - NAMES_SHOWN} more")
        count = f" {len(covered)}/{total}" if total > 1 else ""
        line = f"{word}{count} — {', '.join(names)}"
        missing = [i for i in range(1, total + 1) if i not in covered]
        if total > 1 and missing:
            line += "; missing " + ranges(missing)
        out.append(line)
    return out


def carried_lines(series: SeriesView) -> list[str]:
    """On patches unchanged since the previous version: how many trailers carry
    over (in the patch, or given there), and who gave fresh ones on this version."""
    unchanged = [p for p in numbered(series) if p.unchanged]
    if not unchanged or not series.previous_version:
        return []
    carried: dict[str, int] = {}
    fresh: dict[str, set[int]] = {}
    for p in unchanged:
        for t in p.trailers:
            if t.carried:
                carried[t.name] = carried.get(t.name, 0) + 1
            else:
                fresh.setdefault(short_name(t.giver), set()).add(_patch_no(p))
    if not carried:
        return []
    counts = ", ".join(f"{name} {carried[name]}" for name, _, _ in REVIEW_KINDS if name in carried)
    out = [f"Carried over from {fit(series.previous_version, 40)} on unchanged patches: {counts}"]
    if fresh:
        ranked = sorted(fresh, key=lambda n: (-len(fresh[n]), n.lower()))[:NAMES_SHOWN]
        out.append("Fresh: " + ", ".join(f"{fit(n, 80)} ({ranges(fresh[n], 5)})" for n in ranked))
    return out


def changes_lines(series: SeriesView) -> list[str]:
    """`v13: 40 of 48 patches unchanged since v12`, then which changed (and their files) and which are new."""
    if not series.previous_version or series.supersedes is None:
        return []
    patches = numbered(series)
    compared = [p for p in patches if p.unchanged is not None]
    if not compared:
        return []
    same = sum(1 for p in compared if p.unchanged)
    label = series.label or "v1"
    out = [f"{fit(label, 40)}: {same} of {len(patches)} patches unchanged since {fit(series.previous_version, 40)}"]
    changed = [p for p in compared if not p.unchanged]
    if changed:
        parts = []
        for p in changed[:INDICES_SHOWN]:
            files = ", ".join(fit(f.rsplit("/", 1)[-1], 60) for f in p.changed_files[:3])
            more = f", {ELLIPSIS}" if len(p.changed_files) > 3 else ""
            parts.append(f"{_patch_no(p)}" + (f" ({files}{more})" if files else ""))
        out.append("Changed: " + "; ".join(parts) + (f"; {ELLIPSIS}" if len(changed) > INDICES_SHOWN else ""))
    new = [_patch_no(p) for p in patches if p.previous is None]
    if new:
        out.append("New: " + ranges(new))
    return out


def applied_lines(series: SeriesView) -> list[str]:
    """`Applied 1-7 to kvm-x86 svm`, per destination, then what is not applied yet."""
    patches = numbered(series)
    by_where: dict[str, list[int]] = {}
    for p in patches:
        if p.applied is not None:
            by_where.setdefault(p.applied_to or "", []).append(_patch_no(p))
    if not by_where:
        return []
    total = max(series.total, 1)
    out = []
    for where, indices in by_where.items():
        what = "" if total == 1 else (" all" if len(indices) == total else f" {ranges(indices)}")
        out.append(f"Applied{what}" + (f" to {fit(where, 200)}" if where else ""))
    done = {i for indices in by_where.values() for i in indices}
    rest = [i for i in range(1, total + 1) if i not in done]
    if rest and total > 1:
        out.append("Not applied: " + ranges(rest))
    return out


def tagged_patches(series: SeriesView, *, stable: bool) -> list[int]:
    """Indices of the patches carrying stable (or Fixes, `stable=False`)."""
    return [
        _patch_no(p)
        for p in numbered(series)
        if (p.stable.tagged and not p.stable.noautosel if stable else bool(p.fixes))
    ]
