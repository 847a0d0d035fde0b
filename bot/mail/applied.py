"""Maintainer "applied" notices: `b4 ty` replies and their hand-written cousins.

Shapes seen on the KVM lists (kvm-x86 threads, the kvmarm archive):

    Applied to kvm-x86 svm, thanks!          tree kvm-x86, branch svm
    Applied to kvmtool (master), thanks!     tree kvmtool, branch master
    Applied to kvm-arm64/misc-5.9, thanks!   tree kvm-arm64, branch misc-5.9
    Applied to next, thanks! / to -next.     branch only (a well-known branch word)
    Applied to target-arm.next, thanks.      tree only
    Applied, thanks! / Queued, thanks.       neither
    Queued for 6.15, thanks                  neither (a release, not a branch)
    Queued 2-8, thanks. / Queued patches 1-5 indices only
    Applied patch 5 to arm64 (for-next/x)    tree, branch, index 5
    Queued this one for stable, thanks.      where "stable" (no tree or branch)

followed, for b4, by the list `[1/3] KVM: x86/mmu: title` with the next line
`      https://github.com/kvm-x86/linux/commit/<sha>` or `      commit: <sha>`.

The notice line must open a paragraph and be unquoted: "Applied this series
and verified that ..." (a tester), "applied?" and sentences that merely wrap
onto a line starting with "applied" are not notices.
"""

from __future__ import annotations

import re
from typing import Final

from bot.mail.models import Applied, AppliedCommit

_NOTICE: Final = re.compile(r"(applied|queued|pushed|merged)\b(.*)", re.IGNORECASE)
_ENTRY: Final = re.compile(r"\[(\d+)(?:/(\d+))?\]\s+(.*\S)")
_HEX: Final = re.compile(r"[0-9a-f]{7,40}")
_COMMIT_LINE: Final = re.compile(r"commit:?\s+([0-9a-f]{7,40})\b", re.IGNORECASE)
_INDICES: Final = re.compile(r"\s+(?:patch(?:es)?\s+)?(\d+(?:\s*(?:-|\+|,|and)\s*\d+)*)\b", re.IGNORECASE)
_BRANCH_WORDS: Final = frozenset(
    "next -next fixes master main queue for-next linux-next dev devel kvm-next".split()
)
# Words after "Applied"/"Queued" that still make a maintainer's notice.
_LEADS: Final = (
    " to ", " into ", " for ", " (", " with ", " and pushed", " and queued", " this one", " up ",
    " first ", " the first ",
)
# "applied to the symbols": prose, not a destination.
_NOT_DESTINATIONS: Final = frozenset("the this that a an my your our it them all".split())
_CUT: Final = (", ", ",", "!", ";", " and ", " with ", " because", ": ", " thanks", " Thanks", " as ")
_SIGNATURE: Final = ("-- ", "--")


def _is_notice(verb: str, rest: str) -> bool:
    """Does `<verb><rest>` read as a maintainer saying the patches were taken?"""
    stripped = rest.strip()
    if verb == "merged" and not rest.startswith((" to ", " into ")):
        return False
    if verb == "pushed" and not rest.startswith((" to ", ",")):
        return False
    if not stripped:
        return True
    if stripped[0] in ",.!":
        return "?" not in stripped[:3]
    if rest.startswith(_LEADS):
        return "?" not in rest
    return bool(_INDICES.match(rest))


def _destination(rest: str) -> tuple[str | None, str | None]:
    """(tree, branch) from the text after "to"."""
    dest = rest
    for cut in _CUT:
        pos = dest.find(cut)
        if pos > 0:
            dest = dest[:pos]
    dest = dest.replace("`", "").strip().rstrip(".:")
    words = dest.split()
    if not words:
        return None, None
    if words[0].lower() == "branch" and len(words) > 1:
        return None, words[1]
    first = words[0].rstrip(".,")
    second: str | None = None
    if len(words) > 1:
        w = words[1]
        if w.startswith("(") and w.endswith(")") and len(w) > 2:
            second = w[1:-1]
        elif not w.startswith("(") and w.lower() not in ("at", "for", "now", "tree", "branch", "too", "already"):
            second = w.rstrip(".,")
    if "://" in first:
        if second is None and "/-/commits/" in first:
            base, _, branch = first.partition("/-/commits/")
            return base, branch
        return first, second
    if second:
        return first, second
    if first.lower() in _BRANCH_WORDS:
        return None, first
    if "/" in first:
        tree, _, branch = first.partition("/")
        return tree, branch
    return first, None


def _clause_destination(rest: str) -> tuple[str | None, str | None, bool]:
    """(tree, branch, is-a-notice) from " to <dest>" in the notice's first clause."""
    clause = rest
    for end in (". ", ",", "(", "!"):
        pos = clause.find(end)
        if pos != -1:
            clause = clause[:pos]
    if rest.startswith((", http", " http")):
        # `Queued, https://gitlab.com/rhdrjones/kvm-unit-tests/commits/arm/queue`
        url = rest.lstrip(", ").split()[0].rstrip(".,")
        tree, branch = _destination(url.replace("/commits/", "/-/commits/").replace("/-/-/", "/-/"))
        return tree, branch, True
    for word in (" to ", " into "):
        to = clause.find(word)
        if to != -1:
            after = rest[to + len(word) :].lstrip()
            head = after.split(None, 1)[0].lower() if after.split() else ""
            if head in _NOT_DESTINATIONS:
                return None, None, False
            tree, branch = _destination(after)
            return tree, branch, True
    return None, None, True


