"""The fake's world: guilds, channels, threads, messages, interactions, requests.

Plain dataclasses mutated only by the REST and gateway handlers (all on one
event loop), plus a condition that wakes `wait_for` callers on every change.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from dataclasses import dataclass, field
from typing import Any, Callable

from .clock import FakeClock
from .permissions import DEFAULT_BOT_PERMISSIONS, SEND_MESSAGES

DISCORD_EPOCH_MS = 1420070400000
# Active threads a guild may hold before thread creation answers 160006
# ("Maximum number of active threads reached", opcodes-and-status-codes.mdx);
# Discord does not publish the figure in the docs, 1000 is what guilds report.
MAX_ACTIVE_THREADS = 1000

# Channel types used here (Discord's numbering).
GUILD_TEXT = 0
PUBLIC_THREAD = 11
PRIVATE_THREAD = 12
THREAD_TYPES = (PUBLIC_THREAD, PRIVATE_THREAD)


class Snowflakes:
    """Increasing, realistic snowflakes (timestamp in the top 42 bits, from the fake's clock)."""

    def __init__(self, clock: FakeClock | None = None) -> None:
        self.clock = clock or FakeClock()
        self._counter = itertools.count()
        self._last = 0

    def next(self) -> int:
        stamp = (int(self.clock.time() * 1000) - DISCORD_EPOCH_MS) << 22
        value = max(stamp | (next(self._counter) & 0xFFF), self._last + 1)
        self._last = value
        return value


def iso_now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime()) + f".{int(time.time() * 1e6) % 1000000:06d}+00:00"


@dataclass
class Channel:
    id: int
    guild_id: int
    name: str
    type: int = GUILD_TEXT
    position: int = 0
    topic: str | None = None
    parent_id: int | None = None  # for threads: the text channel
    # The @everyone overwrite: permission bits denied (and allowed) in this channel.
    deny: int = 0
    allow: int = 0
    last_message_id: int | None = None
    # Thread-only fields.
    owner_id: int | None = None
    starter_message_id: int | None = None
    archived: bool = False
    locked: bool = False
    auto_archive_duration: int = 1440
    archive_timestamp: str = field(default_factory=iso_now)
    message_count: int = 0
    created_at: str = field(default_factory=iso_now)
    last_activity: float = 0.0  # clock time of the last message, unarchive or duration change

    @property
    def is_thread(self) -> bool:
        return self.type in THREAD_TYPES

    @property
    def forbidden(self) -> bool:
        """The bot may not post here (the old all-or-nothing switch, kept for callers)."""
        return bool(self.deny & SEND_MESSAGES)


@dataclass
class Role:
    id: int
    name: str
    mentionable: bool = False
    permissions: int = 0


@dataclass
class Attachment:
    id: int
    filename: str
    content_type: str
    data: bytes

    def observed(self) -> dict[str, Any]:
        return {
            "id": str(self.id),
            "filename": self.filename,
            "size": len(self.data),
            "content_type": self.content_type,
        }


@dataclass
class Message:
    id: int
    channel_id: int
    guild_id: int | None
    author_id: int
    content: str = ""
    embeds: list[dict[str, Any]] = field(default_factory=list)
    allowed_mentions: dict[str, Any] | None = None
    message_reference: dict[str, Any] | None = None
    attachments: list[Attachment] = field(default_factory=list)
    components: list[dict[str, Any]] = field(default_factory=list)  # action rows, as sent
    flags: int = 0
    edits: int = 0
    deleted: bool = False
    thread_id: int | None = None  # thread started on this message
    interaction_id: int | None = None  # set for interaction responses/follow-ups
    interaction_type: int | None = None
    interaction_user_id: int | None = None  # who may see it when ephemeral, and press its buttons
    webhook_id: int | None = None
    timestamp: str = field(default_factory=iso_now)
    edited_timestamp: str | None = None
    created: float = 0.0  # clock time: messages older than an hour have their own edit limit
    # Who the message actually notifies, as Discord resolves its mentions (mentions.py).
    mention_users: list[int] = field(default_factory=list)
    mention_roles: list[int] = field(default_factory=list)
    mention_everyone: bool = False

    def observed(self) -> dict[str, Any]:
        """The record tests see (GET /_fake/messages)."""
        return {
            "id": str(self.id),
            "channel_id": str(self.channel_id),
            "content": self.content,
            "embeds": self.embeds,
            "allowed_mentions": self.allowed_mentions,
            "message_reference": self.message_reference,
            "attachments": [a.observed() for a in self.attachments],
            "components": self.components,
            "flags": self.flags,
            "edited": self.edits,
            "deleted": self.deleted,
            "thread_id": None if self.thread_id is None else str(self.thread_id),
            "interaction_id": None if self.interaction_id is None else str(self.interaction_id),
            "author_id": str(self.author_id),
            "mention_roles": [str(r) for r in self.mention_roles],
            "mention_users": [str(u) for u in self.mention_users],
            "mention_everyone": self.mention_everyone,
        }


# Interaction types (discord-api-docs receiving-and-responding.mdx, "Interaction Type").
APPLICATION_COMMAND, MESSAGE_COMPONENT, AUTOCOMPLETE, MODAL_SUBMIT = 2, 3, 4, 5


