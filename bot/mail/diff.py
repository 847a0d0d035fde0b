"""Diffs in mail bodies: where they start, the diffstat block, the computed diffstat.

The computed diffstat follows git's numstat: per file, the added and removed
lines of its hunks; a binary file counts as changed with no lines; a rename
or mode change alone is a file with 0/0. Hunks are counted with `str.count`
over their span and checked against the `@@ -a,b +c,d @@` header; only a
hunk whose counts disagree (e.g. the last one running into the `-- `
signature) is walked line by line.

Paths lose git's prefixes (`a/` `b/`, or diff.mnemonicPrefix's `i/` `w/` `c/`
`o/`, and `1/` `2/`); quilt's `--- a/file~patch-name` backup name is the
same file, not a rename.

The diffstat block's per-file *totals* and its summary line are exact; the
`+++--` bar is scaled for big changes, so per-file insertions/deletions read
from it are approximate unless the bar is as long as the total.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

from bot.mail.construct import construct
from bot.mail.models import Diffstat, DiffstatEntry

# Where a diff starts: git, `diff -u`/hg, CVS `Index:` or a bare `---`/`+++` pair.
# Anchored with `match` at line starts found by `str.find`, which is much
# faster than letting a MULTILINE `^` regex try every character.
_DIFF_START: Final = re.compile(
    r"diff --git \S|diff --cc \S|diff -[a-zA-Z]+ \S|Index: \S[^\n]*\n={8,}$"
    r"|--- \S[^\n]*\n\+\+\+ \S",
    re.MULTILINE,
)
_DIFF_CANDIDATE: Final = re.compile(r"\n(?:diff -|Index: |--- )")
# Patterns below run over "\n" + the diff, so a literal "\n" starts each line.
# File headers and hunk headers in one pass (groups 1-2: git, 3-4: ---/+++ pair, 5-6: hunk counts).
_DIFF_LINE: Final = re.compile(
    r"\n(?:diff --git ([^\n]*)|diff --cc ([^\n]*)|--- ([^\n]*)\n\+\+\+ ([^\n]*)"
    r"|@@+ -\d+(?:,(\d+))? \+\d+(?:,(\d+))? @@)"
)
_HUNK: Final = re.compile(r"\n@@+ -\d+(?:,(\d+))? \+\d+(?:,(\d+))? @@[^\n]*")
_SUMMARY: Final = re.compile(
    r" ?(\d+) files? changed(?:, (\d+) insertions?\(\+\))?(?:, (\d+) deletions?\(-\))?[ \t]*$",
    re.MULTILINE,
)
_STAT_LINE: Final = re.compile(r" (.+?)\s*\|\s+(?:(\d+)(?: ([+-]*))?|Bin(?: (\d+) -> (\d+) bytes)?)\s*")
# What follows the `|` of a stat line (`_STAT_LINE`'s groups 2-5 are its 1-4).
_STAT_TAIL: Final = re.compile(r"\s+(?:(\d+)(?: ([+-]*))?|Bin(?: (\d+) -> (\d+) bytes)?)\s*")
_BRACE: Final = re.compile(r"\{([^{}]*) => ([^{}]*)\}")


# What every `_DIFF_START` alternative opens with (`_DIFF_CANDIDATE`'s lines).
DIFF_OPENINGS: Final = ("diff -", "Index: ", "--- ")


def diff_starts_at(text: str, pos: int) -> bool:
    """Whether a diff's first line starts at `pos` (a line start), as `find_diff` decides."""
    return text.startswith(DIFF_OPENINGS, pos) and _DIFF_START.match(text, pos) is not None


def find_diff(text: str, start: int = 0) -> int:
    """Offset of the first line of a diff in `text`, or -1."""
    if start == 0 and _DIFF_START.match(text):
        return 0
    pos = start
    while True:
        m = _DIFF_CANDIDATE.search(text, pos)
        if m is None:
            return -1
        pos = m.start() + 1
        if _DIFF_START.match(text, pos):
            return pos


