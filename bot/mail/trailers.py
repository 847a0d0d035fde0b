"""Trailers: `Name: value` lines in a commit message or a reply.

`parse_trailers(text)` reads a commit message (or a whole patch body: it stops
at the `---` line or the first `diff`), where trailers are only the trailing
paragraph(s), as git reads them: the last paragraph counts when it holds at
least one known (or `*-by`) trailer and at least a quarter of its lines are
trailers; earlier paragraphs count only while every line is a trailer or a
continuation.

`parse_trailers(text, reply=True)` reads a reply, where trailers are whole
unquoted lines anywhere above the signature (or an Outlook/forward "Original
Message" block), with a known or `*-by` name; a people trailer there must
carry an address (so prose such as "Reviewed-by: once you fix this" is not one),
and a Cc:/To: one must be nothing but addresses ("Cc: Paolo <p@r>, can you
take this?" is prose).

Mail header lines inside a trailer paragraph (`Content-Type:`, `X-Mailer:`,
`MIME-Version:`, ... pasted or injected) are neither trailers nor prose: they
do not count against the paragraph.

Continuations: an indented or `[note]` line after a trailer is a maintainer
note; a `<addr>` line completes a wrapped `Signed-off-by: Long Name`; a
`Fixes:` whose quoted subject wraps is rejoined until its `")`.

`base-commit:`, `change-id:` and links to earlier versions (`Supersedes:`,
`v1: https://...`, `- Link to v1: https://...`) are looked for in the whole
text (b4 puts them after the `---`); the b4 metadata in the mail's trailing
block only (`meta_tail_start`), however long its prerequisite list.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Final

from bot.mail.applied import notice_verb_at
from bot.mail.diff import diff_starts_at
from bot.mail.models import Fixes, Person, StableTag, Trailer
from bot.mail.people import _MAILTO_JUNK, parse_person

_KNOWN: Final = {
    n.lower(): n
    for n in (
        "Signed-off-by Reviewed-by Acked-by Tested-by Reported-by Suggested-by "
        "Co-developed-by Reported-and-tested-by Cc Link Closes Message-ID Fixes "
        "Stable-dep-of Bug Supersedes base-commit change-id prerequisite-patch-id "
        "prerequisite-change-id prerequisite-message-id Requested-by Debugged-by "
        "Originally-by Helped-by Analyzed-by Bisected-by Noticed-by Inspired-by "
        "Based-on-patch-by Co-authored-by Assisted-by To"
    ).split()
}
_KNOWN["message-id"] = "Message-ID"
_KNOWN_NAMES: Final = frozenset(_KNOWN.values())  # as `canonical_name` spells them
_LINE: Final = re.compile(r"([A-Za-z][A-Za-z0-9]*(?:-[A-Za-z0-9]+)*)[ \t]*:[ \t]*(.*)")
_FIX: Final = re.compile(r"(commit[ \t]+)?([0-9a-fA-F]+|\?)\b[ \t:]*(.*)")
_STABLE_PREREQ: Final = re.compile(r"([^:]*?)\s*:\s*([0-9a-fA-F]{6,40})\b")
_META: Final = re.compile(r"(base-commit|change-id)[ \t]*:[ \t]*(\S+)[ \t]*$")
_PREV: Final = re.compile(
    r"^[ \t]*(?:[-*][ \t]*)?(?:Supersedes|(?:Link to )?v\d+(?:\.\d+)?)[ \t]*:[ \t]*<?(\S+?)>?[ \t]*$",
    re.IGNORECASE,
)
_STABLE_ADDRS: Final = {
    "stable@vger.kernel.org": "vger",
    "stable@kernel.org": "embargoed",
    "stable+noautosel@kernel.org": "noautosel",
}
_META_NAMES: Final = frozenset(("base-commit", "change-id"))
USUAL_SHA_LEN: Final = 12
MIN_SHA_LEN: Final = 6
_NO_STABLE: Final = StableTag()


# (init=False: see headers.RawHeaders. Not frozen, which would cost an
# object.__setattr__ a field: read-only by convention, EMPTY is shared.)
@dataclass(slots=True, init=False)
class TrailerBlock:
    """What the trailers of one commit message or reply say."""

    trailers: tuple[Trailer, ...]
    fixes: tuple[Fixes, ...]
    stable: StableTag
    change_id: str | None
    base_commit: str | None
    previous_versions: tuple[str, ...]
    warnings: tuple[str, ...]

    def __init__(
        self,
        trailers: tuple[Trailer, ...] = (),
        fixes: tuple[Fixes, ...] = (),
        stable: StableTag = _NO_STABLE,  # (frozen: shared)
        change_id: str | None = None,
        base_commit: str | None = None,
        previous_versions: tuple[str, ...] = (),
        warnings: tuple[str, ...] = (),
    ) -> None:
        self.trailers = trailers
        self.fixes = fixes
        self.stable = stable
        self.change_id = change_id
        self.base_commit = base_commit
        self.previous_versions = previous_versions
        self.warnings = warnings


EMPTY: Final = TrailerBlock()


def canonical_name(name: str) -> str:
    """`reviewed-BY` -> `Reviewed-by`; known names keep their usual spelling."""
    low = name.lower()
    known = _KNOWN.get(low)
    if known:
        return known
    return low[:1].upper() + low[1:]


def _well_formed(low: str) -> bool:
    if low[:1] == "v" and low[1:].isdigit():  # `v1: https://...` is a changelog line
        return False
    return low in _KNOWN or low.endswith("-by") or low.endswith("-of") or "-" not in low


def _is_people(name: str) -> bool:
    return name.endswith("-by") or name == "Cc" or name == "To"


@dataclass(slots=True, init=False)  # (init=False: see headers.RawHeaders)
class _Raw:
    """A trailer being assembled (mutable until the block is done)."""

    name: str
    value: str
    note: str | None

    def __init__(self, name: str, value: str, note: str | None = None) -> None:
        self.name = name
        self.value = value
        self.note = note


# Mail header names: a header block pasted (or injected by a broken mailer)
# into the trailer paragraph holds no trailers and must not outvote them.
_HEADER_NAMES: Final = frozenset(
    "content-type content-transfer-encoding content-disposition content-description mime-version "
    "received return-path user-agent in-reply-to references precedence dkim-signature "
    "authentication-results delivered-to errors-to sender thread-topic thread-index "
    "date from subject reply-to".split()
)


def _is_header_line(line: str) -> bool:
    """A `Name: value` line whose name is a mail header's (X-*, List-*, Content-*, ...)."""
    colon = line.find(":")
    if colon < 2 or not line[:1].isalpha():
        return False
    low = line[:colon].rstrip(" \t").lower()
    if " " in low:
        return False
    return low in _HEADER_NAMES or low.startswith(("x-", "list-", "arc-"))


