"""Does a series match a subscription's filter? Pure.

Every criterion is an AND; inside a list criterion any entry may match. Facts
a series does not show yet (its files before the first patch arrives) do not
match: a later event of the same series matches once they are known, and the
card is posted then.
"""

from __future__ import annotations

import re
from fnmatch import translate
from functools import lru_cache

from bot.config import SubscriptionFilter
from bot.series.models import SeriesView
from bot.store.words import title_words

KINDS = ("series", "single", "pull", "backport")
# Characters that may follow a subsystem prefix: "KVM: x86" matches "KVM: x86/mmu"
# and "KVM: x86: foo" but not "KVM: x86abc".
_SUBSYSTEM_BOUNDARY = "/:, "


def series_kind(series: SeriesView) -> str:
    if series.backport:
        return "backport"
    if series.pull:
        return "pull"
    return "series" if series.total > 1 else "single"


def files_of(series: SeriesView) -> tuple[str, ...]:
    """Every path the series touches, as far as known (patches, then the cover's diffstat)."""
    seen: dict[str, None] = {}
    for patch in series.patches:
        for path in patch.files:
            seen.setdefault(path)
        if patch.diffstat is not None:
            for entry in patch.diffstat.per_file:
                seen.setdefault(entry.path)
    if series.cover_diffstat is not None:
        for entry in series.cover_diffstat.per_file:
            seen.setdefault(entry.path)
    return tuple(seen)


def has_fixes(series: SeriesView) -> bool:
    return bool(series.fixes) or any(p.fixes for p in series.patches)


def is_stable(series: SeriesView) -> bool:
    return series.stable.tagged or any(p.stable.tagged for p in series.patches)


def _norm_list(list_id: str) -> str:
    return list_id.strip().strip("<>").lower()


def _glob(pattern: str) -> re.Pattern[str]:
    """`*` any run, `?` one character, everything else literal (as SQL LIKE in bot.store.queries)."""
    parts = (".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.compile("".join(parts), re.DOTALL)


def subsystem_matches(pattern: str, subsystem: str) -> bool:
    """A prefix ending at a boundary, or with `*`/`?` a glob over the whole subsystem; any case."""
    p, s = pattern.strip().lower(), subsystem.strip().lower()
    if "*" in p or "?" in p:
        return _glob(p).fullmatch(s) is not None
    if not s.startswith(p):
        return False
    return len(s) == len(p) or s[len(p)] in _SUBSYSTEM_BOUNDARY or p[-1:] in _SUBSYSTEM_BOUNDARY


@lru_cache(maxsize=1024)
def _paths_pattern(globs: tuple[str, ...]) -> re.Pattern[str]:
    """One regex for a filter's `paths`, matched from a path's start: each glob as
    `fnmatch.fnmatchcase` reads it, and a glob naming a directory
    ("arch/x86/kvm/" or "arch/x86/kvm") also covers all below it. Routing asks
    this of every touched file for every subscription (the load benchmark: 78
    filters a mail), so each filter's globs are compiled once, not tried one
    by one."""
    alternatives = []
    for glob in globs:
        alternatives.append(translate(glob))
        base = glob.rstrip("/")
        if not any(c in base for c in "*?["):
            alternatives.append(re.escape(base + "/"))
    return re.compile("|".join(f"(?:{a})" for a in alternatives))


def author_matches(author: str, series: SeriesView) -> bool:
    a = author.strip().lower()
    if a.startswith("@"):
        return series.author.email.lower().endswith(a)
    return a in f"{series.author.name} <{series.author.email}>".lower()


def matches(flt: SubscriptionFilter, series: SeriesView, files: tuple[str, ...] | None = None) -> bool:
    """`files`: `files_of(series)`, when the caller has it (routing one event
    through every subscription computes it once, not once a filter)."""
    if flt.lists:
        if series.list_id is None or _norm_list(series.list_id) not in {_norm_list(x) for x in flt.lists}:
            return False
    if flt.subsystems:
        subsystem = series.subsystem or ""
        if not any(subsystem_matches(p, subsystem) for p in flt.subsystems):
            return False
    if flt.paths:
        if files is None:
            files = files_of(series)
        wanted = _paths_pattern(tuple(flt.paths))
        if not any(wanted.match(f) for f in files):
            return False
    if flt.authors and not any(author_matches(a, series) for a in flt.authors):
        return False
    if flt.title_words:
        words = title_words(series.title)
        if not all(any(w.startswith(want) for w in words) for want in title_words(" ".join(flt.title_words))):
            return False
    kinds = {k.strip().lower() for k in flt.kinds}
    if kinds and series_kind(series) not in kinds:
        return False
    if series.backport and "backport" not in kinds:
        return False  # stable-queue traffic: only for a subscription that asks for it
    if flt.stable_only and not is_stable(series):
        return False
    if flt.fixes_only and not has_fixes(series):
        return False
    if flt.rfc is not None and series.rfc != flt.rfc:
        return False
    return True
