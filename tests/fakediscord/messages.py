"""Message routes: create (with limits, replies, nonces), read, edit, delete, history."""

from __future__ import annotations

import time
from typing import Any

from aiohttp import web

from . import components, limits, payloads
from .rest import API_PREFIX, Api, ApiError, Upload, invalid_form, json_response, no_content, read_body
from .state import Attachment, Channel, Message, iso_now

GUILD_MESSAGES = 1 << 9  # gateway intent for MESSAGE_* events
EPHEMERAL = 1 << 6
LOADING = 1 << 7
NONCE_WINDOW = 300.0  # Discord dedupes enforce_nonce sends for a few minutes


def validate_message(payload: dict[str, Any], *, partial: bool = False, uploads: list[Upload] | None = None) -> None:
    errors = limits.check_message(payload)
    if (component_errors := components.message_components_errors(payload.get("components"), int(payload.get("flags") or 0))):
        errors["components"] = component_errors
    if errors:
        raise invalid_form(errors)
    if not partial and not uploads and limits.is_empty_message(payload):
        raise ApiError(400, 50006, "Cannot send an empty message")


def _attachments(api: Api, uploads: list[Upload]) -> list[Attachment]:
    return [Attachment(api.state.snowflakes.next(), u.filename, u.content_type, u.data) for u in uploads]


def _unarchive_for_post(api: Api, channel: Channel) -> None:
    """Posting in an archived thread unarchives it; a locked one refuses (50083)."""
    if not channel.is_thread or not channel.archived:
        return
    if channel.locked:
        raise ApiError(400, 50083, "Thread is archived")
    channel.archived = False
    channel.archive_timestamp = iso_now()
    api.dispatch("THREAD_UPDATE", payloads.thread(api.state, channel), intent=1)


def create_message(
    api: Api,
    channel: Channel,
    payload: dict[str, Any],
    *,
    interaction_id: int | None = None,
    interaction_type: int | None = None,
    interaction_user_id: int | None = None,
    webhook_id: int | None = None,
    flags: int = 0,
    uploads: list[Upload] | None = None,
) -> Message:
    """Validate, store and announce (MESSAGE_CREATE) one message."""
    state = api.state
    validate_message(payload, uploads=uploads)
    reference = payload.get("message_reference")
    if reference:
        target = state.messages_by_id.get(int(reference.get("message_id") or 0))
        if (target is None or target.deleted) and reference.get("fail_if_not_exists", True):
            error = limits.field_error("MESSAGE_REFERENCE_UNKNOWN_MESSAGE", "Unknown message")
            raise invalid_form({"message_reference": error})
        reference = {
            "type": reference.get("type", 0),
            "message_id": str(reference.get("message_id")),
            "channel_id": str(reference.get("channel_id") or channel.id),
            "guild_id": str(state.guild_id),
        }
    _unarchive_for_post(api, channel)
    msg = Message(
        id=state.snowflakes.next(),
        channel_id=channel.id,
        guild_id=state.guild_id,
        author_id=state.bot_id,
        content=payload.get("content") or "",
        embeds=list(payload.get("embeds") or []),
        allowed_mentions=payload.get("allowed_mentions"),
        message_reference=reference or None,
        attachments=_attachments(api, uploads or []),
        components=list(payload.get("components") or []),
        flags=flags | (int(payload.get("flags") or 0) & EPHEMERAL),
        interaction_id=interaction_id,
        interaction_type=interaction_type,
        interaction_user_id=interaction_user_id,
        webhook_id=webhook_id,
    )
    state.messages.append(msg)
    state.messages_by_id[msg.id] = msg
    channel.last_message_id = msg.id
    if channel.is_thread:
        channel.message_count += 1
    if not msg.flags & EPHEMERAL:  # ephemeral messages never reach the gateway
        api.dispatch("MESSAGE_CREATE", payloads.message(state, msg), intent=GUILD_MESSAGES)
    state.changed()
    return msg


