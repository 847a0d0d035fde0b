"""Discord's documented size limits, checked the way Discord reports them.

Each checker returns Discord's nested `errors` object (empty when valid); the
REST layer wraps a non-empty one in a 400 with code 50035 "Invalid Form Body".
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

CONTENT_MAX = 2000
NONCE_MAX = 25
EMBEDS_MAX = 10
EMBEDS_TOTAL_MAX = 6000
EMBED_TITLE_MAX = 256
EMBED_DESCRIPTION_MAX = 4096
EMBED_FIELDS_MAX = 25
FIELD_NAME_MAX = 256
FIELD_VALUE_MAX = 1024
FOOTER_TEXT_MAX = 2048
AUTHOR_NAME_MAX = 256
THREAD_NAME_MIN, THREAD_NAME_MAX = 1, 100
AUTO_ARCHIVE_DURATIONS = (60, 1440, 4320, 10080)
# Every URL in an embed: at most 2048 characters and a well-formed http(s) URL
# (image, thumbnail and icons may also be attachment://); Discord answers a 50035
# with BASE_TYPE_MAX_LENGTH or URL_TYPE_INVALID_URL otherwise (discord-facts.md,
# "Rules a lenient fake lets slip"; message.mdx: "url of author (only supports http(s))").
URL_MAX = 2048
URL_SCHEMES = ("http", "https")
# allowed_mentions (message.mdx, "Allowed Mentions Object"): parse types, at most
# 100 ids per list, and `parse` is "mutually exclusive with the other fields".
MENTION_TYPES = ("roles", "users", "everyone")
MENTION_IDS_MAX = 100

Errors = dict[str, Any]


def field_error(code: str, message: str) -> Errors:
    return {"_errors": [{"code": code, "message": message}]}


def _too_long(limit: int) -> Errors:
    return field_error("BASE_TYPE_MAX_LENGTH", f"Must be {limit} or fewer in length.")


def _check_len(errors: Errors, key: str, value: Any, limit: int) -> None:
    if isinstance(value, str) and len(value) > limit:
        errors[key] = _too_long(limit)


def url_error(url: Any, *, attachment: bool = False) -> Errors:
    """Discord's error for one embed URL (empty when it is acceptable)."""
    if not isinstance(url, str):
        return field_error("URL_TYPE_INVALID_URL", "Not a well formed URL.")
    if len(url) > URL_MAX:
        return _too_long(URL_MAX)
    if attachment and url.startswith("attachment://") and len(url) > len("attachment://"):
        return {}
    try:
        parts = urlsplit(url)
    except ValueError:
        return field_error("URL_TYPE_INVALID_URL", "Not a well formed URL.")
    if parts.scheme not in URL_SCHEMES:
        return field_error(
            "URL_TYPE_INVALID_SCHEME", f'Scheme "{parts.scheme}" is not supported. Scheme must be one of (\'http\', \'https\').'
        )
    if not parts.hostname or any(c.isspace() or ord(c) < 0x20 or ord(c) == 0x7F for c in url):
        return field_error("URL_TYPE_INVALID_URL", "Not a well formed URL.")
    return {}


def _check_url(errors: Errors, key: str, value: Any, *, attachment: bool = False) -> None:
    if value is not None and (e := url_error(value, attachment=attachment)):
        errors[key] = e


def embed_size(embed: dict[str, Any]) -> int:
    """Characters Discord counts towards the 6000 total."""
    size = len(embed.get("title") or "") + len(embed.get("description") or "")
    size += len((embed.get("footer") or {}).get("text") or "")
    size += len((embed.get("author") or {}).get("name") or "")
    for f in embed.get("fields") or []:
        size += len(f.get("name") or "") + len(f.get("value") or "")
    return size