def _address_value(value: str) -> bool:
    """Whether a reply's Cc:/To: value is only addresses (`Name <a@b>`, `a@b`,
    comma-separated; a `# comment` or a parenthetical after one), not prose
    that happens to start with "Cc:" ("Cc: Paolo <p@r>, can you take this?")."""
    hash_at = value.find("#")
    if hash_at != -1:
        value = value[:hash_at]
    for item in value.split(","):
        item = item.strip()
        if not item:
            continue
        if item.endswith(")") and "(" in item:
            item = item[: item.rfind("(")].rstrip()  # `a@b (Jane)`, `Jane <a@b> (docs)`
        lt = item.find("<")
        if lt != -1:
            name = item[:lt]
            if not item.endswith(">") or item.count("<") != 1 or "@" not in item[lt:]:
                return False
            if len(name.split()) > 6 or any(c in name for c in ":?!;"):
                return False
        elif "@" not in item or len(item.split()) != 1:
            return False
    return True


def _split_line(line: str, reply: bool) -> tuple[str, str] | None:
    """(canonical name, value) when the line is a trailer, else None."""
    if ":" not in line or not line[:1].isalpha():
        return None
    m = _LINE.match(line)
    if not m:
        return None
    name, value = m.group(1), m.group(2).rstrip()
    if value.startswith("//"):  # `https://...` is not a trailer named https
        return None
    low = name.lower()
    if reply:
        if low not in _KNOWN and not low.endswith("-by"):
            return None
        canon = canonical_name(name)
        if _is_people(canon) and "@" not in value:
            return None
        if (canon == "Cc" or canon == "To") and not _address_value(value):
            return None
        if not value:
            return None
        if canon == "Fixes" and not _looks_like_fix(value):
            return None  # "Fixes: tags should be on one line" is prose in a reply
        return canon, value
    if not _well_formed(low):
        return None
    return canonical_name(name), value


