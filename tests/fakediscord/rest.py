"""The REST side: request pipeline (outage, auth, faults, rate limits, recording)
and the small routes discord.py calls at login. Channel, message, thread and
interaction routes live in their own modules and register through `Api`.
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Awaitable, Callable

from aiohttp import web

from . import payloads, permissions
from .faults import Faults, RestFault
from .ratelimits import RateLimiter
from .state import Channel, FakeState, Message, RequestRecord

if TYPE_CHECKING:
    from .gateway import Gateway

API_PREFIX = "/api/v10"
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class ApiError(Exception):
    """An error answer in Discord's shape: {"message", "code", "errors"?}."""

    def __init__(
        self,
        status: int,
        code: int,
        message: str,
        errors: dict[str, Any] | None = None,
        *,
        extra: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(f"{status} {code} {message}")
        self.status, self.code, self.message, self.errors = status, code, message, errors
        self.extra = extra or {}  # more body fields (a 429's retry_after, global)
        self.headers = headers or {}

    def body(self) -> dict[str, Any]:
        data: dict[str, Any] = {"message": self.message, "code": self.code}
        if self.errors:
            data["errors"] = self.errors
        data.update(self.extra)
        return data


def invalid_form(errors: dict[str, Any]) -> ApiError:
    return ApiError(400, 50035, "Invalid Form Body", errors)


def json_response(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    # discord.py compares Content-Type to exactly "application/json" (no charset).
    all_headers = {"Content-Type": "application/json"}
    all_headers.update(headers or {})
    return web.Response(body=json.dumps(data).encode(), status=status, headers=all_headers)


def no_content() -> web.Response:
    return web.Response(status=204)


UPLOAD_MAX = 10 * 1024 * 1024  # per request, a guild without boosts


@dataclass(frozen=True)
class Upload:
    filename: str
    content_type: str
    data: bytes


async def read_body(request: web.Request) -> tuple[dict[str, Any], list[Upload]]:
    """The JSON payload and any uploaded files (multipart: payload_json + files[n])."""
    if not request.content_type.startswith("multipart/"):
        return await read_json(request), []
    payload: dict[str, Any] = {}
    uploads: list[Upload] = []
    reader = await request.multipart()
    while (part := await reader.next()) is not None:
        if part.name == "payload_json":
            payload = _json_object(await part.text())
        elif getattr(part, "filename", None):
            uploads.append(Upload(part.filename, part.headers.get("Content-Type", ""), await part.read()))
    if sum(len(u.data) for u in uploads) > UPLOAD_MAX:
        raise ApiError(413, 40005, "Request entity too large")
    return payload, uploads


async def read_json(request: web.Request) -> dict[str, Any]:
    """The JSON body (or the payload_json part of a multipart upload)."""
    if request.content_type.startswith("multipart/"):
        return (await read_body(request))[0]
    if not request.can_read_body:
        return {}
    return _json_object(await request.text() or "{}")


def _json_object(text: str) -> dict[str, Any]:
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise ApiError(400, 50109, "The request body contains invalid JSON.") from exc
    if not isinstance(data, dict):
        raise ApiError(400, 50109, "The request body contains invalid JSON.")
    return data


def route_of(request: web.Request) -> str:
    """'METHOD /template' with the API prefix removed, e.g. 'POST /channels/{channel_id}/messages'."""
    resource = request.match_info.route.resource
    template = resource.canonical if resource is not None else request.path
    if template.startswith(API_PREFIX):
        template = template[len(API_PREFIX) :]
    return f"{request.method} {template}"


@dataclass
class Knobs:
    """Discord's time-based limits, per fake; tests shorten them instead of waiting.

    nonce_window: seconds an enforce_nonce send is de-duplicated ("checked for
      uniqueness in the past few minutes", message.mdx Create Message).
    old_message_age / old_message_edits: messages older than an hour have their
      own edit limit, 30046 "Maximum number of edits to messages older than 1 hour
      reached" (opcodes-and-status-codes.mdx); Discord does not publish the
      figure, so (edits, seconds) per channel is a cautious stand-in.
    """

    nonce_window: float = 300.0
    old_message_age: float = 3600.0
    old_message_edits: tuple[int, float] = (5, 3600.0)


class Api:
    """Shared context for the REST route modules."""

    def __init__(
        self,
        state: FakeState,
        faults: Faults,
        *,
        token: str | None,
        rate_limiter: RateLimiter,
        interaction_ack_timeout: float = 3.0,
        interaction_token_lifetime: float = 15 * 60.0,
        knobs: Knobs | None = None,
    ) -> None:
        self.state = state
        self.faults = faults
        self.token = token
        self.rate_limiter = rate_limiter
        self.interaction_ack_timeout = interaction_ack_timeout
        self.interaction_token_lifetime = interaction_token_lifetime
        self.knobs = knobs or Knobs()
        self.gateway: Gateway | None = None  # set by the server once both exist
        self.gateway_url = ""  # ws://127.0.0.1:P/gateway, set once bound
        self.shards = 1  # GET /gateway/bot's recommended shard count
        self.max_concurrency = 1

    # -- lookups that raise Discord's errors ---------------------------------
    def channel(self, channel_id: str | int) -> Channel:
        try:
            return self.state.channels[int(channel_id)]
        except (KeyError, ValueError):
            raise ApiError(404, 10003, "Unknown Channel") from None

    def require(self, channel: Channel, needed: int) -> None:
        """403 50001 without access to the channel, 403 50013 without `needed` (permissions.py)."""
        refused = permissions.missing(self.state, channel, needed)
        if refused is not None:
            raise ApiError(403, *refused)

    def writable_channel(self, channel_id: str | int) -> Channel:
        """A channel the bot may post in: SEND_MESSAGES, or SEND_MESSAGES_IN_THREADS in a thread."""
        channel = self.channel(channel_id)
        self.require(channel, permissions.SEND_MESSAGES_IN_THREADS if channel.is_thread else permissions.SEND_MESSAGES)
        return channel

    def message(self, channel: Channel, message_id: str | int) -> Message:
        try:
            msg = self.state.messages_by_id[int(message_id)]
        except (KeyError, ValueError):
            raise ApiError(404, 10008, "Unknown Message") from None
        if msg.channel_id != channel.id or msg.deleted:
            raise ApiError(404, 10008, "Unknown Message")
        return msg

    def guild(self, guild_id: str) -> None:
        if guild_id not in {str(g) for g in self.state.guild_ids()}:
            raise ApiError(404, 10004, "Unknown Guild")

    def dispatch(self, event: str, data: dict[str, Any], intent: int | None) -> None:
        if self.gateway is not None:
            self.gateway.dispatch(event, data, intent)

    # -- the request pipeline ------------------------------------------------
    @web.middleware
    async def middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        if not request.path.startswith(API_PREFIX):
            return await handler(request)  # /_fake control routes and the gateway
        route = route_of(request)
        if self.rate_limiter.banned():
            # Over the invalid-request limit: Cloudflare answers, a 429 without Via
            # (rate-limits.mdx, "Invalid Request Limit aka Cloudflare bans").
            response = web.Response(status=429, text="error code: 1015", content_type="text/plain")
            self.state.requests.append(RequestRecord(request.method, request.path, route, 429, time.time()))
            self.state.changed()
            return response
        try:
            response = await self._serve(request, route, handler)
        except ApiError as exc:
            response = json_response(exc.body(), exc.status)
        except web.HTTPException as exc:  # aiohttp's own 404/405 for unknown routes
            response = json_response({"message": f"{exc.status}: {exc.reason}", "code": 0}, exc.status)
        if response.status in (401, 403, 429) and response.headers.get("X-RateLimit-Scope") != "shared":
            self.state.invalid_requests += 1
            self.rate_limiter.count_invalid()
        self.state.requests.append(RequestRecord(
            request.method, request.path, route, response.status, time.time(), auth=request.headers.get("Authorization")
        ))
        self.state.changed()
        return response

    async def _serve(self, request: web.Request, route: str, handler: Handler) -> web.StreamResponse:
        if self.faults.outage == "503":
            raise ApiError(503, 0, "Service Unavailable")
        params = dict(request.match_info)
        is_webhook = "/webhooks/" in request.path or "/interactions/" in request.path
        if not is_webhook and self.token is not None:
            if request.headers.get("Authorization") != f"Bot {self.token}":
                raise ApiError(401, 0, "401: Unauthorized")
        fault = self.faults.take(route, params)
        if fault is not None:
            return self._fault_response(fault)
        # Interaction endpoints are exempt from the global limit, as on Discord.
        retry_global = None if is_webhook else self.rate_limiter.acquire_global()
        if retry_global is not None:
            body = {"message": "You are being rate limited.", "retry_after": retry_global, "global": True, "code": 0}
            headers = {
                "Retry-After": str(math.ceil(retry_global)),
                "X-RateLimit-Global": "true",
                "X-RateLimit-Scope": "global",
                "Via": "1.1 google",
            }
            return json_response(body, 429, headers)
        bucket, allowed = self.rate_limiter.acquire(route, params)
        headers = self.rate_limiter.headers(bucket)
        if not allowed:
            retry = self.rate_limiter.retry_after(bucket)
            body = {"message": "You are being rate limited.", "retry_after": retry, "global": False, "code": 0}
            headers.update({"Retry-After": str(math.ceil(retry)), "X-RateLimit-Scope": "user", "Via": "1.1 google"})
            return json_response(body, 429, headers)
        try:
            response = await handler(request)
        except ApiError as exc:
            # Error answers carry the route's headers too (rate-limits.mdx); a
            # handler's own 429 (30046) adds its Retry-After and scope.
            response = json_response(exc.body(), exc.status, exc.headers)
        response.headers.update(headers)
        return response

    @staticmethod
    def _fault_response(fault: RestFault) -> web.Response:
        if fault.status != 429:
            return json_response({"message": "Internal Server Error (injected)", "code": 0}, fault.status)
        body = {"message": "You are being rate limited.", "retry_after": fault.retry_after, "global": fault.is_global}
        headers = {"Retry-After": str(math.ceil(fault.retry_after)), "X-RateLimit-Scope": fault.scope}
        if fault.is_global:
            headers["X-RateLimit-Global"] = "true"
        if fault.via:
            headers["Via"] = "1.1 google"
        return json_response(body, 429, headers)


# -- login/startup routes ------------------------------------------------------


def register(router: web.UrlDispatcher, api: Api) -> None:
    state = api.state
    p = API_PREFIX

    async def me(request: web.Request) -> web.Response:
        return json_response(payloads.bot_user(state))

    async def application(request: web.Request) -> web.Response:
        return json_response(payloads.application(state))

    async def gateway(request: web.Request) -> web.Response:
        return json_response({"url": api.gateway_url})

    async def gateway_bot(request: web.Request) -> web.Response:
        # discord-api-docs developers/events/gateway.mdx "Get Gateway Bot": the
        # recommended number of shards, and session_start_limit with max_concurrency
        # (how many shards may IDENTIFY per 5 seconds).
        limit = {"total": 1000, "remaining": 999, "reset_after": 86_400_000, "max_concurrency": api.max_concurrency}
        return json_response({"url": api.gateway_url, "shards": api.shards, "session_start_limit": limit})

    async def get_guild(request: web.Request) -> web.Response:
        api.guild(request.match_info["guild_id"])
        data = payloads.guild(state, with_members=False)
        data.update(approximate_member_count=2, approximate_presence_count=1)
        return json_response(data)

    async def guild_channels(request: web.Request) -> web.Response:
        api.guild(request.match_info["guild_id"])
        return json_response([payloads.channel(state, c) for c in state.text_channels()])

    async def active_threads(request: web.Request) -> web.Response:
        api.guild(request.match_info["guild_id"])
        threads = [t for t in state.threads() if not t.archived]
        return json_response(
            {
                "threads": [payloads.thread(state, t) for t in threads],
                "members": [payloads.thread_member(state, t) for t in threads],
            }
        )

    async def guild_member(request: web.Request) -> web.Response:
        api.guild(request.match_info["guild_id"])
        if request.match_info["user_id"] != str(state.bot_id):
            raise ApiError(404, 10007, "Unknown Member")
        return json_response(payloads.member(payloads.bot_user(state)))

    async def logout(request: web.Request) -> web.Response:
        return no_content()

    router.add_get(p + "/users/@me", me)
    router.add_get(p + "/oauth2/applications/@me", application)
    router.add_get(p + "/applications/@me", application)
    router.add_get(p + "/gateway", gateway)
    router.add_get(p + "/gateway/bot", gateway_bot)
    router.add_get(p + "/guilds/{guild_id}", get_guild)
    router.add_get(p + "/guilds/{guild_id}/channels", guild_channels)
    router.add_get(p + "/guilds/{guild_id}/threads/active", active_threads)
    router.add_get(p + "/guilds/{guild_id}/members/{user_id}", guild_member)
    router.add_post(p + "/auth/logout", logout)
