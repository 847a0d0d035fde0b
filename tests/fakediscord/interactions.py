"""Application commands (stored as synced), interactions of every kind the bot
handles, their callbacks and follow-ups.

Discord's rules kept here (discord-api-docs `developers/interactions/receiving-and-responding.mdx`
unless said otherwise):

* one callback per interaction (40060 after);
* the callback within `interaction_ack_timeout` seconds, 3 on Discord ("you must
  send an initial response within 3 seconds of receiving the event"; 10062 after);
* follow-ups and @original edits through /webhooks/{application}/{token} for
  `interaction_token_lifetime` seconds, 15 minutes on Discord ("Interaction
  tokens are valid for 15 minutes"; 50027 after);
* the callback type fits the interaction ("Interaction Callback Type"): 6 and 7
  "only valid for component-based interactions", 8 answers an autocomplete and
  nothing else answers one, 9 "not available for MODAL_SUBMIT and PING";
  autocomplete "max of 25 choices"; a modal needs custom_id, title, 1-5 components;
* after 6 or 7, @original is the message the component is attached to;
* only what a Discord client could send is dispatched (`commands.check_invocation`),
  a button only from a message that has it, enabled, and that the user can see.
"""

from __future__ import annotations

import secrets
import time
from typing import Any

from aiohttp import web

from . import commands, components, payloads
from .limits import Errors, field_error
from .messages import EPHEMERAL, LOADING, create_message, delete_message, edit_message, validate_message
from .rest import API_PREFIX, Api, ApiError, invalid_form, json_response, no_content, read_body
from .state import (
    APPLICATION_COMMAND,
    AUTOCOMPLETE,
    MESSAGE_COMPONENT,
    MODAL_SUBMIT,
    InteractionRecord,
    Message,
)

TOKEN_LIFETIME = 15 * 60.0

# Callback types ("Interaction Callback Type").
CHANNEL_MESSAGE = 4
DEFERRED_CHANNEL_MESSAGE = 5
DEFERRED_UPDATE = 6
UPDATE_MESSAGE = 7
AUTOCOMPLETE_RESULT = 8
MODAL = 9
KNOWN_CALLBACKS = (1, 4, 5, 6, 7, 8, 9, 10, 12)
# Which callbacks answer which interaction. 10 (deprecated, monetized apps) and 12
# (apps with Activities) are refused: the fake's application has neither.
ALLOWED_CALLBACKS = {
    APPLICATION_COMMAND: (CHANNEL_MESSAGE, DEFERRED_CHANNEL_MESSAGE, MODAL),
    MESSAGE_COMPONENT: (CHANNEL_MESSAGE, DEFERRED_CHANNEL_MESSAGE, DEFERRED_UPDATE, UPDATE_MESSAGE, MODAL),
    AUTOCOMPLETE: (AUTOCOMPLETE_RESULT,),
    # 6/7 only when the modal was opened from a component (it then carries the message).
    MODAL_SUBMIT: (CHANNEL_MESSAGE, DEFERRED_CHANNEL_MESSAGE, DEFERRED_UPDATE, UPDATE_MESSAGE),
}
CHOICES_MAX = 25


def store_commands(
    api: Api, existing: list[dict[str, Any]], incoming: Any, guild_id: str | None
) -> list[dict[str, Any]]:
    """Bulk overwrite: validate all (nothing is stored if one is wrong), keep ids of
    commands whose name survives."""
    if not isinstance(incoming, list):
        raise invalid_form({"_errors": [{"code": "BASE_TYPE_BAD_TYPE", "message": "Must be an array"}]})
    errors = {str(i): e for i, c in enumerate(incoming) if (e := commands.command_errors(c))}
    errors = errors or commands.duplicate_names(incoming)
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
        if data["default_member_permissions"] is not None:
            # Discord takes the bit set as a number or a string and answers it as a string.
            data["default_member_permissions"] = str(data["default_member_permissions"])
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


def _user(api: Api, args: dict[str, Any]) -> int:
    return int(args.get("user_id") or api.state.bot_id + 2)