@lru_cache(maxsize=16384)
def _split_commit_line(line: str) -> tuple[str, str] | None:
    """`_split_line` in commit mode, cached: sign-offs and reviews recur on every patch."""
    return _split_line(line, False)


def _looks_like_fix(value: str) -> bool:
    m = _FIX.match(value)
    return m is not None and len(m.group(2)) >= MIN_SHA_LEN


def _unclosed(prev: _Raw) -> bool:
    """A `Fixes:` whose `("subject` has not been closed yet (it wrapped)."""
    return prev.name in ("Fixes", "Stable-dep-of") and prev.value.count("(") > prev.value.count(")")


def _continues(prev: _Raw, line: str) -> bool:
    """Fold `line` into `prev` when it continues it; True when consumed."""
    stripped = line.strip()
    if stripped.startswith("[") and stripped.endswith("]"):
        prev.note = f"{prev.note} {stripped}" if prev.note else stripped
        return True
    if stripped.startswith("<") and "@" in stripped and _is_people(prev.name) and "@" not in prev.value:
        prev.value = f"{prev.value} {stripped}"
        return True
    if _unclosed(prev) and stripped:
        prev.value = f"{prev.value} {stripped}"
        return True
    if line[:1] in (" ", "\t") and stripped:
        prev.value = f"{prev.value} {stripped}"
        return True
    return False


def _commit_region(text: str) -> tuple[str, int]:
    """(the commit message, where the diff starts): cut at the `---` before the
    diffstat, the signature, or the diff (`diff ...` or a bare `--- a/` + `+++`)."""
    diff = text.find("\ndiff ")
    cut = len(text) if diff == -1 else diff
    if text.startswith(("---\n", "-- \n", "diff ")):
        return "", cut
    pos = text.find("\n--", 0, cut)
    while pos != -1:
        le = text.find("\n", pos + 1)
        if le == -1:
            le = len(text)
        line = text[pos + 1 : le].rstrip("\r")
        if line in ("---", "--- ", "-- ", "--") or (line.startswith("--- ") and text.startswith("+++ ", le + 1)):
            bare_diff = line.startswith("--- ") and len(line) > 4
            return text[:pos], pos if bare_diff else cut
        pos = text.find("\n--", pos + 1, cut)
    return text[:cut], cut


def _tail(region: str, paragraphs: int) -> tuple[str, bool]:
    """The last `paragraphs` paragraphs of `region`; True when that is all of it."""
    end = len(region)
    start = end
    for _ in range(paragraphs):
        p = region.rfind("\n\n", 0, start)
        if p <= 0:
            return region, True
        start = p
        while start > 0 and region[start - 1] == "\n":
            start -= 1
    return region[start:], False


def _commit_trailers(region: str) -> list[_Raw]:
    """Trailers of the trailing paragraph(s); only the tail of the text is split."""
    window, whole = _tail(region, 4)
    raws, reached_top = _trailing_paragraphs(window.splitlines())
    if reached_top and not whole:
        raws, _ = _trailing_paragraphs(region.splitlines())
    return raws