def separator_before(text: str, end: int, start: int = 0) -> int:
    """Offset of the last `---` line before `end` (the patch boundary), or -1."""
    pos = end
    while True:
        pos = text.rfind("---", start, pos)
        if pos == -1:
            return -1
        if pos == 0 or text[pos - 1] == "\n":
            eol = text.find("\n", pos)
            line = text[pos : eol if eol != -1 else len(text)]
            if not line[3:].strip(" \t"):
                return pos


# --- the computed diffstat ----------------------------------------------------


@dataclass(slots=True, init=False)  # (init=False: see headers.RawHeaders)
class _Section:
    start: int
    git: str | None  # the `diff --git` line's argument, or None for plain diffs
    minus: str | None
    plus: str | None
    first_hunk: int
    olds: int  # old-side lines announced by the hunk headers
    news: int

    def __init__(self, start: int, git: str | None, minus: str | None = None, plus: str | None = None) -> None:
        self.start = start
        self.git = git
        self.minus = minus
        self.plus = plus
        self.first_hunk = -1
        self.olds = 0
        self.news = 0


def _unquote(path: str) -> str:
    path = path.strip()
    if len(path) >= 2 and path[0] == '"' and path[-1] == '"':
        try:
            raw = path[1:-1].encode("latin-1", "backslashreplace").decode("unicode_escape")
            return raw.encode("latin-1").decode("utf-8", "replace")
        except (UnicodeError, ValueError):
            return path[1:-1]
    return path


# git's path prefixes: a/ and b/, or with diff.mnemonicPrefix the (i)ndex,
# (w)ork tree, (c)ommit and (o)bject, and 1/ 2/ for `--no-index`.
_OLD_PREFIXES: Final = frozenset(("a/", "c/", "i/", "o/", "w/", "1/"))
_NEW_PREFIXES: Final = frozenset(("b/", "i/", "w/", "o/", "2/"))
_GIT_PREFIXES: Final = _OLD_PREFIXES | _NEW_PREFIXES


def _strip_prefix(path: str, git: bool) -> str | None:
    """A `---`/`+++` path without its timestamp and its first component (git's -p1)."""
    path = _unquote(path.split("\t", 1)[0].rstrip())
    if path == "/dev/null" or not path:
        return None
    if git:
        if path[:2] in _GIT_PREFIXES:
            return path[2:]
        return path
    slash = path.find("/")
    return path[slash + 1 :] if slash != -1 else path


def _quilt_same(old: str | None, new: str | None) -> bool:
    """quilt/akpm's `--- a/file~patch-name` against `+++ a/file`: the same file."""
    return old is not None and new is not None and len(old) > len(new) + 1 and old.startswith(new + "~")


def _git_paths(arg: str) -> tuple[str, str]:
    """(old, new) from `a/X b/Y` (or `X Y` with diff.noprefix); exact when X == Y."""
    arg = arg.strip()
    if arg.startswith('"'):
        end = arg.find('"', 1)
        while end != -1 and arg[end - 1] == "\\":
            end = arg.find('"', end + 1)
        if end != -1:
            old, new = _unquote(arg[: end + 1]), _unquote(arg[end + 1 :])
            if old[:2] in _OLD_PREFIXES and new[:2] in _NEW_PREFIXES:
                return old[2:], new[2:]
            return old, new
    half = (len(arg) - 1) // 2
    if arg[half : half + 1] == " ":
        left, right = arg[:half], arg[half + 1 :]
        if left[2:] == right[2:] and (
            (left[:2] == "a/" and right[:2] == "b/") or (left[:2] in _OLD_PREFIXES and right[:2] in _NEW_PREFIXES)
        ):
            return left[2:], left[2:]
        if left == right:
            return left, left
    if arg[:2] in _OLD_PREFIXES:
        # a rename: `a/X b/Y`, the new side's prefix being the last one found
        cut = arg.rfind(" b/")
        if cut == -1:
            cut = max(arg.rfind(" " + p) for p in _NEW_PREFIXES)
        if cut > 2:
            return arg[2:cut], arg[cut + 3 :]
    old, _, new = arg.partition(" ")
    return old, new


