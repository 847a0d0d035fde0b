"""Message routes: create (with limits, replies, nonces), read, edit, delete, history.

Rules kept here, each from discord-api-docs developers/resources/message.mdx
unless said otherwise:
* create needs SEND_MESSAGES in a channel, SEND_MESSAGES_IN_THREADS in a thread
  (permissions.mdx), and READ_MESSAGE_HISTORY for a reply ("When creating a
  message as a reply to another message, the current user must have the
  READ_MESSAGE_HISTORY permission");
* embeds need EMBED_LINKS: without it a message of embeds alone is refused
  with 403 Missing Permissions, and a message with content is posted with its
  embeds silently dropped (discord-api-docs issues #2601 and #5648, which
  report both behaviours of the live API);
* reading history needs VIEW_CHANNEL; without READ_MESSAGE_HISTORY "no messages
  will be returned";
* only the author may edit content and embeds (50005 "Cannot edit a message
  authored by another user", opcodes-and-status-codes.mdx);
* messages of an archived thread cannot be edited (threads.mdx: "Users cannot
  edit messages ... in archived threads"; 50083); posting unarchives an archived
  thread unless it is locked, and not past the active-thread limit (160006);
* edits of messages older than an hour have their own limit (30046);
* deleting: "If operating on a guild channel and trying to delete a message
  that was not sent by the current user, this endpoint requires the
  MANAGE_MESSAGES permission. Returns a 204 empty response on success. Fires
  a Message Delete Gateway event" (Delete Message); an unknown or deleted
  message is 10008, an unknown channel 10003. In an archived thread deleting
  is allowed ("The only operation that should happen within an archived
  thread is messages being deleted", threads.mdx "Active & Archived
  Threads"), but in a locked one only while it is active, without
  MANAGE_THREADS (threads.mdx, "deleting messages ... will only be allowed in
  locked threads if that thread is also active"): 50083;
* enforce_nonce returns the message created with that nonce in the window, and
  "Unknown Message" once it was deleted (discord-api-docs PR #6647, by the
  author of enforce_nonce); the nonce is not stored with the message, so reads
  never return it (discord.py issue #2451);
* a refused request changes nothing: every check runs before any change.
"""

from __future__ import annotations

from collections import deque
from typing import Any

from aiohttp import web

from . import components, limits, payloads, permissions
from .mentions import resolve
from .rest import API_PREFIX, Api, ApiError, Upload, invalid_form, json_response, no_content, read_body
from .state import Attachment, Channel, Message

GUILD_MESSAGES = 1 << 9  # gateway intent for MESSAGE_* events
EPHEMERAL = 1 << 6
LOADING = 1 << 7
NONCE_WINDOW = 300.0  # the default of Knobs.nonce_window


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


def check_unarchive(api: Api, thread: Channel) -> None:
    """Whether an archived thread may become active again (raises if not)."""
    if thread.locked and not permissions.in_channel(api.state, thread) & permissions.MANAGE_THREADS:
        raise ApiError(400, 50083, "Thread is archived")
    if api.state.active_threads() >= api.state.max_active_threads:
        raise ApiError(400, 160006, "Maximum number of active threads reached")


def unarchive(api: Api, thread: Channel) -> None:
    thread.archived = False
    thread.archive_timestamp = api.state.clock.iso()
    thread.last_activity = api.state.clock.time()
    api.dispatch("THREAD_UPDATE", payloads.thread(api.state, thread), intent=1)


def _mentions(api: Api, channel: Channel, msg: Message, default_parse: tuple[str, ...] | None) -> None:
    allowed = msg.allowed_mentions
    if allowed is None and default_parse is not None:
        allowed = {"parse": list(default_parse)}
    found = resolve(api.state, msg.content, allowed, permissions.in_channel(api.state, channel))
    msg.mention_users, msg.mention_roles, msg.mention_everyone = found.users, found.roles, found.everyone


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
    # Interactions and webhooks parse only user mentions by default (message.mdx,
    # "Default Settings for Allowed Mentions").
    default_parse = ("users",) if (interaction_id is not None or webhook_id is not None) else None
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
            "guild_id": str(channel.guild_id),
        }
    reopen = channel.is_thread and channel.archived
    if reopen:
        check_unarchive(api, channel)
    msg = Message(
        id=state.snowflakes.next(),
        channel_id=channel.id,
        guild_id=channel.guild_id,
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
        timestamp=state.clock.iso(),
        created=state.clock.time(),
    )
    _mentions(api, channel, msg, default_parse)
    if reopen:
        unarchive(api, channel)
    state.messages.append(msg)
    state.messages_by_id[msg.id] = msg
    channel.last_message_id = msg.id
    if channel.is_thread:
        channel.message_count += 1
        channel.last_activity = state.clock.time()
    if not msg.flags & EPHEMERAL:  # ephemeral messages never reach the gateway
        event = payloads.message(state, msg)
        if payload.get("nonce") is not None:
            event["nonce"] = payload["nonce"]  # "Value will appear in the Message Create event"
        api.dispatch("MESSAGE_CREATE", event, intent=GUILD_MESSAGES)
    state.changed()
    return msg


