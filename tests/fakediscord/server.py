"""FakeDiscord: the aiohttp app (REST + gateway + /_fake control) on 127.0.0.1,
and the in-process API tests drive it with.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from typing import Any

from aiohttp import web

from . import channels, control, interactions, messages, payloads, rest
from .clock import FakeClock
from .faults import Faults, OutageMode, RestFault
from .gateway import MAX_GUILDS_PER_SHARD, SEND_LIMIT, Gateway
from .ratelimits import RateLimiter, RateLimits
from .rest import Knobs
from .state import Channel, FakeState, InteractionRecord, Message, RequestRecord, Role

DEFAULT_GUILD_ID = 900000000000000001
DEFAULT_BOT_ID = 900000000000000100

ChannelSpec = int | str | tuple[int, str]


class FakeDiscord:
    """A Discord stand-in for unmodified discord.py; `async with FakeDiscord(...) as fake:`.

    channels: ids (int or digit strings, named channel-N), names, or (id, name).
    token: when set, REST and IDENTIFY must present it (401 / close 4004); None accepts any.
    port: 0 picks a free port, kept across "refuse" outages.
    rate_limits: per-route buckets, the global limit and the invalid-request ban
      (ratelimits.py); Discord's by default (5 messages per 5 s per channel, 50
      requests per second). `RateLimits.discord().scaled(0.02)` keeps the shape
      and makes the windows 50 times shorter, for tests not about rate limits.
    rate_limit: (requests, seconds) for every route bucket instead (overrides rate_limits).
    global_rate_limit: requests per second over all non-interaction routes instead.
    heartbeat_interval_ms: sent in HELLO; a client silent for 1.5 intervals is closed (4000).
    privileged_intents: the privileged intents this app may ask for (else close 4014).
    gateway_send_limit: (frames, seconds) a client may send per connection (else close 4008).
    interaction_ack_timeout: seconds to answer an interaction before 10062 (Discord: 3).
    interaction_token_lifetime: seconds follow-ups and @original edits work (Discord: 15 min).
    more_guilds: guilds besides the first, id -> channel specs (they share its roles).
    shards, max_concurrency: what GET /gateway/bot recommends; each session gets
      only its shard's guilds (gateway.py, "Sharding"); max_guilds_per_shard: past
      it IDENTIFY is closed with 4011 (Discord: 2,500).
    nonce_window: seconds enforce_nonce de-duplicates a send ("a few minutes").
    old_message_edits: (edits, seconds) per channel for messages older than an hour (30046).

    The fake's clock (`fake.clock`, `fake.advance(seconds)`) runs message ages,
    the nonce window and thread auto-archive, so tests need not wait for them.
    """

    def __init__(
        self,
        *,
        guild_id: int = DEFAULT_GUILD_ID,
        channels: Sequence[ChannelSpec] = ("patches",),
        guild_name: str = "kvm-test",
        bot_id: int = DEFAULT_BOT_ID,
        token: str | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        rate_limits: RateLimits | None = None,
        rate_limit: tuple[int, float] | None = None,
        global_rate_limit: int | None = None,
        heartbeat_interval_ms: int = 41250,
        privileged_intents: int = 0,
        gateway_send_limit: tuple[int, float] = SEND_LIMIT,
        interaction_ack_timeout: float = 3.0,
        interaction_token_lifetime: float = 15 * 60.0,
        nonce_window: float = 300.0,
        old_message_edits: tuple[int, float] = (5, 3600.0),
        more_guilds: Mapping[int, Sequence[ChannelSpec]] | None = None,
        shards: int = 1,
        max_concurrency: int = 1,
        max_guilds_per_shard: int = MAX_GUILDS_PER_SHARD,
    ) -> None:
        self.clock = FakeClock()
        # A bot's application id is its user id.
        self.state = FakeState(
            guild_id=guild_id, guild_name=guild_name, bot_id=bot_id, application_id=bot_id, clock=self.clock
        )
        for spec in channels:
            self._add_spec(spec)
        for more_id, specs in (more_guilds or {}).items():
            self.state.more_guilds[more_id] = f"guild-{more_id}"
            for spec in specs:
                self._add_spec(spec, guild_id=more_id)
        self.faults = Faults()
        self.token = token
        self.host, self.port = host, port
        limits = rate_limits or RateLimits.discord()
        if rate_limit is not None:
            limits = replace(limits, routes={}, default=rate_limit)
        if global_rate_limit is not None:
            limits = replace(limits, global_limit=(global_rate_limit, 1.0))
        self.api = rest.Api(
            self.state,
            self.faults,
            token=token,
            rate_limiter=RateLimiter(limits, self.clock),
            interaction_ack_timeout=interaction_ack_timeout,
            interaction_token_lifetime=interaction_token_lifetime,
            knobs=Knobs(nonce_window=nonce_window, old_message_edits=old_message_edits),
        )
        self.gateway = Gateway(
            self.state,
            token=token,
            heartbeat_interval_ms=heartbeat_interval_ms,
            privileged_intents=privileged_intents,
            send_limit=gateway_send_limit,
            max_guilds_per_shard=max_guilds_per_shard,
        )
        self.api.shards = shards
        self.api.max_concurrency = max_concurrency
        self.api.gateway = self.gateway
        self._runner: web.AppRunner | None = None
        self._site: web.TCPSite | None = None
        self._outage_timer: asyncio.TimerHandle | None = None

    def _add_spec(self, spec: ChannelSpec, *, guild_id: int | None = None) -> Channel:
        if isinstance(spec, tuple):
            return self.state.add_channel(spec[1], spec[0], guild_id=guild_id)
        if isinstance(spec, int) or (isinstance(spec, str) and spec.isdigit()):
            return self.state.add_channel(f"channel-{len(self.state.channels) + 1}", int(spec), guild_id=guild_id)
        return self.state.add_channel(spec, guild_id=guild_id)

    # -- lifecycle ---------------------------------------------------------------
    def build_app(self) -> web.Application:
        # Bodies up to 64 MiB reach the handlers, which answer Discord's own 413 above 10 MiB.
        app = web.Application(
            middlewares=[self._refuse_middleware, self.api.middleware], client_max_size=64 * 1024 * 1024
        )
        rest.register(app.router, self.api)
        messages.register(app.router, self.api)
        channels.register(app.router, self.api)
        interactions.register(app.router, self.api)
        control.register(app.router, self)
        app.router.add_get("/gateway", self.gateway.handle)
        app.router.add_get("/resume", self.gateway.handle)  # resume_gateway_url: a distinct path, like Discord's
        app.router.add_get("/", self.gateway.handle)
        return app

    async def start(self) -> FakeDiscord:
        self._runner = web.AppRunner(self.build_app(), access_log=None, handle_signals=False)
        await self._runner.setup()
        await self._listen()
        return self

    async def _listen(self) -> None:
        assert self._runner is not None
        self._site = web.TCPSite(self._runner, self.host, self.port)
        await self._site.start()
        if self.port == 0:  # keep the first free port across outages
            self.port = self._runner.addresses[0][1]
        self.api.gateway_url = self.gateway_url
        self.gateway.resume_gateway_url = f"ws://{self.host}:{self.port}/resume"

    async def stop(self) -> None:
        if self._runner is not None:
            await self.gateway.drop(resume=False, code=1001)
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> FakeDiscord:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    # -- addresses -----------------------------------------------------------------
    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def api_base_url(self) -> str:
        return f"{self.base_url}{rest.API_PREFIX}"

    @property
    def gateway_url(self) -> str:
        return f"ws://{self.host}:{self.port}/gateway"

    @property
    def guild_id(self) -> int:
        return self.state.guild_id

    @property
    def bot_id(self) -> int:
        return self.state.bot_id

    @property
    def application_id(self) -> int:
        return self.state.application_id

    # -- observation -----------------------------------------------------------------
    @property
    def messages(self) -> list[Message]:
        """Every message created, in creation order (edited/deleted ones included, flagged)."""
        return self.state.messages

    @property
    def threads(self) -> list[Channel]:
        """Every thread created, in creation order (deleted ones included)."""
        return self.state.all_threads()

    @property
    def channels(self) -> list[Channel]:
        """The guild's live text channels."""
        return self.state.text_channels()

    @property
    def requests(self) -> list[RequestRecord]:
        return self.state.requests

    @property
    def interactions(self) -> list[InteractionRecord]:
        return list(self.state.interactions.values())

    def messages_in(self, channel_id: int) -> list[Message]:
        """Live messages of one channel or thread."""
        return self.state.channel_messages(channel_id)

    def count_requests(self, route: str, *, status: int | None = None) -> int:
        """REST calls on a route template, e.g. 'POST /channels/{channel_id}/messages'."""
        return sum(1 for r in self.state.requests if r.route == route and (status is None or r.status == status))

    async def wait_for(self, predicate: Callable[[FakeDiscord], Any], timeout: float = 10.0) -> Any:
        """Wait until predicate(fake) holds, re-checked on every state change (no polling)."""
        return await self.state.wait_for(lambda _: predicate(self), timeout)

    # -- world changes -------------------------------------------------------------
    def add_channel(self, name: str, channel_id: int | None = None) -> Channel:
        channel = self.state.add_channel(name, channel_id)
        self.gateway.dispatch("CHANNEL_CREATE", payloads.channel(self.state, channel), channels.GUILDS)
        self.state.changed()
        return channel

    def set_forbidden(self, channel_id: int, forbidden: bool = True) -> None:
        """Posting in the channel (and its threads) answers 403 / 50013 Missing Permissions."""
        self.set_permissions(channel_id, deny=payloads.FORBIDDEN_DENY if forbidden else 0)

    def set_permissions(self, channel_id: int, *, deny: int = 0, allow: int = 0, dispatch: bool = True) -> None:
        """The channel's @everyone overwrite (the bot's only role): e.g.
        deny=permissions.CREATE_PUBLIC_THREADS, or deny=permissions.VIEW_CHANNEL for
        no access at all (50001). CHANNEL_UPDATE is dispatched, as Discord does when
        an overwrite changes; dispatch=False models a change the bot did not see."""
        channel = self.state.channels[channel_id]
        channel.deny, channel.allow = deny, allow
        if dispatch:
            self.gateway.dispatch("CHANNEL_UPDATE", payloads.channel(self.state, channel), channels.GUILDS)
        self.state.changed()

    def set_guild_permissions(self, perms: int) -> None:
        """The @everyone role's permissions (the bot's base everywhere); GUILD_ROLE_UPDATE."""
        self.state.everyone_permissions = perms
        role = payloads.everyone_role(self.state)
        self.gateway.dispatch("GUILD_ROLE_UPDATE", {"guild_id": str(self.guild_id), "role": role}, channels.GUILDS)
        self.state.changed()

    def add_role(self, role_id: int, name: str = "", *, mentionable: bool = False) -> Role:
        """A guild role; mentioning it notifies only if mentionable or the bot has MENTION_EVERYONE."""
        role = self.state.roles[role_id] = Role(role_id, name or f"role-{role_id}", mentionable)
        data = {"guild_id": str(self.guild_id), "role": payloads.role(self.state, role)}
        self.gateway.dispatch("GUILD_ROLE_CREATE", data, channels.GUILDS)
        self.state.changed()
        return role

    def post_as(self, channel_id: int, author_id: int, content: str, **kw: object) -> Message:
        """A message someone else wrote (the bot may not edit it: 50005)."""
        return messages.post_as(self.api, self.state.channels[channel_id], author_id, content, **kw)  # type: ignore[arg-type]

    def advance(self, seconds: float) -> list[Channel]:
        """Move the fake's clock on; threads idle past their auto-archive duration
        archive (THREAD_UPDATE). Returns the threads that archived."""
        self.clock.advance(seconds)
        return channels.expire_threads(self.api)

    def request_heartbeat(self) -> int:
        """Op 1 to every connection: the client must heartbeat at once."""
        return self.gateway.request_heartbeat()

    @property
    def max_active_threads(self) -> int:
        return self.state.max_active_threads

    @max_active_threads.setter
    def max_active_threads(self, value: int) -> None:
        self.state.max_active_threads = value

    def delete_channel(self, channel_id: int) -> None:
        """The channel answers 10003 from now on; CHANNEL_DELETE (or THREAD_DELETE) is dispatched."""
        channels.delete_channel(self.api, self.state.channels[channel_id])

    def archive_thread(self, thread_id: int, *, locked: bool = False) -> None:
        """What Discord's auto-archive does: the thread is archived, THREAD_UPDATE dispatched."""
        thread = self.state.channels[thread_id]
        thread.archived, thread.locked = True, locked
        self.gateway.dispatch("THREAD_UPDATE", payloads.thread(self.state, thread), channels.GUILDS)
        self.state.changed()

    def interact(
        self,
        name: str,
        options: list[dict[str, Any]] | None = None,
        *,
        channel_id: int | None = None,
        user_id: int | None = None,
        user_name: str | None = None,
        permissions: int = payloads.ALL_PERMISSIONS,
        require_registered: bool = True,
    ) -> InteractionRecord:
        """Dispatch a slash-command INTERACTION_CREATE; `options` in Discord's shape, e.g.
        [{"type": 1, "name": "add", "options": [{"type": 3, "name": "path", "value": "x"}]}].
        The command must have been synced (PUT .../commands) and the options be ones a
        Discord client would send for it (`commands.Invalid` otherwise), unless
        require_registered=False."""
        return interactions.new_interaction(
            self.api,
            {
                "name": name,
                "options": options,
                "channel_id": channel_id,
                "user_id": user_id,
                "user_name": user_name,
                "permissions": permissions,
                "require_registered": require_registered,
            },
        )

    def autocomplete(
        self,
        name: str,
        options: list[dict[str, Any]],
        *,
        channel_id: int | None = None,
        user_id: int | None = None,
        permissions: int = payloads.ALL_PERMISSIONS,
    ) -> InteractionRecord:
        """Dispatch an autocomplete (type 4); the option being typed has "focused": true.
        The answer lands in `record.choices`."""
        return interactions.new_autocomplete(
            self.api,
            {"name": name, "options": options, "channel_id": channel_id, "user_id": user_id, "permissions": permissions},
        )

    def press(
        self,
        message_id: int,
        custom_id: str,
        *,
        user_id: int | None = None,
        values: list[str] | None = None,
        permissions: int = payloads.ALL_PERMISSIONS,
    ) -> InteractionRecord:
        """A user presses a button (or picks `values` in a select) on a message (type 3)."""
        return interactions.new_component(
            self.api,
            {"message_id": message_id, "custom_id": custom_id, "user_id": user_id, "values": values,
             "permissions": permissions},
        )

    def submit_modal(
        self, custom_id: str, values: dict[str, str] | None = None, *, user_id: int | None = None
    ) -> InteractionRecord:
        """The user submits a modal the bot opened for them (type 5)."""
        return interactions.new_modal_submit(self.api, {"custom_id": custom_id, "values": values, "user_id": user_id})

    async def answered(self, record: InteractionRecord, timeout: float = 10.0) -> InteractionRecord:
        """Wait until the bot answered: a callback, and after a deferral the real answer."""
        await self.wait_for(lambda f: record.answered, timeout=timeout)
        return record

    # -- faults --------------------------------------------------------------------
    def inject(self, fault: RestFault) -> RestFault:
        """Answer the next fault.count matching REST requests with fault.status."""
        self.faults.add(fault)
        return fault

    def rate_limit_next(
        self, count: int = 1, *, route: str | None = None, retry_after: float = 0.05, is_global: bool = False
    ) -> RestFault:
        scope = "global" if is_global else "user"
        return self.inject(RestFault(429, count, route, retry_after=retry_after, is_global=is_global, scope=scope))

    def fail_next(self, count: int = 1, *, status: int = 503, route: str | None = None) -> RestFault:
        """5xx answers. discord.py retries 500/502/504 itself (sleeping 1 s, 3 s ...); 503 it raises."""
        return self.inject(RestFault(status, count, route))

    async def set_outage(self, mode: OutageMode | None, *, duration: float | None = None) -> None:
        """"503": every REST call answers 503. "refuse": no new connections and open ones are
        cut (the gateway too, resumable). None ends the outage. With `duration` (seconds) the
        outage ends by itself: the only way to end "refuse" over HTTP, the port being closed."""
        if mode not in (None, "503", "refuse"):
            raise ValueError(f"unknown outage mode {mode!r}")
        if self._outage_timer is not None:
            self._outage_timer.cancel()
            self._outage_timer = None
        if duration is not None and mode is not None:
            loop = asyncio.get_running_loop()
            self._outage_timer = loop.call_later(duration, lambda: loop.create_task(self.set_outage(None)))
        previous, self.faults.outage = self.faults.outage, mode
        if mode == "refuse" and previous != "refuse" and self._site is not None:
            await self._site.stop()
            self._site = None
            await self.gateway.drop(resume=True)
        elif mode != "refuse" and previous == "refuse" and self._runner is not None:
            await self._listen()
        self.state.changed()

    async def drop_gateway(self, *, resume: bool = True, code: int | None = None) -> int:
        """Close the gateway connections; resume=False makes the next RESUME fail (op 9)."""
        return await self.gateway.drop(resume=resume, code=code)

    @web.middleware
    async def _refuse_middleware(self, request: web.Request, handler: rest.Handler) -> web.StreamResponse:
        # Keep-alive connections outlive the closed listener: cut them too.
        if self.faults.outage == "refuse" and not request.path.startswith("/_fake"):
            if request.transport is not None:
                request.transport.abort()
            raise web.HTTPServiceUnavailable()
        return await handler(request)
