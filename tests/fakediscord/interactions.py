"""Application commands (stored as synced), interaction callbacks and follow-ups.

Discord's rules kept here: one callback per interaction (40060 after), the
callback within `interaction_ack_timeout` seconds (10062 after), follow-ups
and @original edits through /webhooks/{application}/{token} for 15 minutes.
"""

from __future__ import annotations

import re
import secrets
import time
from typing import Any

from aiohttp import web

from . import payloads
from .limits import field_error
from .messages import EPHEMERAL, LOADING, create_message, delete_message, edit_message, validate_message
from .rest import API_PREFIX, Api, ApiError, invalid_form, json_response, no_content, read_body
from .state import InteractionRecord, Message

TOKEN_LIFETIME = 15 * 60.0
COMMAND_NAME = re.compile(r"^[-_\w]{1,32}$")

# Callback types (Discord's InteractionResponseType).
CHANNEL_MESSAGE = 4
DEFERRED_CHANNEL_MESSAGE = 5
DEFERRED_UPDATE = 6
UPDATE_MESSAGE = 7


def _command_errors(command: dict[str, Any]) -> dict[str, Any]:
    errors: dict[str, Any] = {}
    name = command.get("name") or ""
    if not COMMAND_NAME.match(name) or name != name.lower():
        errors["name"] = field_error("APPLICATION_COMMAND_INVALID_NAME", "Command name is invalid")
    if command.get("type", 1) == 1 and not (1 <= len(command.get("description") or "") <= 100):
        errors["description"] = field_error("BASE_TYPE_BAD_LENGTH", "Must be between 1 and 100 in length.")
    if len(command.get("options") or []) > 25:
        errors["options"] = field_error("BASE_TYPE_MAX_LENGTH", "Must be 25 or fewer in length.")
    return errors


def store_commands(
    api: Api, existing: list[dict[str, Any]], incoming: list[Any], guild_id: str | None
) -> list[dict[str, Any]]:
    """Bulk overwrite: validate all, keep ids of commands whose name survives."""
    errors = {str(i): e for i, c in enumerate(incoming) if (e := _command_errors(c))}
    if errors:
        raise invalid_form(errors)
    by_name = {c["name"]: c for c in existing}
    stored = []
    for command in incoming:
        old = by_name.get(command["name"])
        data = {
            "type": 1,
            "options": [],
            "default_member_permissions": None,
            "dm_permission": True,
            "nsfw": False,
            "contexts": None,
            "integration_types": [0],
            **command,
            "id": old["id"] if old else str(api.state.snowflakes.next()),
            "application_id": str(api.state.application_id),
            "version": str(api.state.snowflakes.next()),
        }
        if guild_id is not None:
            data["guild_id"] = guild_id
        stored.append(data)
    return stored


def find_command(api: Api, name: str) -> dict[str, Any] | None:
    """A guild command of the fake's guild first, then a global one (Discord's precedence)."""
    for command in api.state.guild_commands.get(api.state.guild_id, []) + api.state.global_commands:
        if command["name"] == name:
            return command
    return None


def new_interaction(api: Api, payload_args: dict[str, Any]) -> InteractionRecord:
    """Build, record and dispatch an INTERACTION_CREATE for a registered slash command."""
    state = api.state
    name = payload_args["name"]
    command = find_command(api, name)
    if command is None:
        if payload_args.get("require_registered", True):
            raise LookupError(f"no application command {name!r} was synced to the fake")
        command = {"id": str(state.snowflakes.next()), "name": name, "type": 1}
    channel_id = payload_args.get("channel_id") or state.text_channels()[0].id
    channel = api.channel(channel_id)
    token = "aW50ZXJhY3Rpb246" + secrets.token_urlsafe(48)  # "interaction:" in base64, like Discord's
    record = InteractionRecord(id=state.snowflakes.next(), token=token, payload={})
    record.payload = payloads.interaction(
        state,
        interaction_id=record.id,
        token=record.token,
        command=command,
        channel_obj=channel,
        user_id=int(payload_args.get("user_id") or state.bot_id + 2),
        user_name=payload_args.get("user_name") or "tester",
        permissions=int(payload_args.get("permissions", payloads.ALL_PERMISSIONS)),
        options=list(payload_args.get("options") or []),
    )
    state.interactions[record.id] = record
    api.dispatch("INTERACTION_CREATE", record.payload, intent=None)
    state.changed()
    return record