def _dispatch(
    api: Api,
    kind: int,
    data: dict[str, Any],
    args: dict[str, Any],
    *,
    channel_id: int | None = None,
    message: Message | None = None,
) -> InteractionRecord:
    """Build, record and send one INTERACTION_CREATE."""
    state = api.state
    channel = api.channel(channel_id or args.get("channel_id") or state.text_channels()[0].id)
    token = "aW50ZXJhY3Rpb246" + secrets.token_urlsafe(48)  # "interaction:" in base64, like Discord's
    user_id = _user(api, args)
    record = InteractionRecord(id=state.snowflakes.next(), token=token, payload={}, type=kind, user_id=user_id)
    record.message_id = None if message is None else message.id
    record.payload = payloads.interaction(
        state,
        interaction_id=record.id,
        token=record.token,
        kind=kind,
        data=data,
        channel_obj=channel,
        user_id=user_id,
        user_name=args.get("user_name") or "tester",
        permissions=int(args.get("permissions", payloads.ALL_PERMISSIONS)),
        message=None if message is None else payloads.message(state, message),
    )
    state.interactions[record.id] = record
    api.dispatch("INTERACTION_CREATE", record.payload, intent=None)
    state.changed()
    return record


def _command(api: Api, args: dict[str, Any]) -> dict[str, Any]:
    name = args["name"]
    command = find_command(api, name)
    if command is None:
        if args.get("require_registered", True):
            raise LookupError(f"no application command {name!r} was synced to the fake")
        command = {"id": str(api.state.snowflakes.next()), "name": name, "type": 1}
    return command


def new_interaction(api: Api, args: dict[str, Any]) -> InteractionRecord:
    """A slash command (type 2) with options in Discord's wire shape."""
    command = _command(api, args)
    options = list(args.get("options") or [])
    if args.get("require_registered", True):
        commands.check_invocation(command, options)
    permissions = int(args.get("permissions", payloads.ALL_PERMISSIONS))
    data = payloads.command_data(api.state, command, options, permissions=permissions)
    return _dispatch(api, APPLICATION_COMMAND, data, args)


def new_autocomplete(api: Api, args: dict[str, Any]) -> InteractionRecord:
    """An autocomplete (type 4): the option being typed is marked "focused": true."""
    command = _command(api, args)
    options = list(args.get("options") or [])
    commands.check_invocation(command, options, autocomplete=True)
    permissions = int(args.get("permissions", payloads.ALL_PERMISSIONS))
    data = payloads.command_data(api.state, command, options, permissions=permissions)
    return _dispatch(api, AUTOCOMPLETE, data, args)


def new_component(api: Api, args: dict[str, Any]) -> InteractionRecord:
    """A press on a button (or a choice in a select) of a message (type 3)."""
    state = api.state
    msg = state.messages_by_id.get(int(args["message_id"]))
    if msg is None or msg.deleted:
        raise LookupError(f"no message {args['message_id']}")
    # EPHEMERAL: "this message is only visible to the user who invoked the Interaction"
    # (discord-api-docs resources/message.mdx, Message Flags): nobody else can press its buttons.
    if msg.flags & EPHEMERAL and msg.interaction_user_id not in (None, _user(api, args)):
        raise LookupError("an ephemeral message is seen (and pressed) only by the user it answered")
    found = components.find(msg.components, str(args["custom_id"]))
    if found is None:  # a client sends only the custom_id of a component the message shows
        raise LookupError(f"message {msg.id} has no component with custom_id {args['custom_id']!r}")
    if found.get("disabled"):  # components/reference.mdx, Button: "disabled?: Whether the button is disabled"
        raise LookupError(f"the component {args['custom_id']!r} is disabled: a client cannot press it")
    data: dict[str, Any] = {"custom_id": found["custom_id"], "component_type": found["type"]}
    if found["type"] in components.SELECTS:
        data["values"] = list(args.get("values") or [])
    return _dispatch(api, MESSAGE_COMPONENT, data, args, channel_id=msg.channel_id, message=msg)


