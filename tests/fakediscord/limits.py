"""Discord's documented size limits, checked the way Discord reports them.

Each checker returns Discord's nested `errors` object (empty when valid); the
REST layer wraps a non-empty one in a 400 with code 50035 "Invalid Form Body".
"""

from __future__ import annotations

from typing import Any

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

Errors = dict[str, Any]


def field_error(code: str, message: str) -> Errors:
    return {"_errors": [{"code": code, "message": message}]}


def _too_long(limit: int) -> Errors:
    return field_error("BASE_TYPE_MAX_LENGTH", f"Must be {limit} or fewer in length.")


def _check_len(errors: Errors, key: str, value: Any, limit: int) -> None:
    if isinstance(value, str) and len(value) > limit:
        errors[key] = _too_long(limit)


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
    footer: Errors = {}
    _check_len(footer, "text", (embed.get("footer") or {}).get("text"), FOOTER_TEXT_MAX)
    if footer:
        errors["footer"] = footer
    author: Errors = {}
    _check_len(author, "name", (embed.get("author") or {}).get("name"), AUTHOR_NAME_MAX)
    if author:
        errors["author"] = author
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
