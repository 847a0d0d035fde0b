"""A running PatchBot (real discord.py) against the fake Discord, for the slash-command tests."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from bot.config import Settings
from bot.digest.source import StoreDigest
from bot.discord.client import PatchBot, make_client
from bot.store import Store
from tests.fakediscord import FakeDiscord, InteractionRecord, Message, running

GUILD = 5000
HERE, ELSEWHERE = 5101, 5102
OTHER_GUILD = 6000
MEMBER = 7001  # the fake's default user is bot_id + 2; tests name theirs
OTHER_MEMBER = 7002
ROLE = 5555
NOW = datetime(2025, 3, 20, 12, 0, tzinfo=timezone.utc)  # five days after the seed mails
MANAGE_CHANNELS = 1 << 4
EPHEMERAL = 1 << 6


@dataclass
class Running:
    fake: FakeDiscord
    bot: PatchBot
    store: Store

    def run(self, name: str, options: list[dict[str, Any]] | None = None, **kw: Any) -> InteractionRecord:
        kw.setdefault("user_id", MEMBER)
        kw.setdefault("channel_id", HERE)
        return self.fake.interact(name, options, **kw)

    async def ask(self, name: str, options: list[dict[str, Any]] | None = None, **kw: Any) -> Message:
        """Run a command and return the message that answers it (after a deferral, the real answer)."""
        record = await self.fake.answered(self.run(name, options, **kw))
        return answer(self.fake, record)


def answer(fake: FakeDiscord, record: InteractionRecord) -> Message:
    assert record.original_message_id is not None, record.callbacks
    return fake.state.messages_by_id[record.original_message_id]


def text(msg: Message) -> str:
    """Everything an answer shows, embeds included."""
    parts = [msg.content]
    for e in msg.embeds:
        parts += [e.get("title") or "", e.get("description") or "", (e.get("footer") or {}).get("text", "")]
        parts += [f"{f['name']}: {f['value']}" for f in e.get("fields") or []]
    return "\n".join(p for p in parts if p)


def opt(name: str, value: Any, kind: int = 3, **extra: Any) -> dict[str, Any]:
    return {"type": kind, "name": name, "value": value, **extra}


def sub(name: str, *options: dict[str, Any]) -> list[dict[str, Any]]:
    return [{"type": 1, "name": name, "options": list(options)}]


def buttons(msg: Message) -> dict[str, dict[str, Any]]:
    return {c["label"]: c for row in msg.components for c in row["components"]}


@asynccontextmanager
async def bot_on(fake: FakeDiscord, store: Store, *, commands: dict[str, Any] | None = None) -> AsyncIterator[Running]:
    """A PatchBot logged in to `fake` (several in turn make a restart)."""
    settings = Settings(
        discord={"token": "t", "api_base_url": fake.api_base_url, "gateway_url": fake.gateway_url,
                 "guild_ids": [GUILD]},
        commands=commands or {},
    )
    bot = make_client(settings, store, digest=StoreDigest(store), clock=lambda: NOW, guild_ready_timeout=0.05)
    async with running(fake, bot, "t"):
        yield Running(fake, bot, store)


def fake_discord(**options: Any) -> FakeDiscord:
    return FakeDiscord(guild_id=GUILD, channels=[(HERE, "patches"), (ELSEWHERE, "stable")], **options)


@asynccontextmanager
async def bot_running(
    store: Store, *, commands: dict[str, Any] | None = None, **fake_options: Any
) -> AsyncIterator[Running]:
    async with fake_discord(**fake_options) as fake, bot_on(fake, store, commands=commands) as on:
        yield on