def new_modal_submit(api: Api, args: dict[str, Any]) -> InteractionRecord:
    """The user submits a modal the bot opened for them (type 5); `values` by input custom_id."""
    state = api.state
    user_id = _user(api, args)
    opened = [
        r for r in state.interactions.values()
        if r.modal is not None and r.modal.get("custom_id") == args["custom_id"] and r.user_id == user_id
    ]
    if not opened:  # a modal submit answers a MODAL (9) callback shown to that user
        raise LookupError(f"no modal {args['custom_id']!r} was opened for user {user_id}")
    source = opened[-1]
    values = dict(args.get("values") or {})
    rows = []
    for text_input in components.modal_inputs(source.modal or {}):
        value = str(values.pop(text_input["custom_id"], text_input.get("value") or ""))
        if text_input.get("required", True) and not value:
            raise ValueError(f"the modal's input {text_input['custom_id']!r} is required")
        rows.append({"type": components.ACTION_ROW, "components": [
            {"type": components.TEXT_INPUT, "custom_id": text_input["custom_id"], "value": value}
        ]})
    if values:
        raise ValueError(f"the modal has no input(s) {sorted(values)}")
    data = {"custom_id": args["custom_id"], "components": rows}
    message = state.messages_by_id.get(source.message_id or 0)
    return _dispatch(
        api, MODAL_SUBMIT, data, {**args, "channel_id": source.payload["channel_id"]}, message=message
    )


def _by_token(api: Api, token: str) -> InteractionRecord:
    for record in api.state.interactions.values():
        if record.token == token:
            if time.monotonic() - record.created > api.interaction_token_lifetime:
                raise ApiError(401, 50027, "Invalid Webhook Token")
            return record
    raise ApiError(404, 10015, "Unknown Webhook")


def _type_error(message: str) -> ApiError:
    return invalid_form({"type": field_error("INTERACTION_CALLBACK_TYPE_INVALID", message)})


def _choices_errors(record: InteractionRecord, api: Api, data: dict[str, Any]) -> Errors:
    choices = data.get("choices")
    if not isinstance(choices, list):
        return {"choices": field_error("BASE_TYPE_REQUIRED", "This field is required")}
    if len(choices) > CHOICES_MAX:
        return {"choices": field_error("BASE_TYPE_MAX_LENGTH", f"Must be {CHOICES_MAX} or fewer in length.")}
    command = find_command(api, record.payload["data"]["name"]) or {}
    focused = commands.check_invocation(command, record.payload["data"].get("options") or [], autocomplete=True)
    kind = (focused or {}).get("type", commands.STRING)
    errors = commands.choices_errors(kind, choices)
    return {"choices": errors} if errors else {}