def check_embed(embed: dict[str, Any]) -> Errors:
    errors: Errors = {}
    _check_len(errors, "title", embed.get("title"), EMBED_TITLE_MAX)
    _check_len(errors, "description", embed.get("description"), EMBED_DESCRIPTION_MAX)
    _check_url(errors, "url", embed.get("url"))
    footer: Errors = {}
    _check_len(footer, "text", (embed.get("footer") or {}).get("text"), FOOTER_TEXT_MAX)
    _check_url(footer, "icon_url", (embed.get("footer") or {}).get("icon_url"), attachment=True)
    if footer:
        errors["footer"] = footer
    author: Errors = {}
    _check_len(author, "name", (embed.get("author") or {}).get("name"), AUTHOR_NAME_MAX)
    _check_url(author, "url", (embed.get("author") or {}).get("url"))
    _check_url(author, "icon_url", (embed.get("author") or {}).get("icon_url"), attachment=True)
    if author:
        errors["author"] = author
    for key in ("image", "thumbnail"):
        part: Errors = {}
        _check_url(part, "url", (embed.get(key) or {}).get("url"), attachment=True)
        if part:
            errors[key] = part
    fields = embed.get("fields") or []
    if len(fields) > EMBED_FIELDS_MAX:
        errors["fields"] = _too_long(EMBED_FIELDS_MAX)
    else:
        field_errors: Errors = {}
        for i, f in enumerate(fields):
            one: Errors = {}
            for key, limit in (("name", FIELD_NAME_MAX), ("value", FIELD_VALUE_MAX)):
                value = f.get(key)
                if not value:
                    one[key] = field_error("BASE_TYPE_REQUIRED", "This field is required")
                else:
                    _check_len(one, key, value, limit)
            if one:
                field_errors[str(i)] = one
        if field_errors:
            errors["fields"] = field_errors
    return errors


def check_message(payload: dict[str, Any]) -> Errors:
    """Errors for a message create or edit payload."""
    errors: Errors = {}
    content = payload.get("content")
    if content is not None and not isinstance(content, str):
        errors["content"] = field_error("STRING_TYPE_CONVERT", "Could not interpret value as string.")
    else:
        _check_len(errors, "content", content, CONTENT_MAX)
    nonce = payload.get("nonce")
    if isinstance(nonce, str):
        _check_len(errors, "nonce", nonce, NONCE_MAX)
    if (mention_errors := check_allowed_mentions(payload.get("allowed_mentions"))):
        errors["allowed_mentions"] = mention_errors
    embeds = payload.get("embeds")
    if embeds:
        if len(embeds) > EMBEDS_MAX:
            errors["embeds"] = _too_long(EMBEDS_MAX)
        else:
            per_embed = {str(i): e for i, emb in enumerate(embeds) if (e := check_embed(emb))}
            if per_embed:
                errors["embeds"] = per_embed
            elif sum(embed_size(e) for e in embeds) > EMBEDS_TOTAL_MAX:
                errors["embeds"] = field_error(
                    "MAX_EMBED_SIZE_EXCEEDED", f"Embed size exceeds maximum size of {EMBEDS_TOTAL_MAX}"
                )
    return errors


def check_allowed_mentions(allowed: Any) -> Errors:
    if allowed is None:
        return {}
    if not isinstance(allowed, dict):
        return field_error("DICT_TYPE_CONVERT", "Only dictionaries may be used in a DictType")
    errors: Errors = {}
    parse = allowed.get("parse") or []
    bad = {str(i): field_error("BASE_TYPE_CHOICES", f"Value must be one of {MENTION_TYPES}.")
           for i, kind in enumerate(parse) if kind not in MENTION_TYPES}
    if bad:
        errors["parse"] = bad
    for kind in ("users", "roles"):
        ids = allowed.get(kind) or []
        if len(ids) > MENTION_IDS_MAX:
            errors[kind] = _too_long(MENTION_IDS_MAX)
        elif ids and kind in parse:
            errors["parse"] = field_error(
                "MESSAGE_ALLOWED_MENTIONS_PARSE_EXCLUSIVE",
                f'parse:["{kind}"] and {kind}: [ids] are mutually exclusive.',
            )
    return errors


def is_empty_message(payload: dict[str, Any]) -> bool:
    """Discord refuses (50006) a message with neither content, embeds, stickers nor components."""
    return not any(payload.get(key) for key in ("content", "embeds", "sticker_ids", "components"))


def check_thread(payload: dict[str, Any], *, partial: bool = False) -> Errors:
    """Errors for a thread create (or, with partial=True, a thread PATCH) payload."""
    errors: Errors = {}
    name = payload.get("name")
    if name is None and not partial:
        errors["name"] = field_error("BASE_TYPE_REQUIRED", "This field is required")
    elif name is not None and not (THREAD_NAME_MIN <= len(str(name)) <= THREAD_NAME_MAX):
        errors["name"] = field_error(
            "BASE_TYPE_BAD_LENGTH", f"Must be between {THREAD_NAME_MIN} and {THREAD_NAME_MAX} in length."
        )
    duration = payload.get("auto_archive_duration")
    if duration is not None and duration not in AUTO_ARCHIVE_DURATIONS:
        choices = ", ".join(str(d) for d in AUTO_ARCHIVE_DURATIONS)
        errors["auto_archive_duration"] = field_error("BASE_TYPE_CHOICES", f"Value must be one of {{{choices}}}.")
    return errors