def edit_message(api: Api, msg: Message, payload: dict[str, Any], uploads: list[Upload] | None = None) -> Message:
    validate_message(payload, partial=True)
    if "attachments" in payload:  # the list names the attachments to keep
        keep = {str(a.get("id")) for a in payload["attachments"] or []}
        msg.attachments = [a for a in msg.attachments if str(a.id) in keep]
    msg.attachments += _attachments(api, uploads or [])
    if "content" in payload:
        msg.content = payload["content"] or ""
    if "embeds" in payload:
        msg.embeds = list(payload["embeds"] or [])
    if "components" in payload:
        msg.components = list(payload["components"] or [])
    if "allowed_mentions" in payload:
        msg.allowed_mentions = payload["allowed_mentions"]
    if not (msg.content or msg.embeds or msg.attachments or msg.components):
        raise ApiError(400, 50006, "Cannot send an empty message")
    msg.flags &= ~LOADING  # editing a deferred answer replaces the "thinking" state
    msg.edits += 1
    msg.edited_timestamp = iso_now()
    if not msg.flags & EPHEMERAL:
        api.dispatch("MESSAGE_UPDATE", payloads.message(api.state, msg), intent=GUILD_MESSAGES)
    api.state.changed()
    return msg


def delete_message(api: Api, msg: Message) -> None:
    msg.deleted = True
    data = {"id": str(msg.id), "channel_id": str(msg.channel_id), "guild_id": str(api.state.guild_id)}
    api.dispatch("MESSAGE_DELETE", data, intent=GUILD_MESSAGES)
    api.state.changed()


class _Nonces:
    """Recent (author, nonce) -> message id: Discord's enforce_nonce de-duplication,
    documented as per author over "the past few minutes" (not per channel)."""

    def __init__(self) -> None:
        self.seen: dict[tuple[int, str], tuple[int, float]] = {}

    def lookup(self, author_id: int, nonce: str) -> int | None:
        found = self.seen.get((author_id, nonce))
        if found is None or time.monotonic() - found[1] > NONCE_WINDOW:
            return None
        return found[0]

    def remember(self, author_id: int, nonce: str, message_id: int) -> None:
        self.seen[(author_id, nonce)] = (message_id, time.monotonic())


def register(router: web.UrlDispatcher, api: Api) -> None:
    state = api.state
    nonces = _Nonces()
    base = API_PREFIX + "/channels/{channel_id}/messages"

    async def post(request: web.Request) -> web.Response:
        channel = api.writable_channel(request.match_info["channel_id"])
        payload, uploads = await read_body(request)
        nonce = payload.get("nonce")
        enforced = nonce is not None and bool(payload.get("enforce_nonce"))
        if enforced:
            existing = nonces.lookup(state.bot_id, str(nonce))
            if existing is not None:
                return json_response(payloads.message(state, state.messages_by_id[existing]))
        msg = create_message(api, channel, payload, uploads=uploads)
        if enforced:
            nonces.remember(state.bot_id, str(nonce), msg.id)
        return json_response(payloads.message(state, msg))

    async def history(request: web.Request) -> web.Response:
        channel = api.channel(request.match_info["channel_id"])
        limit = max(1, min(100, int(request.query.get("limit", "50"))))
        found = [m for m in state.channel_messages(channel.id) if not m.flags & EPHEMERAL]
        if "before" in request.query:
            found = [m for m in found if m.id < int(request.query["before"])]
        if "after" in request.query:
            found = [m for m in found if m.id > int(request.query["after"])][:limit]
        else:
            found = found[-limit:]
        return json_response([payloads.message(state, m) for m in reversed(found)])

    async def get_one(request: web.Request) -> web.Response:
        channel = api.channel(request.match_info["channel_id"])
        msg = api.message(channel, request.match_info["message_id"])
        return json_response(payloads.message(state, msg))

    async def patch(request: web.Request) -> web.Response:
        channel = api.writable_channel(request.match_info["channel_id"])
        msg = api.message(channel, request.match_info["message_id"])
        edit_message(api, msg, *(await read_body(request)))
        return json_response(payloads.message(state, msg))

    async def delete(request: web.Request) -> web.Response:
        channel = api.writable_channel(request.match_info["channel_id"])
        delete_message(api, api.message(channel, request.match_info["message_id"]))
        return no_content()

    async def typing(request: web.Request) -> web.Response:
        api.writable_channel(request.match_info["channel_id"])
        return no_content()

    router.add_post(base, post)
    router.add_get(base, history)
    router.add_get(base + "/{message_id}", get_one)
    router.add_patch(base + "/{message_id}", patch)
    router.add_delete(base + "/{message_id}", delete)
    router.add_post(API_PREFIX + "/channels/{channel_id}/typing", typing)