def _trailing_paragraphs(lines: list[str]) -> tuple[list[_Raw], bool]:
    end = len(lines)
    while end and not lines[end - 1].strip():
        end -= 1
    blocks: list[list[_Raw]] = []
    first = True
    while end > 0:
        start = end
        while start and lines[start - 1].strip():
            start -= 1
        raws, n_trailers, n_other, has_known = _read_paragraph(lines[start:end], strict=not first)
        total = n_trailers + n_other
        if first:
            ok = has_known and n_trailers * 4 >= total
        else:
            ok = has_known and n_other == 0
        if not ok:
            break
        blocks.append(raws)
        first = False
        end = start
        while end and not lines[end - 1].strip():
            end -= 1
    out: list[_Raw] = []
    for raws in reversed(blocks):
        out.extend(raws)
    return out, end == 0


def _read_paragraph(par: list[str], strict: bool = False) -> tuple[list[_Raw], int, int, bool]:
    """Trailers of one paragraph and its counts; `strict` stops at the first
    line that is not a trailer (an earlier paragraph then does not count)."""
    raws: list[_Raw] = []
    n_trailers = n_other = 0
    has_known = False
    prev: _Raw | None = None
    in_header = False  # inside a mail header line pasted into the paragraph
    for line in par:
        if in_header and line[:1] in (" ", "\t"):
            continue  # its folded continuation
        in_header = False
        if line.startswith(">"):
            n_other += 1
            if strict:
                break
            prev = None
            continue
        if prev is not None and _unclosed(prev) and _continues(prev, line):
            continue
        parsed = None if line[:1] in (" ", "\t") else _split_commit_line(line)
        if parsed is None and prev is not None and _continues(prev, line):
            continue
        if (parsed is None or parsed[0] not in _KNOWN_NAMES) and _is_header_line(line):
            # neither a trailer nor prose: left out of the counts
            in_header = True
            prev = None
            continue
        if parsed is None:
            n_other += 1
            if strict:
                break
            prev = None
            continue
        name, value = parsed
        prev = _Raw(name, value)
        raws.append(prev)
        n_trailers += 1
        if name.lower() in _KNOWN or name.endswith("-by"):
            has_known = True
    return raws, n_trailers, n_other, has_known


# Names a reply trailer can have, lower-cased, as substrings a candidate line
# must hold. ("-by" without its colon also finds the `Reviewed-by : X` some
# people write.)
_REPLY_NEEDLES: Final = ("-by", "fixes:", "cc:", "link:", "closes:")
# A line that `_split_line` may accept: whitespace (as str.lstrip strips it),
# a name, a colon. The leading "\n" lets the engine jump from line to line
# instead of trying every character; the first line is matched on its own.
# (Possessive: what the name stops at is never part of it, so backtracking
# into a prose line's first word cannot help; 15% faster without it.)
_NAME_LINE: Final = re.compile(r"\n[^\S\n]*+[A-Za-z][A-Za-z0-9-]*+[ \t]*+:")
_FIRST_NAME_LINE: Final = re.compile(r"[^\S\n]*+[A-Za-z][A-Za-z0-9-]*+[ \t]*+:")
_REPLY_ENDS: Final = ("\n-- \n", "\n--\n", "\n-- \r\n")
_REPLY_MARKERS: Final = ("original message", "forwarded message", "begin forwarded message:", "\n_______________")


def _reply_end(text: str, low: str) -> int:
    """Where the reply's own text ends: its signature or a pasted original."""
    end = len(text)
    if text.startswith(("-- \n", "--\n")):
        return 0
    for needle in _REPLY_ENDS:
        pos = text.find(needle, 0, end)
        if pos != -1:
            end = pos
    for needle in _REPLY_MARKERS:
        pos = low.find(needle, 0, end)
        while pos != -1:
            ls = pos + 1 if needle[0] == "\n" else text.rfind("\n", 0, pos) + 1
            if text[ls : ls + 1] != ">":  # a quoted marker is part of the quote
                end = ls
                break
            pos = low.find(needle, pos + len(needle), end)
    return end