@dataclass
class InteractionRecord:
    """One INTERACTION_CREATE the fake sent and what the bot answered."""

    id: int
    token: str
    payload: dict[str, Any]
    created: float = field(default_factory=time.monotonic)
    type: int = APPLICATION_COMMAND
    user_id: int = 0
    # Each callback: {"type": int, "data": {...}}; Discord accepts only one.
    callbacks: list[dict[str, Any]] = field(default_factory=list)
    original_message_id: int | None = None
    followup_ids: list[int] = field(default_factory=list)
    # A component interaction (or a modal opened from one): the message it came from.
    message_id: int | None = None
    # What the bot answered beyond a message: autocomplete choices, a modal.
    choices: list[dict[str, Any]] | None = None
    modal: dict[str, Any] | None = None
    # Set by a follow-up or an edit of @original: what a deferred answer waits for.
    followed_up: bool = False

    @property
    def acknowledged(self) -> bool:
        return bool(self.callbacks)

    @property
    def response_type(self) -> int | None:
        return self.callbacks[0]["type"] if self.callbacks else None

    @property
    def answered(self) -> bool:
        """Acknowledged, and past a deferral (5 or 6) once the real answer came."""
        return self.acknowledged and (self.response_type not in (5, 6) or self.followed_up)


@dataclass
class RequestRecord:
    method: str
    path: str
    route: str  # template, e.g. "POST /channels/{channel_id}/messages"
    status: int
    time: float
    body: Any = None
    auth: str | None = None  # the Authorization header: which bot (process) made the call

    def observed(self) -> dict[str, Any]:
        return {"method": self.method, "path": self.path, "route": self.route, "status": self.status, "time": self.time,
                "auth": self.auth}


class FakeState:
    """Everything the fake knows; `wait_for` wakes on every `changed()`."""

    def __init__(
        self, *, guild_id: int, guild_name: str, bot_id: int, application_id: int, clock: FakeClock | None = None
    ) -> None:
        self.clock = clock or FakeClock()
        self.snowflakes = Snowflakes(self.clock)
        self.guild_id = guild_id
        self.guild_name = guild_name
        # Guilds besides the first: id -> name. They share the first's roles and
        # permissions; their channels carry their guild_id (`add_channel`).
        self.more_guilds: dict[int, str] = {}
        self.bot_id = bot_id
        self.application_id = application_id
        self.channels: dict[int, Channel] = {}
        self.deleted_channels: dict[int, Channel] = {}
        self.everyone_permissions = DEFAULT_BOT_PERMISSIONS  # the @everyone role: the bot's base
        self.roles: dict[int, Role] = {}  # besides @everyone
        self.max_active_threads = MAX_ACTIVE_THREADS
        self.messages: list[Message] = []
        self.messages_by_id: dict[int, Message] = {}
        self.interactions: dict[int, InteractionRecord] = {}
        self.requests: list[RequestRecord] = []
        self.global_commands: list[dict[str, Any]] = []
        self.guild_commands: dict[int, list[dict[str, Any]]] = {}
        self.gateway_events: list[tuple[str, dict[str, Any]]] = []  # every dispatch (t, d)
        self.gateway_connects: list[dict[str, Any]] = []  # {"path", "kind": identify|resume|...}
        self.gateway_closes: list[int] = []  # close codes the fake itself sent for a broken rule
        self.invalid_requests = 0  # 401/403/429 answers, as Discord counts them
        self._waiters: set[asyncio.Event] = set()

    # -- change notification -------------------------------------------------
    def changed(self) -> None:
        """Wake every waiter; synchronous so any handler can call it."""
        for event in self._waiters:
            event.set()

    async def wait_for(self, predicate: Callable[[FakeState], Any], timeout: float = 10.0) -> Any:
        """Wait until predicate(state) is truthy (re-checked on every change); return its value."""
        event = asyncio.Event()
        self._waiters.add(event)
        try:
            async with asyncio.timeout(timeout):
                while True:
                    event.clear()  # before the check, so no change is missed
                    value = predicate(self)
                    if value:
                        return value
                    await event.wait()
        finally:
            self._waiters.discard(event)

    # -- lookups ---------------------------------------------------------------
    def guild_ids(self) -> list[int]:
        return [self.guild_id, *self.more_guilds]

    def guild_name_of(self, guild_id: int) -> str:
        return self.guild_name if guild_id == self.guild_id else self.more_guilds[guild_id]

    def add_channel(self, name: str, channel_id: int | None = None, *, guild_id: int | None = None, **kw: Any) -> Channel:
        cid = channel_id or self.snowflakes.next()
        guild = self.guild_id if guild_id is None else guild_id
        position = sum(1 for c in self.channels.values() if not c.is_thread and c.guild_id == guild)
        channel = Channel(id=cid, guild_id=guild, name=name, position=position, **kw)
        self.channels[cid] = channel
        return channel

    def text_channels(self, guild_id: int | None = None) -> list[Channel]:
        return [c for c in self.channels.values() if not c.is_thread and guild_id in (None, c.guild_id)]

    def threads(self, guild_id: int | None = None) -> list[Channel]:
        return [c for c in self.channels.values() if c.is_thread and guild_id in (None, c.guild_id)]

    def active_threads(self) -> int:
        return sum(1 for c in self.channels.values() if c.is_thread and not c.archived)

    def all_threads(self) -> list[Channel]:
        """Threads ever created, deleted ones included, in creation order."""
        found = [c for c in self.channels.values() if c.is_thread]
        found += [c for c in self.deleted_channels.values() if c.is_thread]
        return sorted(found, key=lambda c: c.id)

    def channel_messages(self, channel_id: int) -> list[Message]:
        return [m for m in self.messages if m.channel_id == channel_id and not m.deleted]

    def observed_messages(self) -> list[dict[str, Any]]:
        return [m.observed() for m in self.messages]

    def observed_threads(self) -> list[dict[str, Any]]:
        return [
            {
                "id": str(t.id),
                "parent_id": str(t.parent_id),
                "message_id": None if t.starter_message_id is None else str(t.starter_message_id),
                "name": t.name,
                "archived": t.archived,
                "locked": t.locked,
                "auto_archive_duration": t.auto_archive_duration,
                "deleted": t.id in self.deleted_channels,
            }
            for t in self.all_threads()
        ]
