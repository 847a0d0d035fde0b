"""Links Discord accepts in an embed. Pure.

Every URL in an embed (its url, author and footer icons, images) is at most
2048 characters and a well-formed http(s) URL, or Discord refuses the whole
message with a 50035 (BASE_TYPE_MAX_LENGTH, URL_TYPE_INVALID_URL:
discord-facts.md). A lore link is built from a Message-ID, which may legally be
almost 1000 characters before percent-encoding triples some of them: such a
link is left out (or replaced by a shorter one), never sent.
"""

from __future__ import annotations

from urllib.parse import urlsplit

URL_MAX = 2048


def bounded(url: str | None) -> str | None:
    """`url` if Discord would take it in an embed, else None."""
    if not url or len(url) > URL_MAX:
        return None
    if any(c.isspace() or ord(c) < 0x20 or ord(c) == 0x7F for c in url):
        return None
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    return url if parts.scheme in ("http", "https") and parts.hostname else None


def first_bounded(*urls: str | None) -> str | None:
    """The first of `urls` Discord would take (the long form first, then shorter ones)."""
    return next((u for u in map(bounded, urls) if u is not None), None)
