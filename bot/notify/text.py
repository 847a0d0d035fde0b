"""Escaping and length-safe text for Discord, pure.

Every string that comes from mail (subjects, names, file paths) goes through
`fit`, which escapes markdown and mentions and truncates the *source* text
before escaping, so a cut never leaves half an escape, half a link or an
unbalanced marker behind. Composite texts are built from whole lines
(`join_fitting`) so a link is either present or absent, never cut.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from discord.utils import escape_markdown, escape_mentions

ELLIPSIS = "…"
_SPACE = re.compile(r"\s+")


def one_line(text: str) -> str:
    """Collapse newlines and runs of whitespace: mail fields render on one line."""
    return _SPACE.sub(" ", text).strip()


def escape(text: str) -> str:
    """Markdown and mentions made inert (`@everyone` gets a zero-width space)."""
    return escape_mentions(escape_markdown(one_line(text)))


def fit(text: str, limit: int) -> str:
    """`text` escaped, at most `limit` characters; cut at a word boundary with "…"."""
    if limit <= 0:
        return ""
    out = escape(text)
    if len(out) <= limit:
        return out
    if limit <= len(ELLIPSIS):
        return ELLIPSIS[:limit]
    raw = one_line(text)
    # Largest source prefix whose escaped form plus "…" fits (escaping only grows text).
    lo, hi = 0, len(raw)
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if len(escape(raw[:mid]).rstrip("\\") + ELLIPSIS) <= limit:
            lo = mid
        else:
            hi = mid - 1
    cut = raw[:lo]
    space = cut.rfind(" ")
    if space >= lo * 2 // 3:  # prefer a word boundary when it costs little
        cut = cut[:space]
    # A trailing backslash would escape the ellipsis: drop it.
    return escape(cut).rstrip().rstrip("\\") + ELLIPSIS


def link(label: str, url: str | None, limit: int) -> str:
    """A markdown link whose label is escaped and cut to fit; the URL is never cut.

    With no room for even a one-character label, the bare URL in angle brackets
    (no embed preview) if that fits, else the label alone; with no URL, the label.
    """
    if url is None:
        return fit(label, limit)
    room = limit - len(url) - 4  # "[", "](", ")"
    if room >= 2:
        return f"[{fit(label, room)}]({url})"
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


def shorten_plain(text: str, limit: int) -> str:
    """Plain (unrendered) text such as a thread name: one line, cut with "…"."""
    text = one_line(text)
    if len(text) <= limit:
        return text
    cut = text[: limit - len(ELLIPSIS)]
    space = cut.rfind(" ")
    if space >= len(cut) * 2 // 3:
        cut = cut[:space]
    return cut.rstrip() + ELLIPSIS