def edit_message(api: Api, msg: Message, payload: dict[str, Any], uploads: list[Upload] | None = None) -> Message:
    """Validate the whole edit, then apply it (a refused edit leaves the message as it was)."""
    validate_message(payload, partial=True)
    attachments = msg.attachments
    if "attachments" in payload:  # the list names the attachments to keep
        keep = {str(a.get("id")) for a in payload["attachments"] or []}
        attachments = [a for a in attachments if str(a.id) in keep]
    content = (payload["content"] or "") if "content" in payload else msg.content
    embeds = list(payload["embeds"] or []) if "embeds" in payload else msg.embeds
    comps = list(payload["components"] or []) if "components" in payload else msg.components
    if not (content or embeds or attachments or uploads or comps):
        raise ApiError(400, 50006, "Cannot send an empty message")
    msg.attachments = attachments + _attachments(api, uploads or [])
    msg.content, msg.embeds, msg.components = content, embeds, comps
    if "allowed_mentions" in payload:
        msg.allowed_mentions = payload["allowed_mentions"]
    if "content" in payload:
        # Mentions are parsed again from the new content, "with default allowances"
        # unless the edit itself sends allowed_mentions (message.mdx, Edit Message).
        channel = api.state.channels.get(msg.channel_id) or api.state.deleted_channels.get(msg.channel_id)
        if channel is not None:
            default = ("users",) if (msg.interaction_id is not None or msg.webhook_id is not None) else None
            sent = Message(id=0, channel_id=msg.channel_id, guild_id=None, author_id=msg.author_id,
                           content=content, allowed_mentions=payload.get("allowed_mentions"))
            _mentions(api, channel, sent, default)
            msg.mention_users, msg.mention_roles = sent.mention_users, sent.mention_roles
            msg.mention_everyone = sent.mention_everyone
    msg.flags &= ~LOADING  # editing a deferred answer replaces the "thinking" state
    msg.edits += 1
    msg.edited_timestamp = api.state.clock.iso()
    if not msg.flags & EPHEMERAL:
        api.dispatch("MESSAGE_UPDATE", payloads.message(api.state, msg), intent=GUILD_MESSAGES)
    api.state.changed()
    return msg


def delete_message(api: Api, msg: Message) -> None:
    msg.deleted = True
    channel = api.state.channels.get(msg.channel_id)
    if channel is not None and channel.is_thread:
        # "when a message is deleted, message_count is decremented" (threads.mdx)
        channel.message_count = max(0, channel.message_count - 1)
    data = {"id": str(msg.id), "channel_id": str(msg.channel_id), "guild_id": str(msg.guild_id or api.state.guild_id)}
    api.dispatch("MESSAGE_DELETE", data, intent=GUILD_MESSAGES)
    api.state.changed()


class _Nonces:
    """Recent (author, nonce) -> message id: Discord's enforce_nonce de-duplication,
    documented as per author over "the past few minutes" (not per channel)."""

    def __init__(self, api: Api) -> None:
        self.api = api
        self.seen: dict[tuple[int, str], tuple[int, float]] = {}

    def lookup(self, author_id: int, nonce: str) -> int | None:
        found = self.seen.get((author_id, nonce))
        if found is None or self.api.state.clock.monotonic() - found[1] > self.api.knobs.nonce_window:
            return None
        return found[0]

    def remember(self, author_id: int, nonce: str, message_id: int) -> None:
        self.seen[(author_id, nonce)] = (message_id, self.api.state.clock.monotonic())