def _line_at(text: str, start: int, end: int) -> tuple[str, int]:
    """The line starting at `start` (without its newline) and where the next begins."""
    le = text.find("\n", start, end)
    if le == -1:
        le = end
    return text[start:le].rstrip("\r"), le + 1


def _has_needle(text: str, ls: int) -> bool:
    """Whether the line starting at `ls` holds one of `_REPLY_NEEDLES`."""
    eol = text.find("\n", ls)
    low = text[ls : eol if eol != -1 else len(text)].lower()
    for needle in _REPLY_NEEDLES:
        if needle in low:
            return True
    return False


def _reply_candidates(text: str) -> list[int]:
    """Starts of the unquoted lines that may be reply trailers, in order.

    A trailer line is `Name:` after optional whitespace, and (as before) holds
    one of the needles; one regex pass finds the `Name:` lines, so the usual
    reply (quoted text and prose, no such line) costs no Python loop.
    """
    first = [0] if _FIRST_NAME_LINE.match(text) else []
    return [ls for ls in first + [m.start() + 1 for m in _NAME_LINE.finditer(text)] if _has_needle(text, ls)]


# The lines (after the first) that any of `scan_reply`'s questions is about:
# a `Name:` line (`_NAME_LINE`), a notice verb (`applied`), a diff's opening
# (`diff`; its `Index: ` lines are `Name:` lines already). A superset:
# leading whitespace is allowed before each, and every line found is checked
# against the exact rules.
_REPLY_LINE: Final = re.compile(
    r"\n[^\S\n]*+(?:[A-Za-z][A-Za-z0-9-]*+[ \t]*+:|[AaQqPpMm](?i:pplied|ueued|ushed|erged)\b|diff -|--- )"
)
_META_KEYS: Final = ("base-commit:", "change-id:")


@dataclass(slots=True, init=False)  # (init=False: see headers.RawHeaders)
class ReplyScan:
    """What one pass over a reply's lines found (see `scan_reply`)."""

    diff: int  # `diff.find_diff(text)`
    candidates: list[int]  # `_reply_candidates(text)`
    verb_line: bool  # a line after the first opens with a notice verb (`applied.notice_verb_at`)
    meta: bool  # a line starts with one of `_META_KEYS`: else `_meta_value` finds nothing

    def __init__(self, diff: int, candidates: list[int], verb_line: bool, meta: bool) -> None:
        self.diff = diff
        self.candidates = candidates
        self.verb_line = verb_line
        self.meta = meta


# What a line must open with (after blanks) for `_REPLY_LINE` to match it: a
# notice verb's first letter, `diff -`'s, `--- `'s, or another ASCII letter
# with a colon later on the line.
_REPLY_OPENERS: Final = "AaQqPpMmd-"


def _may_be_reply_line(text: str, ls: int, eol: int) -> bool:
    """False only for a line text[ls:eol] (not empty) that `_REPLY_LINE` cannot
    match: quoted lines and most prose, told from their first character."""
    c = ord(text[ls])
    first = text[ls]
    if first in _REPLY_OPENERS or first.isspace():
        return True
    return (65 <= c <= 90 or 97 <= c <= 122) and text.find(":", ls, eol) != -1