def _hunk_counts(d: str, start: int, end: int) -> tuple[int, int]:
    """(+, -) lines of the hunks in d[start:end], each hunk walked by its header counts."""
    ins = dels = 0
    hunks = list(_HUNK.finditer(d, start, end))
    for i, m in enumerate(hunks):
        old = int(m.group(1)) if m.group(1) is not None else 1
        new = int(m.group(2)) if m.group(2) is not None else 1
        a = m.end()
        b = hunks[i + 1].start() if i + 1 < len(hunks) else end
        plus = d.count("\n+", a, b)
        minus = d.count("\n-", a, b)
        if old - minus == new - plus and old >= minus:
            ins += plus
            dels += minus
            continue
        plus, minus = _walk_hunk(d[a + 1 : b], old, new)
        ins += plus
        dels += minus
    return ins, dels


def _walk_hunk(body: str, old: int, new: int) -> tuple[int, int]:
    plus = minus = 0
    for line in body.split("\n"):
        if old <= 0 and new <= 0:
            break
        c = line[:1]
        if c == "+":
            plus += 1
            new -= 1
        elif c == "-":
            minus += 1
            old -= 1
        elif c == "\\":
            continue
        else:  # context; an empty line is a context line whose space was eaten
            old -= 1
            new -= 1
    return plus, minus


def _inside_hunk(d: str, section_start: int, pos: int) -> bool:
    """Whether `pos` still lies in the body of the last hunk before it, by its counts."""
    at = d.rfind("\n@@", section_start, pos)
    if at == -1:
        return False
    m = _HUNK.match(d, at)
    if m is None:
        return False
    old = int(m.group(1)) if m.group(1) is not None else 1
    new = int(m.group(2)) if m.group(2) is not None else 1
    a = m.end()
    minus = d.count("\n-", a, pos)
    plus = d.count("\n+", a, pos)
    context = d.count("\n", a, pos) - minus - plus - d.count("\n\\", a, pos)
    return context + minus < old or context + plus < new


def _sections(d: str, pos: int) -> list[_Section]:
    sections: list[_Section] = []
    cur: _Section | None = None
    for m in _DIFF_LINE.finditer(d, pos):
        li = m.lastindex
        if li is None or li >= 5:  # a hunk header
            if cur is not None:
                if cur.first_hunk == -1:
                    cur.first_hunk = m.start()
                o, n = m.group(5, 6)
                cur.olds += int(o) if o else 1
                cur.news += int(n) if n else 1
            continue
        if li <= 2:  # diff --git / diff --cc
            cur = _Section(m.start(), m.group(li))
            sections.append(cur)
            continue
        if cur is not None and (cur.git is None or cur.minus is None) and cur.first_hunk == -1:
            # No hunk since the section began: the pair is its git header, or
            # (plain diffs) the earlier pair was not a file after all.
            cur.minus, cur.plus = m.group(3), m.group(4)
            continue
        if cur is not None and _inside_hunk(d, cur.start, m.start()):
            continue  # removed "-- x" and added "++ y" lines, not a file header
        cur = _Section(m.start(), None, m.group(3), m.group(4))
        sections.append(cur)
    return sections


