"""A patch's diff, normalised and hashed, to tell an unchanged patch of vN from a changed one. Pure.

Rebasing a series onto a newer tree changes blob ids (`index` lines) and
where hunks start (`@@ -a,b +c,d @@` and the function name git puts after
it) without changing the patch, so both are dropped before hashing. Each
file is hashed on its own, so a changed patch can say which files changed.
The mail's tail after the diff (the `-- ` signature, b4's `base-commit:`)
is not part of the change.
"""

from __future__ import annotations

import hashlib
from typing import Final

from bot.mail.diff import find_diff

_FILE_START: Final = "diff --git "
_HUNK_LINE_STARTS: Final = ("+", "-", " ", "@", "\\")


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:24]


def _path_of(header: str) -> str:
    """`b/path` of a `diff --git a/x b/y` line (the new name), else the line itself."""
    pos = header.rfind(" b/")
    return header[pos + 3 :].strip() if pos != -1 else header.strip()


def _cut_signature(diff: str) -> str:
    for mark in ("\n-- \n", "\n--\n"):
        pos = diff.find(mark)
        if pos != -1:
            diff = diff[: pos + 1]
    return diff


def _normal_lines(diff: str) -> str:
    """Without `index` lines, each hunk header reduced to "@@". (str.find over
    the few such lines: a MULTILINE regex would try every character.)"""
    out: list[str] = []
    pos, n = 0, len(diff)
    index, hunk = diff.find("\nindex "), diff.find("\n@@")
    while index != -1 or hunk != -1:
        is_hunk = index == -1 or (hunk != -1 and hunk < index)
        line = (hunk if is_hunk else index) + 1
        out.append(diff[pos:line])
        end = diff.find("\n", line)
        end = n if end == -1 else end
        if is_hunk:
            out.append("@@")
            pos = end  # its newline stays: the next line may be marked too
            hunk = diff.find("\n@@", pos)
        else:
            pos = min(end + 1, n)  # the index line goes, newline and all
            index = diff.find("\nindex ", end)
            if hunk != -1 and hunk < end:
                hunk = diff.find("\n@@", end)
    out.append(diff[pos:])
    return "".join(out)


def normalised_files(body: str) -> dict[str, str]:
    """{path: hash of that file's normalised diff}; empty when the body has no git diff."""
    start = find_diff(body)
    if start == -1:
        return {}
    diff = _normal_lines(_cut_signature(body[start:]))
    out: dict[str, str] = {}
    for section in diff.split("\n" + _FILE_START):
        section = section.removeprefix(_FILE_START)
        header, _, rest = section.partition("\n")
        path = _path_of(header)
        if path:
            out[path] = _digest(_without_tail(rest))
    return out


def _without_tail(rest: str) -> str:
    """A file's diff without what follows its last hunk line (b4's base-commit:, blank lines)."""
    end = len(rest)
    while end > 0:
        start = rest.rfind("\n", 0, end - 1) + 1 if end > 1 else 0
        line = rest[start:end].rstrip("\n")
        if line[:1] in _HUNK_LINE_STARTS:
            break
        end = start
    return rest[:end].rstrip("\n")


def diff_hash(files: dict[str, str]) -> str | None:
    """One hash over every file's (None: no diff to compare)."""
    if not files:
        return None
    return _digest("\n".join(f"{p}\0{h}" for p, h in sorted(files.items())))


def changed_files(mine: dict[str, str], theirs: dict[str, str]) -> tuple[str, ...]:
    """Paths whose normalised diff differs, or that only one side touches, in path order."""
    return tuple(sorted(p for p in {*mine, *theirs} if mine.get(p) != theirs.get(p)))