def scan_reply(text: str) -> ReplyScan:
    """The answers of `find_diff`, `_reply_candidates`, the applied notice's
    cheap test and `_meta_value` for a reply body, from one pass over its
    lines instead of one each (most lines, quoted or prose, match none).

    The lines are found with str.find and most are turned away on their first
    character; the regex engine, walking every character and trying a match
    at every line, cost twice as much.
    """
    diff = 0 if diff_starts_at(text, 0) else -1
    starts = [0] if _FIRST_NAME_LINE.match(text) and _has_needle(text, 0) else []
    verb_line = False
    meta = text.startswith(_META_KEYS)
    n = len(text)
    ls = text.find("\n") + 1
    while 0 < ls < n:
        eol = text.find("\n", ls)
        if eol == -1:
            eol = n
        # (a quoted line, most of a usual reply, is turned away here: ">" opens
        # no line the regex matches)
        if (
            ls == eol
            or ord(text[ls]) == 62
            or not _may_be_reply_line(text, ls, eol)
            or _REPLY_LINE.match(text, ls - 1) is None
        ):
            ls = eol + 1
            continue
        if diff == -1 and diff_starts_at(text, ls):
            diff = ls
        if _NAME_LINE.match(text, ls - 1) is not None and _has_needle(text, ls):
            starts.append(ls)
        if not verb_line and notice_verb_at(text, ls):
            verb_line = True
        if not meta and text.startswith(_META_KEYS, ls):
            meta = True
        ls = eol + 1
    return ReplyScan(diff, starts, verb_line, meta)


def _reply_trailers(text: str, starts: list[int]) -> list[_Raw]:
    if not starts:
        return []
    low = text.lower()
    end = _reply_end(text, low)
    raws: list[_Raw] = []
    consumed = -1  # continuation lines already folded into a trailer end here
    for ls in starts:
        if ls >= end:
            break
        if ls < consumed:
            continue
        line, nxt = _line_at(text, ls, end)
        parsed = _split_line(line.lstrip(), True)
        if parsed is None:
            continue
        prev = _Raw(*parsed)
        raws.append(prev)
        while nxt < end:
            cont, after = _line_at(text, nxt, end)
            if not cont or cont[0] == ">":
                break
            if not _unclosed(prev) and _split_line(cont.lstrip(), True) is not None:
                break
            if not _continues(prev, cont):
                break
            nxt = after
        consumed = nxt
    return raws


def _split_extra(name: str, value: str) -> tuple[str, str | None]:
    """Separate a `# comment` or a trailing `(parenthetical)` from the value."""
    hash_at = -1
    for sep in (" #", "\t#"):
        pos = value.find(sep)
        if pos != -1 and (hash_at == -1 or pos < hash_at):
            hash_at = pos
    if hash_at == -1 and _is_people(name):
        # `Cc: stable@vger.kernel.org#v5.2+`: no space, but a people value has no `#`
        pos = value.find("#")
        if pos > value.find("@") >= 0:
            hash_at = pos
    if value.startswith("#"):
        hash_at = 0
    if hash_at != -1 and (name != "Link" or hash_at > 0):
        return value[:hash_at].rstrip(), value[hash_at:].strip()
    if _is_people(name):
        gt = value.rfind(">")
        if gt != -1 and gt + 1 < len(value):
            rest = value[gt + 1 :].strip()
            if rest.startswith("(") and rest.endswith(")"):
                return value[: gt + 1], rest
    return value, None


@lru_cache(maxsize=8192)
def _parse_fix(value: str, label: str) -> Fixes | str:
    """The fix, or a warning saying why there is none, for a Fixes:/Stable-dep-of: value."""
    m = _FIX.match(value.strip())
    sha = m.group(2) if m else ""
    if not m or sha == "?" or len(sha) < MIN_SHA_LEN:
        return f"{label}: not a commit id: {value.strip()[:80]!r}"
    rest = m.group(3).strip()
    subject = None
    nonstandard = bool(m.group(1))
    if rest.startswith("(") and rest.endswith(")"):
        inner = rest[1:-1].strip()
        if len(inner) >= 2 and inner[0] in "\"'“" and inner[-1] in "\"'”":
            inner = inner[1:-1]
        else:
            nonstandard = True
        subject = " ".join(inner.split()) or None
    elif rest:
        nonstandard = True
        subject = " ".join(rest.strip("\"'").split()) or None
    return Fixes(sha=sha.lower(), subject=subject, long_sha=len(sha) > USUAL_SHA_LEN, nonstandard=nonstandard)


