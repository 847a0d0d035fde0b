"""The /_fake control routes: observation and fault injection over HTTP, for
tests that run the fake as a separate process (python -m tests.fakediscord).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aiohttp import web

from .faults import RestFault
from .rest import json_response

if TYPE_CHECKING:
    from .server import FakeDiscord


def interaction_view(fake: FakeDiscord, record_id: int) -> dict[str, Any]:
    record = fake.state.interactions[record_id]
    original = fake.state.messages_by_id.get(record.original_message_id or 0)
    data = record.payload["data"]
    return {
        "id": str(record.id),
        "type": record.type,
        "token": record.token,
        "name": data.get("name") or data.get("custom_id"),
        "callbacks": record.callbacks,
        "original": None if original is None else original.observed(),
        "followups": [fake.state.messages_by_id[i].observed() for i in record.followup_ids],
        "choices": record.choices,
        "modal": record.modal,
    }


async def _answer(fake: FakeDiscord, body: dict[str, Any], start: Any) -> web.Response:
    """Dispatch, wait until the bot answered (or `timeout` seconds, default 10), return the view.

    Body keys other than `timeout` go to `start`; an interaction the bot never
    answered comes back with empty `callbacks`."""
    timeout = float(body.pop("timeout", 10.0))
    try:
        record = start(**body)
    except (LookupError, TypeError, ValueError, KeyError) as exc:
        return json_response({"message": str(exc), "code": 0}, 400)
    try:
        await fake.answered(record, timeout=timeout)
    except TimeoutError:
        pass
    return json_response(interaction_view(fake, record.id))


def register(router: web.UrlDispatcher, fake: FakeDiscord) -> None:
    state = fake.state

    async def messages(request: web.Request) -> web.Response:
        return json_response(state.observed_messages())

    async def threads(request: web.Request) -> web.Response:
        return json_response(state.observed_threads())

    async def requests(request: web.Request) -> web.Response:
        return json_response([r.observed() for r in state.requests])

    async def commands(request: web.Request) -> web.Response:
        return json_response({"global": state.global_commands, "guild": state.guild_commands.get(state.guild_id, [])})

    async def summary(request: web.Request) -> web.Response:
        return json_response(
            {
                "guild_id": str(state.guild_id),
                "application_id": str(state.application_id),
                "channels": [
                    {"id": str(c.id), "name": c.name, "forbidden": c.forbidden} for c in state.text_channels()
                ],
                "messages": len(state.messages),  # a cheap count to poll (benchmarks)
                "gateway_connects": state.gateway_connects,
                "live_connections": len(fake.gateway.connections),
                "invalid_requests": state.invalid_requests,
                "ack_heartbeats": fake.gateway.ack_heartbeats,
            }
        )

    async def get_faults(request: web.Request) -> web.Response:
        return json_response({"pending": [f.describe() for f in fake.faults.pending], "outage": fake.faults.outage})

    async def post_faults(request: web.Request) -> web.Response:
        """Body: {"rest": {...RestFault}} | {"gateway": "drop"|"reconnect"|"invalidate", "resume": bool}
        | {"ack_heartbeats": bool}
        | {"outage": "503"|"refuse"|null, "duration"?: seconds} | {"clear": true}."""
        body = await request.json()
        try:
            if body.get("clear"):
                await fake.set_outage(None)
                fake.faults.clear()
            if "rest" in body:
                fake.faults.add(RestFault.from_json(body["rest"]))
            if "outage" in body:
                await fake.set_outage(body["outage"], duration=body.get("duration"))
            if "ack_heartbeats" in body:  # false: a zombie connection that never ACKs
                fake.gateway.ack_heartbeats = bool(body["ack_heartbeats"])
            action = body.get("gateway")
            if action == "drop":
                await fake.drop_gateway(resume=bool(body.get("resume", True)))
            elif action == "reconnect":
                fake.gateway.request_reconnect()
            elif action == "invalidate":
                fake.gateway.invalidate_sessions(resumable=bool(body.get("resume", False)))
            elif action is not None:
                raise ValueError(f"unknown gateway action {action!r}")
        except (ValueError, TypeError) as exc:
            return json_response({"message": str(exc), "code": 0}, 400)
        return await get_faults(request)

    async def post_interaction(request: web.Request) -> web.Response:
        """Body: {"name", "options"?, "channel_id"?, "user_id"?, "permissions"?, "timeout"?};
        answers {"callbacks", "original", "followups", ...} once the bot answered."""
        body = await request.json()
        for key in ("channel_id", "user_id"):
            if body.get(key) is not None:
                body[key] = int(body[key])
        return await _answer(fake, body, fake.interact)

    async def post_component(request: web.Request) -> web.Response:
        """Body: {"message_id", "custom_id", "user_id"?, "values"?, "timeout"?}: a button press."""
        body = await request.json()
        body["message_id"] = int(body.get("message_id") or 0)
        if body.get("user_id") is not None:
            body["user_id"] = int(body["user_id"])
        return await _answer(fake, body, fake.press)

    async def post_autocomplete(request: web.Request) -> web.Response:
        """Body: {"name", "options" (the one being typed has "focused": true), "channel_id"?,
        "user_id"?}; answers {"choices": [...]} as the bot returned them (null: no answer)."""
        body = await request.json()
        body.setdefault("timeout", fake.api.interaction_ack_timeout + 1.0)
        response = await _answer(fake, body, fake.autocomplete)
        return response

    async def post_modal(request: web.Request) -> web.Response:
        """Body: {"custom_id", "values": {input custom_id: text}, "user_id"?}: submit a modal."""
        body = await request.json()
        if body.get("user_id") is not None:
            body["user_id"] = int(body["user_id"])
        return await _answer(fake, body, fake.submit_modal)

    async def get_interactions(request: web.Request) -> web.Response:
        return json_response([interaction_view(fake, i) for i in state.interactions])

    async def post_channel(request: web.Request) -> web.Response:
        """Body: {"name"} creates a channel; {"id", "forbidden": bool} or {"id", "delete": true} change one."""
        body = await request.json()
        if "id" not in body:
            return json_response({"id": str(fake.add_channel(body["name"]).id)})
        channel_id = int(body["id"])
        if channel_id not in state.channels:
            return json_response({"message": "Unknown Channel", "code": 10003}, 404)
        if body.get("delete"):
            fake.delete_channel(channel_id)
        elif "forbidden" in body:
            fake.set_forbidden(channel_id, bool(body["forbidden"]))
        return json_response({"id": str(channel_id)})

    router.add_get("/_fake/state", summary)
    router.add_get("/_fake/messages", messages)
    router.add_get("/_fake/threads", threads)
    router.add_get("/_fake/requests", requests)
    router.add_get("/_fake/commands", commands)
    router.add_get("/_fake/faults", get_faults)
    router.add_post("/_fake/faults", post_faults)
    router.add_get("/_fake/interactions", get_interactions)
    router.add_post("/_fake/interactions", post_interaction)
    router.add_post("/_fake/components", post_component)
    router.add_post("/_fake/autocomplete", post_autocomplete)
    router.add_post("/_fake/modals", post_modal)
    router.add_post("/_fake/channels", post_channel)