def _where(rest: str) -> str | None:
    """The destination as written after the verb: what follows " to "/" into "
    in the first clause, else the word after "for" ("for stable", "(for 6.3)")."""
    if rest.startswith((", http", " http")):
        return rest.lstrip(", ").split()[0].rstrip(".,")
    clause = rest
    for end in (". ", ",", "!"):
        pos = clause.find(end)
        if pos != -1:
            clause = clause[:pos]
    dest: str | None = None
    for word in (" to ", " into "):
        at = clause.find(word)
        if at != -1:
            dest = rest[at + len(word) :]
            break
    if dest is None:
        at = clause.find("for ")
        if at == -1 or (at > 0 and clause[at - 1] not in " ("):
            return None
        words = clause[at + 4 :].split()
        return (words[0].strip("`()'\".:;") or None) if words else None
    for cut in (*_CUT, ". "):
        pos = dest.find(cut)
        if pos > 0:
            dest = dest[:pos]
    dest = " ".join(dest.replace("`", "").split()).rstrip(".:")
    return dest or None


def _expand_indices(spec: str) -> list[int]:
    out: list[int] = []
    for part in re.split(r"\s*(?:\+|,|and)\s*", spec):
        if "-" in part:
            lo, _, hi = part.partition("-")
            if lo.strip().isdigit() and hi.strip().isdigit():
                a, b = int(lo), int(hi)
                if 0 <= b - a <= 200:
                    out.extend(range(a, b + 1))
        elif part.strip().isdigit():
            out.append(int(part))
    return out


def _commit_of(line: str) -> tuple[str | None, str | None]:
    """(sha, url) from a `commit: <sha>` or commit-URL line of a b4 list."""
    text = line.strip()
    if text.startswith("http"):
        url = text.split()[0]
        for seg in reversed(re.split(r"[/=?&]", url)):
            if _HEX.fullmatch(seg):
                return seg, url
        return None, url
    m = _COMMIT_LINE.match(text)
    if m:
        return m.group(1), None
    return None, None


# A notice opens a line; str.splitlines also breaks lines at these.
_OTHER_BREAKS: Final = ("\r", "\x0b", "\x0c", "\x1c", "\x1d", "\x1e")
_OTHER_BREAKS_UNICODE: Final = (*_OTHER_BREAKS, "\x85", "\u2028", "\u2029")
# The first letter as a plain class lets the engine reject most lines at once
# (a superset: "Aueued" passes too, and the walk then finds no notice).
_NOTICE_AFTER_NEWLINE: Final = re.compile(r"\n[AaQqPpMm](?i:pplied|ueued|ushed|erged)\b")


def notice_verb_at(body: str, ls: int) -> bool:
    """Whether the line starting at `ls` (> 0) opens with a notice verb, as
    `_may_have_notice`'s search looks for it."""
    return _NOTICE_AFTER_NEWLINE.match(body, ls - 1) is not None


def _may_have_notice(body: str, verb_line: bool | None = None) -> bool:
    """Cheap test: False only when no line of the body starts with a notice verb.

    Most replies quote patches, so the verbs occur often but rarely open a
    line; one regex search for them after a newline (plus a check for the
    rarer line breaks splitlines knows) spares the line-by-line walk.
    `verb_line`, when given, is that search's answer, found by the caller.
    """
    for brk in _OTHER_BREAKS if body.isascii() else _OTHER_BREAKS_UNICODE:
        if brk in body:
            return True
    if _NOTICE.match(body) is not None:
        return True
    if verb_line is not None:
        return verb_line
    return _NOTICE_AFTER_NEWLINE.search(body) is not None


def parse_applied(body: str, verb_line: bool | None = None) -> Applied | None:
    """The applied notice in a reply body, or None. Never raises.

    `verb_line`: whether a line after the first opens with a notice verb
    (`notice_verb_at`), when the caller's own pass over the lines found out.
    """
    if not body or not _may_have_notice(body, verb_line):
        return None
    return _read_notice(body)


def _read_notice(body: str) -> Applied | None:
    """`parse_applied` without the cheap test: walks every line."""
    lines = body.splitlines()
    start = -1
    tree = branch = None
    notice_rest = ""
    indices: list[int] = []
    prev_blank = True
    for i, line in enumerate(lines):
        if line in _SIGNATURE:
            break
        if line.startswith(">"):
            prev_blank = True
            continue
        if prev_blank and line[:1] in "AaQqPpMm":
            m = _NOTICE.match(line.strip())
            if m and _is_notice(m.group(1).lower(), m.group(2)):
                rest = m.group(2)
                tree, branch, ok = _clause_destination(rest)
                if not ok:
                    prev_blank = False
                    continue
                notice_rest = rest
                im = _INDICES.match(rest)
                if im:
                    indices = _expand_indices(im.group(1))
                start = i
                break
        prev_blank = not line.strip()
    if start == -1:
        return None

    commits: list[dict] = []
    for line in lines[start + 1 :]:
        if line in _SIGNATURE:
            break
        if not line or line.startswith(">"):
            continue
        stripped = line.lstrip()
        if stripped.startswith("["):
            m = _ENTRY.match(stripped)
            if m:
                commits.append({"index": int(m.group(1)), "title": m.group(3), "commit": None, "url": None})
                continue
        if commits and line[:1] in (" ", "\t") and commits[-1]["commit"] is None and commits[-1]["url"] is None:
            sha, url = _commit_of(line)
            if sha or url:
                commits[-1]["commit"], commits[-1]["url"] = sha, url
    if not commits and indices:
        commits = [{"index": n, "title": "", "commit": None, "url": None} for n in indices]
    stated = set(indices)
    stated.update(c["index"] for c in commits if c["index"] is not None)
    return Applied(
        tree=tree,
        branch=branch,
        where=_where(notice_rest),
        indices=tuple(sorted(stated)),
        commits=tuple(AppliedCommit(**c) for c in commits),
    )