@lru_cache(maxsize=16384)
def _trailer(name: str, raw_value: str) -> Trailer:
    """One trailer from its name and written value (cached: the same sign-offs
    and reviews recur on every patch of a series)."""
    value = raw_value
    if "mailto:" in value:
        value = _MAILTO_JUNK.sub("", value)
    value, extra = _split_extra(name, value)
    person = parse_person(value) if _is_people(name) else None
    return Trailer(name=name, value=value, extra=extra, person=person)


# b4 writes base-commit/change-id near the end of the mail, after the diff.
META_TAIL: Final = 4000
# The lines of b4's trailing block: base-commit and change-id first, then a
# line per prerequisite (`prerequisite-patch-id: <sha>`, dozens for a big
# dependency), so the block can begin well before the mail's last META_TAIL.
_META_LINES: Final = ("base-commit:", "change-id:", "prerequisite-")


def meta_tail_start(text: str) -> int:
    """Where to look for b4's metadata: the mail's last META_TAIL characters,
    widened back to the start of the trailing block when it begins earlier."""
    start = len(text) - META_TAIL
    if start <= 0:
        return 0
    ls = text.rfind("\n", 0, start) + 1
    while ls > 0 and text.startswith(_META_LINES, ls):
        ls = text.rfind("\n", 0, ls - 1) + 1
    return ls


def _meta_value(text: str, key: str, start: int) -> str | None:
    pos = text.find(key, start)
    while pos != -1:
        if pos == 0 or text[pos - 1] == "\n":
            line, _ = _line_at(text, pos, len(text))
            m = _META.match(line)
            if m:
                return m.group(2)
        pos = text.find(key, pos + 1)
    return None


def _meta(text: str, diff_at: int) -> tuple[str | None, str | None, tuple[str, ...]]:
    """base-commit, change-id and earlier-version links anywhere above the diff."""
    tail = meta_tail_start(text)
    base = _meta_value(text, "base-commit:", tail)
    change = _meta_value(text, "change-id:", tail)
    prev: list[str] = []
    for needle in (": http", "Supersedes:"):
        pos = text.find(needle, 0, diff_at)
        while pos != -1:
            ls = text.rfind("\n", 0, pos) + 1
            line, _ = _line_at(text, ls, len(text))
            m = _PREV.match(line)
            if m:
                link = m.group(1)
                if link not in prev and ("://" in link or "@" in link):
                    prev.append(link)
            pos = text.find(needle, pos + len(needle), diff_at)
    if len(prev) > 1:
        prev.sort(key=text.find)  # the order they were written in
    return base, change, tuple(prev)