class _OldEdits:
    """Edits of messages older than `old_message_age`, per channel (the 30046 limit)."""

    def __init__(self, api: Api) -> None:
        self.api = api
        self.recent: dict[int, deque[float]] = {}

    def check(self, msg: Message) -> None:
        knobs, clock = self.api.knobs, self.api.state.clock
        if clock.time() - msg.created <= knobs.old_message_age:
            return
        count, window = knobs.old_message_edits
        now = clock.monotonic()
        recent = self.recent.setdefault(msg.channel_id, deque())
        while recent and now - recent[0] >= window:
            recent.popleft()
        if len(recent) >= count:
            retry = round(window - (now - recent[0]), 3)
            # Discord answers this one as a 429 carrying the code (seen from
            # discord.py: "429 Too Many Requests (error code: 30046)").
            raise ApiError(
                429, 30046, "Maximum number of edits to messages older than 1 hour reached. Try again later",
                extra={"retry_after": retry, "global": False},
                headers={"Retry-After": str(max(1, int(retry + 0.999))), "Via": "1.1 google"},
            )
        recent.append(now)


def post_as(api: Api, channel: Channel, author_id: int, content: str, embeds: list[dict[str, Any]] | None = None) -> Message:
    """A message by someone else (a user, another bot): what the bot may not edit."""
    msg = Message(
        id=api.state.snowflakes.next(), channel_id=channel.id, guild_id=channel.guild_id, author_id=author_id,
        content=content, embeds=list(embeds or []), timestamp=api.state.clock.iso(), created=api.state.clock.time(),
    )
    _mentions(api, channel, msg, None)
    api.state.messages.append(msg)
    api.state.messages_by_id[msg.id] = msg
    channel.last_message_id = msg.id
    api.dispatch("MESSAGE_CREATE", payloads.message(api.state, msg), intent=GUILD_MESSAGES)
    api.state.changed()
    return msg


def register(router: web.UrlDispatcher, api: Api) -> None:
    state = api.state
    nonces = _Nonces(api)
    old_edits = _OldEdits(api)
    base = API_PREFIX + "/channels/{channel_id}/messages"

    async def post(request: web.Request) -> web.Response:
        channel = api.writable_channel(request.match_info["channel_id"])
        payload, uploads = await read_body(request)
        if payload.get("message_reference"):
            api.require(channel, permissions.READ_MESSAGE_HISTORY)
        if payload.get("embeds") and not permissions.in_channel(state, channel) & permissions.EMBED_LINKS:
            payload = {**payload, "embeds": []}
            if not uploads and limits.is_empty_message(payload):
                raise ApiError(403, 50013, "Missing Permissions")
        nonce = payload.get("nonce")
        enforced = nonce is not None and bool(payload.get("enforce_nonce"))
        if enforced:
            existing = nonces.lookup(state.bot_id, str(nonce))
            if existing is not None:
                earlier = state.messages_by_id[existing]
                if earlier.deleted:
                    raise ApiError(404, 10008, "Unknown Message")
                return json_response(payloads.message(state, earlier) | {"nonce": nonce})
        msg = create_message(api, channel, payload, uploads=uploads)
        if enforced:
            nonces.remember(state.bot_id, str(nonce), msg.id)
        data = payloads.message(state, msg)
        if nonce is not None:
            data["nonce"] = nonce  # in the create answer (and MESSAGE_CREATE) only
        return json_response(data)

    async def history(request: web.Request) -> web.Response:
        channel = api.channel(request.match_info["channel_id"])
        api.require(channel, 0)
        if not permissions.in_channel(state, channel) & permissions.READ_MESSAGE_HISTORY:
            return json_response([])
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
        api.require(channel, permissions.READ_MESSAGE_HISTORY)
        msg = api.message(channel, request.match_info["message_id"])
        return json_response(payloads.message(state, msg))

    async def patch(request: web.Request) -> web.Response:
        channel = api.channel(request.match_info["channel_id"])
        api.require(channel, 0)
        msg = api.message(channel, request.match_info["message_id"])
        payload, uploads = await read_body(request)
        if msg.author_id != state.bot_id and set(payload) - {"flags"}:
            raise ApiError(403, 50005, "Cannot edit a message authored by another user")
        if channel.is_thread and channel.archived:
            raise ApiError(400, 50083, "Thread is archived")
        old_edits.check(msg)
        edit_message(api, msg, payload, uploads)
        return json_response(payloads.message(state, msg))

    async def delete(request: web.Request) -> web.Response:
        channel = api.channel(request.match_info["channel_id"])
        msg = api.message(channel, request.match_info["message_id"])
        # Someone else's message needs MANAGE_MESSAGES (message.mdx, Delete Message).
        api.require(channel, 0 if msg.author_id == state.bot_id else permissions.MANAGE_MESSAGES)
        locked_shut = channel.is_thread and channel.archived and channel.locked
        if locked_shut and not permissions.in_channel(state, channel) & permissions.MANAGE_THREADS:
            raise ApiError(400, 50083, "Thread is archived")  # threads.mdx: locked threads, only while active
        delete_message(api, msg)
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