def _by_token(api: Api, token: str) -> InteractionRecord:
    for record in api.state.interactions.values():
        if record.token == token:
            if time.monotonic() - record.created > TOKEN_LIFETIME:
                raise ApiError(401, 50027, "Invalid Webhook Token")
            return record
    raise ApiError(404, 10015, "Unknown Webhook")


def register(router: web.UrlDispatcher, api: Api) -> None:
    state = api.state
    apps = API_PREFIX + "/applications/{application_id}"

    def check_app(request: web.Request) -> None:
        if request.match_info["application_id"] != str(state.application_id):
            raise ApiError(404, 10002, "Unknown Application")

    async def get_global(request: web.Request) -> web.Response:
        check_app(request)
        return json_response(state.global_commands)

    async def put_global(request: web.Request) -> web.Response:
        check_app(request)
        state.global_commands = store_commands(api, state.global_commands, await request.json(), None)
        state.changed()
        return json_response(state.global_commands)

    async def get_guild(request: web.Request) -> web.Response:
        check_app(request)
        api.guild(request.match_info["guild_id"])
        return json_response(state.guild_commands.get(state.guild_id, []))

    async def put_guild(request: web.Request) -> web.Response:
        check_app(request)
        api.guild(request.match_info["guild_id"])
        old = state.guild_commands.get(state.guild_id, [])
        state.guild_commands[state.guild_id] = store_commands(api, old, await request.json(), str(state.guild_id))
        state.changed()
        return json_response(state.guild_commands[state.guild_id])

    async def callback(request: web.Request) -> web.Response:
        try:
            record = state.interactions[int(request.match_info["interaction_id"])]
        except (KeyError, ValueError):
            raise ApiError(404, 10062, "Unknown interaction") from None
        if record.token != request.match_info["token"]:
            raise ApiError(401, 50027, "Invalid Webhook Token")
        if record.acknowledged:
            raise ApiError(400, 40060, "Interaction has already been acknowledged.")
        if time.monotonic() - record.created > api.interaction_ack_timeout:
            raise ApiError(404, 10062, "Unknown interaction")
        body, uploads = await read_body(request)
        kind, data = int(body.get("type", 0)), body.get("data") or {}
        msg: Message | None = None
        channel = api.channel(record.payload["channel_id"])
        if kind == CHANNEL_MESSAGE:
            msg = create_message(
                api, channel, data, interaction_id=record.id, webhook_id=state.application_id, uploads=uploads
            )
        elif kind == DEFERRED_CHANNEL_MESSAGE:
            flags = LOADING | (int(data.get("flags") or 0) & EPHEMERAL)
            msg = _loading_message(api, channel.id, record.id, flags)
        elif kind in (DEFERRED_UPDATE, UPDATE_MESSAGE, 8, 9, 10, 12):
            if kind == UPDATE_MESSAGE:
                validate_message(data, partial=True)
        else:
            choices = "Value must be one of {1, 4, 5, 6, 7, 8, 9, 10, 12}."
            raise invalid_form({"type": field_error("BASE_TYPE_CHOICES", choices)})
        record.callbacks.append({"type": kind, "data": data})
        if msg is not None:
            record.original_message_id = msg.id
        state.changed()
        if request.query.get("with_response") not in ("1", "true", "True"):
            return no_content()
        answer: dict[str, Any] = {
            "interaction": {
                "id": str(record.id),
                "type": 2,
                "response_message_id": None if msg is None else str(msg.id),
                "response_message_loading": kind == DEFERRED_CHANNEL_MESSAGE,
                "response_message_ephemeral": bool(msg is not None and msg.flags & EPHEMERAL),
            }
        }
        if msg is not None:
            answer["resource"] = {"type": kind, "message": payloads.message(state, msg)}
        return json_response(answer)

    def webhook_message(request: web.Request) -> tuple[InteractionRecord, Message]:
        record = _by_token(api, request.match_info["token"])
        wanted = request.match_info["message_id"]
        if wanted == "@original":
            if record.original_message_id is None:
                raise ApiError(404, 10008, "Unknown Message")
            message_id = record.original_message_id
        else:
            message_id = int(wanted)
            if message_id != record.original_message_id and message_id not in record.followup_ids:
                raise ApiError(404, 10008, "Unknown Message")
        msg = state.messages_by_id[message_id]
        if msg.deleted:
            raise ApiError(404, 10008, "Unknown Message")
        return record, msg

    async def followup(request: web.Request) -> web.Response:
        record = _by_token(api, request.match_info["token"])
        if not record.acknowledged:
            raise ApiError(404, 10015, "Unknown Webhook")
        channel = api.channel(record.payload["channel_id"])
        payload, uploads = await read_body(request)
        original = state.messages_by_id.get(record.original_message_id or 0)
        if original is not None and original.flags & LOADING and not original.deleted:
            # After a defer, Discord turns the first follow-up into the answer itself.
            validate_message(payload, uploads=uploads)
            msg = edit_message(api, original, payload, uploads)
            msg.edits, msg.edited_timestamp = msg.edits - 1, None  # an answer, not an edit
        else:
            msg = create_message(
                api, channel, payload, interaction_id=record.id, webhook_id=state.application_id, uploads=uploads
            )
        record.followup_ids.append(msg.id)
        state.changed()
        if request.query.get("wait") in ("1", "true", "True"):
            return json_response(payloads.message(state, msg))
        return no_content()

    async def get_webhook_message(request: web.Request) -> web.Response:
        _, msg = webhook_message(request)
        return json_response(payloads.message(state, msg))

    async def patch_webhook_message(request: web.Request) -> web.Response:
        _, msg = webhook_message(request)
        edit_message(api, msg, *(await read_body(request)))
        return json_response(payloads.message(state, msg))

    async def delete_webhook_message(request: web.Request) -> web.Response:
        _, msg = webhook_message(request)
        delete_message(api, msg)
        return no_content()

    router.add_get(apps + "/commands", get_global)
    router.add_put(apps + "/commands", put_global)
    router.add_get(apps + "/guilds/{guild_id}/commands", get_guild)
    router.add_put(apps + "/guilds/{guild_id}/commands", put_guild)
    router.add_post(API_PREFIX + "/interactions/{interaction_id}/{token}/callback", callback)
    hooks = API_PREFIX + "/webhooks/{application_id}/{token}"
    router.add_post(hooks, followup)
    router.add_get(hooks + "/messages/{message_id}", get_webhook_message)
    router.add_patch(hooks + "/messages/{message_id}", patch_webhook_message)
    router.add_delete(hooks + "/messages/{message_id}", delete_webhook_message)


def _loading_message(api: Api, channel_id: int, interaction_id: int, flags: int) -> Message:
    """The "thinking" placeholder a deferred answer shows until edited."""
    state = api.state
    msg = Message(
        id=state.snowflakes.next(),
        channel_id=channel_id,
        guild_id=state.guild_id,
        author_id=state.bot_id,
        flags=flags,
        interaction_id=interaction_id,
        webhook_id=state.application_id,
    )
    state.messages.append(msg)
    state.messages_by_id[msg.id] = msg
    if not flags & EPHEMERAL:
        api.dispatch("MESSAGE_CREATE", payloads.message(state, msg), intent=1 << 9)
    return msg
