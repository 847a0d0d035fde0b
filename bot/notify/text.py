"""Escaping and length-safe text for Discord, pure.

Every string that comes from mail (subjects, names, file paths) goes through
`fit`, which escapes markdown and mentions and truncates the *source* text
before escaping, so a cut never leaves half an escape, half a link or an
unbalanced marker behind. Composite texts are built from whole lines
(`join_fitting`) so a link is either present or absent, never cut.

Our own escaping, not discord.py's: `escape_markdown` escapes only the first
`[` of a `[text](url)` span and nothing of `<#channel>`, `</cmd:id>`,
`<t:...>` or `<:emoji:id>` (discord-facts.md), so a subject like
``fix](https://evil.example) (stable`` turned a role-pinging alert into a link
elsewhere. Discord's markdown takes a backslash before any ASCII punctuation
as "this character, literally", so escaping is a backslash before each
character that could start something (`escape`), and removing those
backslashes gives the text back (`unescape`).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable

ELLIPSIS = "…"
_SPACE = re.compile(r"\s+")
# Meaningful anywhere in a line: emphasis (* _), strike (~), code (`), spoilers
# (|), masked links (a target needs its "(": brackets alone are literal, and
# `link` escapes them in its labels), quotes and every angle-bracket form (<#c>
# <@u> <@&r> </cmd:id> <t:..> <:e:id> <a:e:id> <https://..>), and the escape itself.
_ANYWHERE = frozenset("\\*_~`|()<>")
_LABEL = frozenset("[]")
# Meaningful at the start of a line: headings (#), subtext (-#), lists (- + 1.).
_LINE_START = frozenset("#-+")
_ORDERED = re.compile(r"\d+\.(?=\s)")
# Discord links bare URLs by their scheme; it never pings these once escaped.
_EVERYONE = re.compile(r"@(?:everyone|here)")
# A backslash before ASCII punctuation is Discord's escape (as in CommonMark).
_ESCAPED = re.compile(r"\\([!-/:-@\[-`{-~])")


def one_line(text: str) -> str:
    """Collapse newlines and runs of whitespace: mail fields render on one line."""
    return _SPACE.sub(" ", text).strip()


def escape(text: str, *, label: bool = False) -> str:
    """`text` on one line with every piece of markup made literal: emphasis,
    code, spoilers, links (masked, bare and <...>), mentions of every kind,
    timestamps, custom emoji, headings, lists and quotes. `label`: the text
    goes inside a masked link's [...], so its brackets are escaped too."""
    s = one_line(text)
    out: list[str] = []
    ordered = _ORDERED.match(s)
    for i, c in enumerate(s):
        if (
            c in _ANYWHERE
            or (label and c in _LABEL)
            or (i == 0 and c in _LINE_START)
            or (ordered is not None and i == ordered.end() - 1)
            or (c == ":" and s.startswith("//", i + 1))
            or (c == "@" and _EVERYONE.match(s, i))
        ):
            out.append("\\")
        out.append(c)
    return "".join(out)


def unescape(text: str) -> str:
    """What Discord shows of escaped text: `unescape(escape(t)) == one_line(t)`."""
    return _ESCAPED.sub(r"\1", text)


def fit(text: str, limit: int, *, label: bool = False) -> str:
    """`text` escaped, at most `limit` characters; cut at a word boundary with "…"."""
    if limit <= 0:
        return ""
    out = escape(text, label=label)
    if len(out) <= limit:
        return out
    if limit <= len(ELLIPSIS):
        return ELLIPSIS[:limit]
    raw = one_line(text)
    # Largest source prefix whose escaped form plus "…" fits (escaping only grows text).
    lo, hi = 0, len(raw)
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if len(escape(raw[:mid], label=label).rstrip("\\") + ELLIPSIS) <= limit:
            lo = mid
        else:
            hi = mid - 1
    cut = raw[:lo]
    space = cut.rfind(" ")
    if space >= lo * 2 // 3:  # prefer a word boundary when it costs little
        cut = cut[:space]
    # A trailing backslash would escape the ellipsis: drop it.
    return escape(cut, label=label).rstrip().rstrip("\\") + ELLIPSIS


def link(label: str, url: str | None, limit: int) -> str:
    """A markdown link whose label is escaped and cut to fit; the URL is never cut.

    With no room for even a one-character label, the bare URL in angle brackets
    (no embed preview) if that fits, else the label alone; with no URL, the label.
    """
    if url is None:
        return fit(label, limit)
    room = limit - len(url) - 4  # "[", "](", ")"
    if room >= 2:
        return f"[{fit(label, room, label=True)}]({url})"
    bare = f"<{url}>"
    return bare if len(bare) <= limit else fit(label, limit)


def join_fitting(lines: Iterable[str], limit: int, sep: str = "\n") -> str:
    """Whole lines joined while they fit; a final "…" line says some were left out."""
    out: list[str] = []
    used = 0
    items = [line for line in lines if line]
    for i, line in enumerate(items):
        extra = len(line) + (len(sep) if out else 0)
        last = i == len(items) - 1
        # Keep room for the ellipsis marker unless this is the last line.
        reserve = 0 if last else len(sep) + len(ELLIPSIS)
        if used + extra + reserve > limit:
            if used + (len(sep) if out else 0) + len(ELLIPSIS) <= limit:
                out.append(ELLIPSIS)
            break
        out.append(line)
        used += extra
    return sep.join(out)


def plain(text: str) -> str:
    """Text Discord shows as is (a thread or channel name renders no markdown):
    one line, without control or invisible format characters."""
    return one_line("".join(c for c in text if unicodedata.category(c) not in ("Cc", "Cf")))


def shorten_plain(text: str, limit: int) -> str:
    """Plain (unrendered) text such as a thread name: one line, cut with "…"."""
    text = plain(text)
    if len(text) <= limit:
        return text
    cut = text[: limit - len(ELLIPSIS)]
    space = cut.rfind(" ")
    if space >= len(cut) * 2 // 3:
        cut = cut[:space]
    return cut.rstrip() + ELLIPSIS