def parse_trailers(text: str, reply: bool = False, scan: ReplyScan | None = None) -> TrailerBlock:
    """The trailers of a commit message (default) or of a reply body. Never raises.

    `scan`: the reply's `scan_reply(text)`, when the caller has it.
    """
    if not text:
        return EMPTY
    notes = ""  # between the commit message's `---` and the diff
    if reply:
        raws = _reply_trailers(text, scan.candidates if scan is not None else _reply_candidates(text))
        # links to earlier versions are a cover letter's business, not a reply's
        base: str | None = None
        change: str | None = None
        prev_links: tuple[str, ...] = ()
        if scan is None or scan.meta:  # (else no line holds them)
            base, change, prev_links = _meta(text, 0)
    else:
        region, diff_at = _commit_region(text)
        raws = _commit_trailers(region)
        base, change, prev_links = _meta(text, diff_at)
        notes = text[len(region) : diff_at]
    if not raws and base is None and change is None and not prev_links and "stable@" not in notes:
        return EMPTY

    trailers: list[Trailer] = []
    fixes: list[Fixes] = []
    deps: list[Fixes] = []
    warnings: list[str] = []
    stable = _StableAcc()
    for raw in raws:
        trailer = _trailer(raw.name, raw.value)
        if raw.note:
            trailer = trailer.model_copy(update={"note": raw.note})
        name, value = trailer.name, trailer.value
        if name not in _META_NAMES:  # git format-patch/b4 metadata, kept in its own fields
            trailers.append(trailer)
        if trailer.person is not None:
            if name == "Cc":
                stable.add(trailer)
        elif name == "Fixes" or name == "Stable-dep-of":
            fix = _parse_fix(value, name)
            if isinstance(fix, str):
                warnings.append(fix)
            elif name == "Fixes":
                fixes.append(fix)
            else:
                deps.append(fix)
        elif name == "base-commit" and base is None:
            base = value.split()[0] if value else None
        elif name == "change-id" and change is None:
            change = value.split()[0] if value else None
        elif name == "Supersedes" and value.strip("<>") and value.strip("<>") not in prev_links:
            prev_links = (*prev_links, value.strip("<>"))
    if notes and "stable" in notes:
        for line in notes.splitlines():
            parsed = _split_line(line, True) if line[:3].lower() == "cc:" else None
            if parsed and stable.add(_trailer(*parsed)):
                warnings.append("stable Cc below the --- line: the commit itself will not carry it")

    return TrailerBlock(
        trailers=tuple(trailers),
        fixes=tuple(fixes),
        stable=stable.tag(deps),
        change_id=change,
        base_commit=base,
        previous_versions=prev_links,
        warnings=tuple(warnings),
    )


@dataclass(slots=True, init=False)  # (init=False: see headers.RawHeaders)
class _StableAcc:
    """What the stable Cc trailers of one mail add up to."""

    tagged: bool
    noautosel: bool
    embargoed: bool
    versions: list[str]
    prereqs: list[str]

    def __init__(self) -> None:
        self.tagged = False
        self.noautosel = False
        self.embargoed = False
        self.versions = []
        self.prereqs = []

    def add(self, cc: Trailer) -> bool:
        """Take a Cc trailer into account; True when it names a stable address."""
        kind = _STABLE_ADDRS.get(cc.person.email.lower()) if cc.person and cc.person.email else None
        if kind == "noautosel":
            self.noautosel = True
        elif kind:
            self.tagged = True
            self.embargoed = self.embargoed or kind == "embargoed"
            if cc.extra and cc.extra.startswith("#"):
                _stable_hint(cc.extra[1:].strip(), self.versions, self.prereqs)
        return kind is not None

    def tag(self, deps: list[Fixes]) -> StableTag:
        if not (self.tagged or self.noautosel or deps):
            return _NO_STABLE
        return StableTag(
            tagged=self.tagged,
            versions=tuple(self.versions),
            prerequisites=tuple(self.prereqs),
            noautosel=self.noautosel,
            embargoed=self.embargoed,
            depends_on=tuple(deps),
        )


def _stable_hint(comment: str, versions: list[str], prereqs: list[str]) -> None:
    """`5.10.x`, `v6.1+`, `6.6.y and later`, `3.3.x: a1f84a3: sched: ...`."""
    if not comment:
        return
    m = _STABLE_PREREQ.match(comment)
    if m:
        if m.group(1):
            versions.append(m.group(1))
        prereqs.append(m.group(2).lower())
        return
    head = comment[1:] if comment[:1] in "vV" else comment
    if head[:1].isdigit():
        versions.append(comment)


def matches_sender(trailer: Trailer, sender: Person) -> bool:
    """A follow-up people trailer counts when it names its sender (address or name).

    This is b4's rule for trailers collected from replies: a reviewer may
    only speak for themselves, so `Reviewed-by: X <x@a>` sent by Y is ignored
    unless the address or the name matches Y's.
    """
    person = trailer.person
    if person is None:
        return True
    if person.email and sender.email and person.email.lower() == sender.email.lower():
        return True
    return bool(person.name and sender.name and person.name.lower() == sender.name.lower())