def compute_diffstat(
    text: str, start: int = 0, unknown: list[str] | None = None, checked: bool = True
) -> Diffstat | None:
    """The diffstat of every diff in `text` from `start`, in diff order; None if none.

    One regex pass finds file and hunk headers; each file's +/- lines are
    counted over its span and checked against its hunk headers' sums (a
    hunk at a time only when they disagree). Files deleted with
    `format-patch -D` (a `deleted file mode` header and no hunks) count 0
    lines here; their paths are appended to `unknown`.

    `checked=False` counts only the added lines and takes the removed ones
    from the hunk headers (one pass less); use it only when something else
    checks the result, as a diffstat block written by git does.
    """
    if start > 0 and text[start - 1] == "\n":
        d, pos = text, start - 1  # patterns start with the newline before a line
    else:
        d, pos = "\n" + text[start:], 0
    sections = _sections(d, pos)
    if not sections:
        return None
    # The `-- ` signature after the last hunk: counting stops there (checked
    # against the hunk headers, so a removed "- " line cannot fool it).
    sig = d.rfind("\n-- \n", sections[-1].start)
    entries: list[DiffstatEntry] = []
    ins_total = dels_total = 0
    nsec = len(sections)
    for i, sec in enumerate(sections):
        end = sections[i + 1].start if i + 1 < nsec else len(d)
        first_hunk = sec.first_hunk
        head_end = first_hunk if first_hunk != -1 else end
        git = sec.git is not None
        old_path: str | None = None
        path: str | None = None
        if git:
            # `diff --git a/X b/X` names the file exactly, even when added or
            # deleted; only renames and copies (or odd quoting) need more.
            old_path, path = _git_paths(sec.git or "")
            if old_path != path or not path:
                minus = _strip_prefix(sec.minus, True) if sec.minus is not None else None
                plus = _strip_prefix(sec.plus, True) if sec.plus is not None else None
                if plus or minus:
                    path = plus or minus
                    old_path = minus or plus
                for line in d[sec.start : head_end].split("\n"):
                    if line.startswith(("rename from ", "copy from ")):
                        old_path = _unquote(line.split(" ", 2)[2])
                    elif line.startswith(("rename to ", "copy to ")):
                        path = _unquote(line.split(" ", 2)[2])
        else:
            minus = _strip_prefix(sec.minus, False) if sec.minus is not None else None
            plus = _strip_prefix(sec.plus, False) if sec.plus is not None else None
            if _quilt_same(minus, plus):
                minus = plus
            path = plus or minus
            old_path = minus or plus
            # CVS/SVN: the `Index: <path>` line names the file exactly (no -p1 guess).
            idx = d.rfind("\nIndex: ", max(0, sec.start - 1000), sec.start + 1)
            if idx != -1 and d.find("\n@@", idx, sec.start) == -1:
                eol = d.find("\n", idx + 1)
                path = old_path = d[idx + 8 : eol].strip() or path
        binary = False
        if first_hunk != -1:
            stop = sig if i + 1 == nsec and sig > first_hunk else end
            ins = d.count("\n+", first_hunk, stop)
            if checked:
                dels = d.count("\n-", first_hunk, stop)
                if sec.olds - dels != sec.news - ins or sec.olds < dels:
                    ins, dels = _hunk_counts(d, first_hunk, end)
            else:
                # context = news - ins; the rest of the old side was removed
                dels = sec.olds - (sec.news - ins)
                if dels < 0 or ins > sec.news:
                    ins, dels = _hunk_counts(d, first_hunk, end)
        else:
            ins = dels = 0
            binary = (
                d.find("\nGIT binary patch", sec.start, end) != -1
                or d.find("\nBinary files ", sec.start, end) != -1
            )
            if git and not binary and unknown is not None and d.find("\ndeleted file mode", sec.start, end) != -1:
                unknown.append(path or old_path or "")
        if not path:
            continue
        ins_total += ins
        dels_total += dels
        entries.append(
            construct(
                DiffstatEntry,
                {
                    "path": path,
                    "insertions": ins,
                    "deletions": dels,
                    "binary": binary,
                    "old_path": old_path if old_path and old_path != path else None,
                },
            )
        )
    if not entries:
        return None
    return construct(
        Diffstat,
        {"files": len(entries), "insertions": ins_total, "deletions": dels_total, "per_file": tuple(entries)},
    )


# --- the diffstat block --------------------------------------------------------


