"""A model of what Discord's markdown makes live in a text, for tests.

Discord's parser (simple-markdown, like CommonMark) takes a backslash before
ASCII punctuation as that character, literally, and shows code spans
verbatim. `live(text)` masks both, so what is left is what Discord parses;
the finders below name the constructs a message must not get from mail:
links (masked, bare, <...>), every angle-bracket form (mentions, channels,
commands, timestamps, custom emoji), @everyone/@here, emphasis, spoilers,
code, headings, lists and quotes.
"""

from __future__ import annotations

import re

MASK = "\x00"
_ESCAPE = re.compile(r"\\([!-/:-@\[-`{-~])")
URL = re.compile(r"https?://[^\s<>()\x00]+")
MASKED_LINK = re.compile(r"\[[^\[\]]*\]\(([^()\s]*)\)")
ANGLE = re.compile(r"<(?:@[!&]?\d|#\d|/[\w -]+:\d|t:-?\d|a?:\w+:\d|id:|https?:)")
EVERYONE = re.compile(r"@(?:everyone|here)\b")
INLINE = re.compile(r"\*|_|~~|\|\||`")
LINE_START = re.compile(r"^(?:#{1,3} |-# |> |>>> |[-*+] |\d+[.)] )", re.M)


def unescape(text: str) -> str:
    return _ESCAPE.sub(r"\1", text)


def live(text: str) -> str:
    """`text` with escaped characters and code spans replaced by MASK, length kept."""
    out: list[str] = []
    i = 0
    while i < len(text):
        c = text[i]
        if c == "\\" and _ESCAPE.match(text, i):
            out.append(MASK * 2)
            i += 2
        elif c == "`" and (end := text.find("`", i + 1)) != -1:
            out.append(MASK * (end - i + 1))  # a code span: nothing inside is parsed
            i = end + 1
        else:
            out.append(c)
            i += 1
    return "".join(out)


def links(text: str) -> list[str]:
    """Every URL Discord would link: masked link targets, <url>, bare URLs."""
    found = live(text)
    urls = [m.group(1) for m in MASKED_LINK.finditer(found)] + URL.findall(found)
    return list(dict.fromkeys(urls))  # a masked link's target is a bare URL too


def markup(text: str) -> list[str]:
    """Every live construct in `text` (empty for text that renders literally)."""
    found = live(text)
    return [
        m.group(0)
        for pattern in (MASKED_LINK, URL, ANGLE, EVERYONE, INLINE, LINE_START)
        for m in pattern.finditer(found)
    ]
