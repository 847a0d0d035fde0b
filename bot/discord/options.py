"""Slash-command options checked and turned into typed values. Pure.

Discord checks an option's type, choices and declared length in the client,
but a bot must not trust that (other clients, and the API itself, take any
string), so every value is checked here again. A refusal is a `UsageError`
whose message says what was wrong and what to write instead; the commands
answer it ephemerally.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from urllib.parse import unquote, urlsplit

from bot.store.words import title_words

TEXT_MAX = 100  # a search, an author, title words
PATTERN_MAX = 100  # one subsystem pattern or path glob
PATTERNS_MAX = 10  # per option, comma-separated
WILDCARDS_MAX = 8  # per pattern: bounded matching work
WORDS_MAX = 8
REF_MAX = 500
_HEX = re.compile(r"[0-9a-f]{7,40}")
_DOMAIN = re.compile(r"@[a-z0-9-]+(\.[a-z0-9-]+)+")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_MESSAGE_ID = re.compile(r"<?([^<>\s]{1,400}@[^<>\s]{1,200})>?")
_LORE_HOSTS = ("lore.kernel.org", "lkml.kernel.org", "patch.msgid.link")
_SPAN = re.compile(r"(\d{1,4})\s*([hdw])")
_SPAN_UNITS = {"h": timedelta(hours=1), "d": timedelta(days=1), "w": timedelta(weeks=1)}


class UsageError(ValueError):
    """An option a command cannot use; the message tells the user what to do."""


def _clean(value: str, option: str, limit: int = TEXT_MAX) -> str:
    text = value.strip()
    if _CONTROL.search(text):
        raise UsageError(f"`{option}` cannot hold control characters (tabs, new lines).")
    if len(text) > limit:
        raise UsageError(f"`{option}` is {len(text)} characters long; keep it to {limit}.")
    return text


def commit(value: str) -> str:
    """A commit id: 7 to 40 hex digits, lowercased."""
    text = value.strip().lower()
    if not _HEX.fullmatch(text):
        raise UsageError(
            "`commit` must be 7 to 40 hexadecimal digits, the way a Fixes: tag writes it "
            "(e.g. `1b03d82ba15e`)."
        )
    return text


def words(value: str, option: str) -> tuple[str, ...]:
    """Search or title words: at least one word of letters or digits, at most eight."""
    text = _clean(value, option)
    found = title_words(text)
    if not found:
        raise UsageError(f"`{option}` needs at least one word of letters or digits (e.g. `pir harvesting`).")
    if len(found) > WORDS_MAX:
        raise UsageError(f"`{option}` has {len(found)} words; {WORDS_MAX} narrow a search enough.")
    return found


def author(value: str) -> str:
    """A name, part of an address, or `@domain`."""
    text = _clean(value, "author")
    if len(text) < 2:
        raise UsageError("`author` needs at least two characters: a name, an address, or `@domain`.")
    if text.startswith("@") and not _DOMAIN.fullmatch(text.lower()):
        raise UsageError("`author` starting with @ is a domain: write it whole, e.g. `@redhat.com`.")
    return text


def _patterns(value: str, option: str) -> list[str]:
    text = _clean(value, option, PATTERN_MAX * PATTERNS_MAX)
    items = [p.strip() for p in text.split(",") if p.strip()]
    if not items:
        raise UsageError(f"`{option}` is empty: give one or more, separated by commas.")
    if len(items) > PATTERNS_MAX:
        raise UsageError(f"`{option}` has {len(items)} entries; at most {PATTERNS_MAX}.")
    for item in items:
        if len(item) > PATTERN_MAX:
            raise UsageError(f"`{option}`: “{item[:40]}…” is over {PATTERN_MAX} characters.")
        if item.count("*") + item.count("?") > WILDCARDS_MAX:
            raise UsageError(f"`{option}`: “{item[:40]}” has more than {WILDCARDS_MAX} wildcards.")
    return items


def subsystems(value: str) -> list[str]:
    """Subsystem prefixes ("KVM: x86") or globs with * and ? ("KVM: *VMX*"), comma-separated."""
    items = _patterns(value, "subsystem")
    for item in items:
        if "[" in item or "]" in item:
            raise UsageError("`subsystem` takes prefixes like `KVM: x86` and globs with `*` and `?` only.")
    return items


def paths(value: str) -> list[str]:
    """File globs relative to the kernel tree ("arch/x86/kvm/*"), comma-separated."""
    items = _patterns(value, "path")
    for item in items:
        if item.startswith("/") or ".." in item.split("/"):
            raise UsageError("`path` globs are relative to the kernel tree, e.g. `arch/x86/kvm/*` or `virt/kvm/`.")
        if item.count("[") != item.count("]"):
            raise UsageError(f"`path`: “{item[:40]}” opens a [ it does not close.")
    return items


@dataclass(frozen=True)
class SeriesRef:
    """What `series:` named: a series number, or a Message-ID (a cover, a patch, a reply)."""

    series_id: int | None = None
    message_id: str | None = None


def series_ref(value: str) -> SeriesRef:
    """`123` or `#123`, a Message-ID with or without <>, or a lore link to a message."""
    text = _clean(value, "series", REF_MAX)
    number = text.lstrip("#")
    if number.isdigit() and len(number) < 10:
        return SeriesRef(series_id=int(number))
    if text.startswith(("https://", "http://")):
        url = urlsplit(text)
        parts = [unquote(p) for p in url.path.split("/") if p]
        if url.hostname in _LORE_HOSTS:
            for part in parts:
                if "@" in part and _MESSAGE_ID.fullmatch(part):
                    return SeriesRef(message_id=part.strip("<>"))
        raise UsageError("`series`: that link names no message; a lore link looks like "
                         "`https://lore.kernel.org/kvm/<message-id>/`.")
    found = _MESSAGE_ID.fullmatch(text)
    if found:
        return SeriesRef(message_id=found.group(1))
    raise UsageError("`series` takes a series number (`#123`, from /series search), a Message-ID "
                     "(`<20250315030630.2371712-1-seanjc@google.com>`) or a lore link.")


def moment(value: str, option: str, now: datetime) -> datetime:
    """A date (2025-03-10, UTC midnight), a date and time (2025-03-10T08:00[+02:00], UTC
    unless an offset is given), or a span back from now (12h, 7d, 2w)."""
    text = _clean(value, option, 40).lower()
    span = _SPAN.fullmatch(text)
    if span:
        return now - int(span.group(1)) * _SPAN_UNITS[span.group(2)]
    try:
        when = datetime.fromisoformat(text.upper() if "t" in text else text)
    except ValueError:
        raise UsageError(
            f"`{option}` must be a date (`2025-03-10`), a date and time (`2025-03-10T08:00`), "
            "or a span back from now (`12h`, `7d`, `2w`)."
        ) from None
    return when if when.tzinfo is not None else when.replace(tzinfo=timezone.utc)


def window(
    since: str | None, until: str | None, now: datetime, *, default_days: int, max_days: int, command: str,
    until_option: bool = True,
) -> tuple[datetime, datetime]:
    """`since` (default: `default_days` back) to `until` (default: now), at most `max_days` long."""
    start = moment(since, "since", now) if since else now - timedelta(days=default_days)
    end = moment(until, "until", now) if until else now
    if start >= end:
        raise UsageError(f"{command}: `since` must come before `until`.")
    if end - start > timedelta(days=max_days):
        narrow = "a later `since` or an earlier `until`" if until_option else "a later `since`"
        raise UsageError(f"{command} covers at most {max_days} days at a time: give {narrow}.")
    return start, end
