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
import re
from typing import Final

from bot.mail.diff import find_diff

_INDEX_LINE: Final = re.compile(r"^index [0-9a-fA-F]+\.\.[0-9a-fA-F]+[^\n]*\n", re.MULTILINE)
_HUNK_HEADER: Final = re.compile(r"^@@+ [^\n]*$", re.MULTILINE)
_SIGNATURE: Final = re.compile(r"^-- ?$", re.MULTILINE)
_FILE_START: Final = "diff --git "


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:24]


def _path_of(header: str) -> str:
    """`b/path` of a `diff --git a/x b/y` line (the new name), else the line itself."""
    pos = header.rfind(" b/")
    return header[pos + 3 :].strip() if pos != -1 else header.strip()


def normalised_files(body: str) -> dict[str, str]:
    """{path: hash of that file's normalised diff}; empty when the body has no git diff."""
    start = find_diff(body)
    if start == -1:
        return {}
    diff = body[start:]
    end = _SIGNATURE.search(diff)
    if end is not None:
        diff = diff[: end.start()]
    diff = _INDEX_LINE.sub("", diff)
    diff = _HUNK_HEADER.sub("@@", diff)
    out: dict[str, str] = {}
    for section in diff.split("\n" + _FILE_START):
        section = section.removeprefix(_FILE_START)
        header, _, rest = section.partition("\n")
        lines = [line.rstrip() for line in rest.split("\n")]
        # Text after the last hunk (b4's base-commit:, blank lines) is not the change.
        while lines and lines[-1][:1] not in ("+", "-", " ", "@", "\\"):
            lines.pop()
        path = _path_of(header)
        if path:
            out[path] = _digest("\n".join(lines))
    return out


def diff_hash(files: dict[str, str]) -> str | None:
    """One hash over every file's (None: no diff to compare)."""
    if not files:
        return None
    return _digest("\n".join(f"{p}\0{h}" for p, h in sorted(files.items())))


def changed_files(mine: dict[str, str], theirs: dict[str, str]) -> tuple[str, ...]:
    """Paths whose normalised diff differs, or that only one side touches, in path order."""
    return tuple(sorted(p for p in {*mine, *theirs} if mine.get(p) != theirs.get(p)))