def _check_callback(api: Api, record: InteractionRecord, kind: int, data: dict[str, Any]) -> None:
    if kind not in KNOWN_CALLBACKS:
        raise invalid_form({"type": field_error("BASE_TYPE_CHOICES", "Value must be one of {1, 4, 5, 6, 7, 8, 9, 10, 12}.")})
    if kind not in ALLOWED_CALLBACKS.get(record.type, ()):
        raise _type_error(f"callback type {kind} cannot answer an interaction of type {record.type}")
    if record.type == MODAL_SUBMIT and kind in (DEFERRED_UPDATE, UPDATE_MESSAGE) and record.message_id is None:
        raise _type_error("only a modal opened from a component can update that component's message")
    if kind == AUTOCOMPLETE_RESULT and (errors := _choices_errors(record, api, data)):
        raise invalid_form({"data": errors})
    if kind == MODAL and (errors := components.modal_errors(data)):
        raise invalid_form({"data": errors})
    if kind == DEFERRED_CHANNEL_MESSAGE and int(data.get("flags") or 0) & ~EPHEMERAL:
        # "the only valid message flag you may use is EPHEMERAL"
        raise invalid_form({"data": {"flags": field_error("BASE_TYPE_INVALID", "Only EPHEMERAL may be set")}})


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
        _check_callback(api, record, kind, data)
        msg: Message | None = None
        channel = api.channel(record.payload["channel_id"])
        if kind == CHANNEL_MESSAGE:
            msg = create_message(
                api, channel, data, interaction_id=record.id, interaction_type=record.type,
                interaction_user_id=record.user_id, webhook_id=state.application_id, uploads=uploads,
            )
        elif kind == DEFERRED_CHANNEL_MESSAGE:
            flags = LOADING | (int(data.get("flags") or 0) & EPHEMERAL)
            msg = _loading_message(api, channel.id, record, flags)
        elif kind in (DEFERRED_UPDATE, UPDATE_MESSAGE):
            msg = state.messages_by_id[record.message_id or 0]
            if kind == UPDATE_MESSAGE:
                validate_message(data, partial=True)
                edit_message(api, msg, data, uploads)
        elif kind == AUTOCOMPLETE_RESULT:
            record.choices = list(data["choices"])
        elif kind == MODAL:
            record.modal = data
        record.callbacks.append({"type": kind, "data": data})
        if msg is not None:
            record.original_message_id = msg.id
        state.changed()
        if request.query.get("with_response") not in ("1", "true", "True"):
            return no_content()
        new_message = kind in (CHANNEL_MESSAGE, DEFERRED_CHANNEL_MESSAGE)
        answer: dict[str, Any] = {
            "interaction": {
                "id": str(record.id),
                "type": record.type,
                "response_message_id": str(msg.id) if msg is not None and new_message else None,
                "response_message_loading": kind == DEFERRED_CHANNEL_MESSAGE,
                "response_message_ephemeral": bool(msg is not None and new_message and msg.flags & EPHEMERAL),
            }
        }
        if msg is not None and kind in (CHANNEL_MESSAGE, DEFERRED_CHANNEL_MESSAGE, UPDATE_MESSAGE):
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
        if not record.acknowledged or record.type == AUTOCOMPLETE:
            raise ApiError(404, 10015, "Unknown Webhook")
        channel = api.channel(record.payload["channel_id"])
        payload, uploads = await read_body(request)
        original = state.messages_by_id.get(record.original_message_id or 0)
        if original is not None and original.flags & LOADING and not original.deleted:
            # After a defer, Discord turns the first follow-up into the answer itself
            # (its ephemeral flag is the defer's: "an existing message's ephemeral state cannot be changed").
            validate_message(payload, uploads=uploads)
            msg = edit_message(api, original, {k: v for k, v in payload.items() if k != "flags"}, uploads)
            msg.edits, msg.edited_timestamp = msg.edits - 1, None  # an answer, not an edit
        else:
            msg = create_message(
                api, channel, payload, interaction_id=record.id, interaction_type=record.type,
                interaction_user_id=record.user_id, webhook_id=state.application_id, uploads=uploads,
            )
        record.followup_ids.append(msg.id)
        record.followed_up = True
        state.changed()
        if request.query.get("wait") in ("1", "true", "True"):
            return json_response(payloads.message(state, msg))
        return no_content()

    async def get_webhook_message(request: web.Request) -> web.Response:
        _, msg = webhook_message(request)
        return json_response(payloads.message(state, msg))

    async def patch_webhook_message(request: web.Request) -> web.Response:
        record, msg = webhook_message(request)
        edit_message(api, msg, *(await read_body(request)))
        record.followed_up = True
        state.changed()
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


def _loading_message(api: Api, channel_id: int, record: InteractionRecord, flags: int) -> Message:
    """The "thinking" placeholder a deferred answer shows until edited."""
    state = api.state
    msg = Message(
        id=state.snowflakes.next(),
        channel_id=channel_id,
        guild_id=state.guild_id,
        author_id=state.bot_id,
        flags=flags,
        interaction_id=record.id,
        interaction_type=record.type,
        interaction_user_id=record.user_id,
        webhook_id=state.application_id,
    )
    state.messages.append(msg)
    state.messages_by_id[msg.id] = msg
    if not flags & EPHEMERAL:
        api.dispatch("MESSAGE_CREATE", payloads.message(state, msg), intent=1 << 9)
    return msg