def _stat_paths(written: str) -> tuple[str, str | None]:
    """(path, old_path) from a diffstat path: `a/{b => c}/d`, `x => y` or plain.

    git shortens long paths from the left (`.../kvm/arm => arch/arm64/kvm}/x.c`,
    even `.../nvhe/fixed_config.h}`): then only a `.../` suffix of the new
    path is known, and no old path.
    """
    written = written.strip()
    if written.startswith("...") and "}" in written and "{" not in written:
        tail = written.split(" => ", 1)[1] if " => " in written else written[3:].lstrip("/")
        return ".../" + tail.replace("}", "", 1).replace("//", "/"), None
    if " => " not in written:
        return written, None
    m = _BRACE.search(written)
    if m:
        pre, post = written[: m.start()], written[m.end() :]
        old = (pre + m.group(1) + post).replace("//", "/")
        new = (pre + m.group(2) + post).replace("//", "/")
        return new, old
    old, _, new = written.partition(" => ")
    return new.strip(), old.strip()


@dataclass(slots=True, init=False)  # (init=False: see headers.RawHeaders)
class StatBlock:
    """A diffstat block as read: the summary and each ` path | N +-` line unparsed.

    Turning lines into DiffstatEntry objects is deferred (`to_diffstat`):
    when the block agrees with the diff, the computed entries are used instead.
    """

    files: int
    insertions: int
    deletions: int
    lines: list[tuple[str, int, str, bool]]  # (written path, changed lines, bar, binary)

    def __init__(self, files: int, insertions: int, deletions: int, lines: list[tuple[str, int, str, bool]]) -> None:
        self.files = files
        self.insertions = insertions
        self.deletions = deletions
        self.lines = lines

    def to_diffstat(self) -> Diffstat:
        entries = []
        for written, changes, bar, binary in self.lines:
            path, old_path = _stat_paths(written)
            if binary:
                ins = 0
            elif len(bar) == changes:
                ins = bar.count("+")
            else:
                ins = round(changes * bar.count("+") / len(bar)) if bar else 0
            # (typed values: built without validation, as compute_diffstat does)
            entries.append(
                construct(
                    DiffstatEntry,
                    {"path": path, "insertions": ins, "deletions": changes - ins, "binary": binary, "old_path": old_path},
                )
            )
        return construct(
            Diffstat,
            {"files": self.files, "insertions": self.insertions, "deletions": self.deletions, "per_file": tuple(entries)},
        )


def _stat_line_re(text: str, start: int, end: int) -> tuple[str, str | None, str | None] | None:
    """(path as written, changed lines, bar) of a stat line text[start:end], by `_STAT_LINE`."""
    s = _STAT_LINE.fullmatch(text, start, end)
    return None if s is None else (s.group(1), s.group(2), s.group(3))


def _stat_line(text: str, start: int, end: int) -> tuple[str, str | None, str | None] | None:
    """`_stat_line_re` for a span holding no newline, without its lazy path
    group, which tries the rest of the pattern at every character.

    The path ends where the whitespace before the first `|` (at least two
    characters in) begins; when the rest does not fit at that `|`, the
    regex's own search of the later ones decides.
    """
    if not text.startswith(" ", start):
        return None
    bar = text.find("|", start + 2, end)
    if bar == -1:
        return None
    got = _plain_tail(text, bar + 1, end)
    if got is None:
        tail = _STAT_TAIL.fullmatch(text, bar + 1, end)
        if tail is None:
            return _stat_line_re(text, start, end)
        got = (tail.group(1), tail.group(2))
    # (the path is at least one character, even a blank one)
    path = text[start + 1 : bar].rstrip() or text[start + 1 : start + 2]
    return path, got[0], got[1]


def _plain_tail(text: str, start: int, end: int) -> tuple[str | None, str | None] | None:
    """`_STAT_TAIL`'s groups 1-2 for the usual tail text[start:end] (spaces,
    ASCII digits, maybe a space and a `+-` bar, spaces), read without the
    regex (its call and match objects cost ~2k instructions a stat line);
    None for any other tail, which the regex reads."""
    i = start
    while i < end and ord(text[i]) == 32:
        i += 1
    j = i
    while j < end and 48 <= ord(text[j]) <= 57:
        j += 1
    if i == start or j == i:
        return None
    if j == end:
        return text[i:j], None
    if ord(text[j]) != 32:
        return None
    bar = text[j + 1 : end].rstrip(" ")
    if bar.count("+") + bar.count("-") != len(bar):
        return None
    return text[i:j], bar


