"""Channel and thread routes: read, edit (archive/unarchive), delete, start threads.

Rules kept here (discord-api-docs developers/resources/channel.mdx and
developers/topics/threads.mdx):
* starting a public thread needs CREATE_PUBLIC_THREADS, a private one
  CREATE_PRIVATE_THREADS (threads.mdx, "Permissions"); a message holds one
  thread (160004); past the guild's active-thread limit, 160006;
* editing a thread "Requires the thread to have archived set to false or be
  set to false in the request" (Modify Channel, JSON Params (Thread)): a rename
  of an archived thread is 50083 unless the same PATCH unarchives it;
* changing name, archived or auto_archive_duration needs MANAGE_THREADS or
  being the thread's creator; locked needs MANAGE_THREADS, and so does
  unarchiving a locked thread (threads.mdx, "Editing & Deleting Threads");
* editing a text channel needs MANAGE_CHANNELS; Delete/Close Channel
  "Requires the MANAGE_CHANNELS permission for the guild, or MANAGE_THREADS
  if the channel is a thread", "Returns a channel object on success. Fires a
  Channel Delete Gateway event (or Thread Delete if the channel was a
  thread)" (channel.mdx; threads.mdx "Editing & Deleting Threads": "Deleting a
  thread requires the MANAGE_THREADS permission", where editing names the
  creator too and deleting does not). THREAD_DELETE carries "just the id, guild_id, parent_id, and type
  fields" (gateway-events.mdx, Thread Delete). A deleted channel's messages
  are gone with it (requests on it answer 10003); the message a deleted
  thread was started from stays in the parent channel, its payload without
  the thread (`Message.thread_id` keeps, for tests, which thread it had); a
  public thread is "orphaned" the other way round, when its message is
  deleted (threads.mdx);
* listing public archived threads needs READ_MESSAGE_HISTORY;
* threads archive by themselves after auto_archive_duration minutes without
  activity ("Activity is defined as sending a message, unarchiving a thread,
  or changing the auto-archive time"): `expire_threads` on the fake's clock.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from . import limits, payloads, permissions
from .messages import check_unarchive
from .rest import API_PREFIX, Api, ApiError, invalid_form, json_response, no_content, read_json
from .state import PRIVATE_THREAD, PUBLIC_THREAD, THREAD_TYPES, Channel

GUILDS = 1 << 0  # gateway intent for CHANNEL_* and THREAD_* events


def delete_channel(api: Api, channel: Channel) -> None:
    """Remove a channel (and its threads); later requests on it answer 10003."""
    state = api.state
    doomed = [channel] + [t for t in state.threads() if t.parent_id == channel.id]
    ids = {ch.id for ch in doomed}
    for ch in doomed:
        state.channels.pop(ch.id, None)
        state.deleted_channels[ch.id] = ch
    for msg in state.messages:
        if msg.channel_id in ids:
            msg.deleted = True
    if channel.is_thread:
        data = {
            "id": str(channel.id),
            "guild_id": str(channel.guild_id),
            "parent_id": str(channel.parent_id),
            "type": channel.type,
        }
        api.dispatch("THREAD_DELETE", data, intent=GUILDS)
    else:
        api.dispatch("CHANNEL_DELETE", payloads.channel(state, channel), intent=GUILDS)
    state.changed()


def expire_threads(api: Api) -> list[Channel]:
    """Archive every active thread idle past its auto_archive_duration (on the fake's clock)."""
    now = api.state.clock.time()
    expired = [
        t for t in api.state.threads()
        if not t.archived and now - t.last_activity >= t.auto_archive_duration * 60
    ]
    for thread in expired:
        thread.archived = True
        thread.archive_timestamp = api.state.clock.iso()
        api.dispatch("THREAD_UPDATE", payloads.thread(api.state, thread), intent=GUILDS)
    if expired:
        api.state.changed()
    return expired


def _new_thread(api: Api, parent: Channel, payload: dict[str, Any], *, thread_id: int, kind: int) -> Channel:
    state = api.state
    thread = Channel(
        id=thread_id,
        guild_id=parent.guild_id,
        name=str(payload["name"]),
        type=kind,
        parent_id=parent.id,
        owner_id=state.bot_id,
        auto_archive_duration=int(payload.get("auto_archive_duration") or 1440),
        archive_timestamp=state.clock.iso(),
        created_at=state.clock.iso(),
        last_activity=state.clock.time(),
    )
    state.channels[thread.id] = thread
    data = payloads.thread(state, thread)
    data["newly_created"] = True
    data["member"] = payloads.thread_member(state, thread)
    api.dispatch("THREAD_CREATE", data, intent=GUILDS)
    state.changed()
    return thread


def _thread_parent(api: Api, channel_id: str, needed: int) -> Channel:
    parent = api.channel(channel_id)
    api.require(parent, needed)
    if parent.is_thread:
        raise ApiError(400, 50024, "Cannot execute action on this channel type")
    return parent


def _check_thread_room(api: Api) -> None:
    if api.state.active_threads() >= api.state.max_active_threads:
        raise ApiError(400, 160006, "Maximum number of active threads reached")


def _validate_thread(payload: dict[str, Any], *, partial: bool = False) -> None:
    errors = limits.check_thread(payload, partial=partial)
    if errors:
        raise invalid_form(errors)


def _edit_thread(api: Api, thread: Channel, payload: dict[str, Any]) -> None:
    _validate_thread(payload, partial=True)
    perms = permissions.in_channel(api.state, thread)
    api.require(thread, 0)
    moderator = bool(perms & permissions.MANAGE_THREADS)
    creator = thread.owner_id == api.state.bot_id
    unarchiving = thread.archived and payload.get("archived") is False
    if thread.archived and not unarchiving:
        raise ApiError(400, 50083, "Thread is archived")
    if unarchiving:
        check_unarchive(api, thread)  # a locked thread: MANAGE_THREADS only (50083)
    if ("locked" in payload and not moderator) or (
        set(payload) & {"name", "archived", "auto_archive_duration"} and not (moderator or creator)
    ):
        raise ApiError(403, 50013, "Missing Permissions")
    # Every check passed: apply.
    if "name" in payload:
        thread.name = str(payload["name"])
    if "auto_archive_duration" in payload:
        thread.auto_archive_duration = int(payload["auto_archive_duration"])
        thread.last_activity = api.state.clock.time()
    if "locked" in payload:
        thread.locked = bool(payload["locked"])
    if "archived" in payload and bool(payload["archived"]) != thread.archived:
        thread.archived = bool(payload["archived"])
        thread.archive_timestamp = api.state.clock.iso()
        thread.last_activity = api.state.clock.time()
    api.dispatch("THREAD_UPDATE", payloads.thread(api.state, thread), intent=GUILDS)


def register(router: web.UrlDispatcher, api: Api) -> None:
    state = api.state
    base = API_PREFIX + "/channels/{channel_id}"

    async def get_channel(request: web.Request) -> web.Response:
        channel = api.channel(request.match_info["channel_id"])
        api.require(channel, 0)  # VIEW_CHANNEL, else 50001
        return json_response(payloads.channel(state, channel))

    async def patch_channel(request: web.Request) -> web.Response:
        channel = api.channel(request.match_info["channel_id"])
        payload = await read_json(request)
        if channel.is_thread:
            _edit_thread(api, channel, payload)
        else:
            api.require(channel, permissions.MANAGE_CHANNELS)
            if "name" in payload and not (1 <= len(str(payload["name"])) <= 100):
                raise invalid_form({"name": limits.check_thread({"name": payload["name"]})["name"]})
            channel.name = str(payload.get("name", channel.name))
            channel.topic = payload.get("topic", channel.topic)
            api.dispatch("CHANNEL_UPDATE", payloads.channel(state, channel), intent=GUILDS)
        state.changed()
        return json_response(payloads.channel(state, channel))

    async def delete(request: web.Request) -> web.Response:
        channel = api.channel(request.match_info["channel_id"])
        api.require(channel, permissions.MANAGE_THREADS if channel.is_thread else permissions.MANAGE_CHANNELS)
        data = payloads.channel(state, channel)
        delete_channel(api, channel)
        return json_response(data)

    async def thread_from_message(request: web.Request) -> web.Response:
        parent = _thread_parent(api, request.match_info["channel_id"], permissions.CREATE_PUBLIC_THREADS)
        msg = api.message(parent, request.match_info["message_id"])
        payload = await read_json(request)
        if msg.thread_id is not None:
            raise ApiError(400, 160004, "A thread has already been created for this message")
        _validate_thread(payload)
        _check_thread_room(api)
        # Discord gives a thread started on a message the message's own id.
        thread = _new_thread(api, parent, payload, thread_id=msg.id, kind=PUBLIC_THREAD)
        thread.starter_message_id = msg.id
        msg.thread_id = thread.id
        return json_response(payloads.thread(state, thread), 201)

    async def thread_without_message(request: web.Request) -> web.Response:
        payload = await read_json(request)
        kind = int(payload.get("type") or PRIVATE_THREAD)
        needed = permissions.CREATE_PRIVATE_THREADS if kind == PRIVATE_THREAD else permissions.CREATE_PUBLIC_THREADS
        parent = _thread_parent(api, request.match_info["channel_id"], needed)
        _validate_thread(payload)
        if kind not in THREAD_TYPES:
            raise invalid_form({"type": limits.field_error("BASE_TYPE_CHOICES", "Value must be one of {11, 12}.")})
        _check_thread_room(api)
        thread = _new_thread(api, parent, payload, thread_id=state.snowflakes.next(), kind=kind)
        return json_response(payloads.thread(state, thread), 201)

    async def archived_public(request: web.Request) -> web.Response:
        parent = api.channel(request.match_info["channel_id"])
        api.require(parent, permissions.READ_MESSAGE_HISTORY)
        found = [t for t in state.threads() if t.parent_id == parent.id and t.archived and t.type == PUBLIC_THREAD]
        found.sort(key=lambda t: t.archive_timestamp, reverse=True)
        limit = int(request.query.get("limit", "50"))
        return json_response(
            {
                "threads": [payloads.thread(state, t) for t in found[:limit]],
                "members": [payloads.thread_member(state, t) for t in found[:limit]],
                "has_more": len(found) > limit,
            }
        )

    async def join_thread(request: web.Request) -> web.Response:
        thread = api.channel(request.match_info["channel_id"])
        if not thread.is_thread:
            raise ApiError(400, 50024, "Cannot execute action on this channel type")
        api.require(thread, 0)
        if thread.archived:  # "Also requires the thread is not archived" (Join Thread)
            raise ApiError(400, 50083, "Thread is archived")
        return no_content()

    router.add_get(base, get_channel)
    router.add_patch(base, patch_channel)
    router.add_delete(base, delete)
    router.add_post(base + "/messages/{message_id}/threads", thread_from_message)
    router.add_post(base + "/threads", thread_without_message)
    router.add_get(base + "/threads/archived/public", archived_public)
    router.add_put(base + "/thread-members/@me", join_thread)