def read_diffstat_block(text: str, start: int = 0, end: int | None = None) -> StatBlock | None:
    """The first `git diff --stat` block in text[start:end], or None.

    Found by its summary line (` 3 files changed, 7 insertions(+), ...`), then
    read upwards while lines look like ` path | N +-`.
    """
    stop = len(text) if end is None else end
    m = None
    pos = text.find(" changed", start, stop)
    while pos != -1:
        line_start = text.rfind("\n", start, pos) + 1
        m = _SUMMARY.match(text, line_start, stop)
        if m is not None:
            break
        pos = text.find(" changed", pos + 8, stop)
    if m is None:
        return None
    lines: list[tuple[str, int, str, bool]] = []
    line_end = m.start() - 1
    while line_end > start:
        nl = text.rfind("\n", start, line_end)
        line_start = nl + 1
        # (`_stat_line` wants one line: from 0 the span may hold earlier ones)
        s = _stat_line(text, line_start, line_end) if nl != -1 or start == 0 else _stat_line_re(text, 0, line_end)
        if s is None:
            break
        written, changes, bar = s
        if changes is not None:
            lines.append((written, int(changes), bar or "", False))
        else:
            lines.append((written, 0, "", True))
        line_end = line_start - 1
    lines.reverse()
    return StatBlock(int(m.group(1)), int(m.group(2) or 0), int(m.group(3) or 0), lines)


def parse_diffstat_block(text: str, start: int = 0, end: int | None = None) -> Diffstat | None:
    """The first diffstat block in text[start:end] as a Diffstat, or None.

    Per-file insertions/deletions come from the bar: exact when it is as long
    as the change count, proportional (approximate) when git scaled it.
    """
    block = read_diffstat_block(text, start, end)
    return block.to_diffstat() if block is not None else None


def _same_path(written: str, full: str) -> bool:
    if written == full:
        return True
    if written.startswith(".../"):
        return full.endswith(written[4:])
    return False


def _written_path(written: str) -> str:
    if " => " in written or written.startswith("..."):
        return _stat_paths(written)[0]
    return written.strip()


def block_mismatches(block: StatBlock, computed: Diffstat, unknown: list[str] | tuple[str, ...] = ()) -> list[str]:
    """How a diffstat block disagrees with the diff (empty: they agree as git means it).

    Same file count and totals; per file, in order: the same path (a `.../`
    shortened path matches by suffix), the same number of changed lines and
    the same binary-ness. Deletions of `unknown` files (`format-patch -D`)
    are not in the diff, so only their presence is checked.
    """
    out: list[str] = []
    deletions = computed.deletions
    if unknown:
        deletions += sum(
            n for w, n, _, _ in block.lines if any(_same_path(_written_path(w), u) for u in unknown)
        )
    if (block.files, block.insertions, block.deletions) != (computed.files, computed.insertions, deletions):
        out.append(
            f"totals {block.files} files +{block.insertions} -{block.deletions} != "
            f"{computed.files} files +{computed.insertions} -{deletions}"
        )
    if block.lines and len(block.lines) != len(computed.per_file):
        out.append(f"{len(block.lines)} stat lines for {len(computed.per_file)} diffs")
    elif block.lines:
        for (written, changes, _, binary), c in zip(block.lines, computed.per_file, strict=True):
            path = _written_path(written)
            if not _same_path(path, c.path):
                out.append(f"path {path} != {c.path}")
            elif c.path in unknown:
                continue
            elif binary != c.binary or (not binary and changes != c.insertions + c.deletions):
                out.append(f"{c.path}: {changes} != {c.insertions + c.deletions}")
    return out


def diffstat_mismatches(block: Diffstat, computed: Diffstat, unknown: list[str] | tuple[str, ...] = ()) -> list[str]:
    """`block_mismatches` for a block already turned into a Diffstat."""
    lines = [(e.path, e.insertions + e.deletions, "", e.binary) for e in block.per_file]
    return block_mismatches(StatBlock(block.files, block.insertions, block.deletions, lines), computed, unknown)
