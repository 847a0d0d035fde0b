"""The Discord `Sink`: posts, edits and threads through discord.py's HTTP client.

discord.py already waits out 429s per bucket (and retries 500/502/504 a few
times); this layer only translates what is left into the worker's error
kinds: transient (retry later, in order) or permanent (record and report).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

import aiohttp
import discord

from bot.notify.models import Embed, Post
from bot.notify.sink import ChannelGone, PermanentError, TransientError

T = TypeVar("T")

THREAD_ALREADY_EXISTS = 160004
UNKNOWN_CHANNEL = 10003
ARCHIVE_DURATIONS = (60, 1440, 4320, 10080)


def to_discord_embed(e: Embed) -> discord.Embed:
    out = discord.Embed(title=e.title, url=e.url, description=e.description, color=e.color)
    if e.author:
        out.set_author(name=e.author)
    for f in e.fields:
        out.add_field(name=f.name, value=f.value, inline=f.inline)
    if e.footer:
        out.set_footer(text=e.footer)
    return out


def allowed_mentions(post: Post) -> discord.AllowedMentions:
    """Nothing pings, except the roles a stable alert names."""
    if not post.mention_role_ids:
        return discord.AllowedMentions.none()
    return discord.AllowedMentions(
        everyone=False,
        users=False,
        replied_user=False,
        roles=[discord.Object(id=r) for r in post.mention_role_ids],
    )


async def _call(what: str, fn: Callable[[], Awaitable[T]]) -> T:
    try:
        return await fn()
    except discord.NotFound as err:
        if err.code == UNKNOWN_CHANNEL:
            raise ChannelGone(err.code, f"{what}: {err.text}") from err
        raise PermanentError(err.code, f"{what}: {err.text}") from err
    except discord.DiscordServerError as err:
        raise TransientError(f"{what}: Discord {err.status}") from err
    except discord.HTTPException as err:
        # 401: the token stopped working; that is no fault of this message, so keep it queued.
        if err.status in (401, 429) or err.status >= 500:
            raise TransientError(f"{what}: Discord {err.status} {err.text}") from err
        raise PermanentError(err.code, f"{what}: {err.status} {err.text}") from err
    except (aiohttp.ClientError, OSError, asyncio.TimeoutError) as err:
        raise TransientError(f"{what}: {type(err).__name__}: {err}") from err


class DiscordSink:
    def __init__(self, client: discord.Client, *, thread_archive_minutes: int = 1440) -> None:
        self.client = client
        self.archive = thread_archive_minutes if thread_archive_minutes in ARCHIVE_DURATIONS else 1440

    async def send(self, channel_id: int, post: Post, *, nonce: str) -> int:
        channel = self.client.get_partial_messageable(channel_id)
        msg = await _call(
            f"send to {channel_id}",
            lambda: channel.send(
                post.content or None,
                embeds=[to_discord_embed(e) for e in post.embeds],
                allowed_mentions=allowed_mentions(post),
                nonce=nonce,
            ),
        )
        return msg.id

    async def edit(self, channel_id: int, message_id: int, post: Post) -> None:
        message = self.client.get_partial_messageable(channel_id).get_partial_message(message_id)
        await _call(
            f"edit {channel_id}/{message_id}",
            lambda: message.edit(
                content=post.content or None,
                embeds=[to_discord_embed(e) for e in post.embeds],
                allowed_mentions=allowed_mentions(post),
            ),
        )

    async def start_thread(self, channel_id: int, message_id: int, name: str) -> int:
        try:
            data = await _call(
                f"thread on {channel_id}/{message_id}",
                lambda: self.client.http.start_thread_with_message(
                    channel_id, message_id, name=name, auto_archive_duration=self.archive  # type: ignore[arg-type]
                ),
            )
        except PermanentError as err:
            if err.code == THREAD_ALREADY_EXISTS:
                # A retried create: the thread exists, and its id is the starter message's.
                return message_id
            raise
        return int(data["id"])

    async def rename_thread(self, thread_id: int, name: str) -> None:
        await _call(f"rename thread {thread_id}", lambda: self.client.http.edit_channel(thread_id, name=name))

    def message_url(self, guild_id: int | None, channel_id: int, message_id: int) -> str | None:
        if not guild_id:
            guild = getattr(self.client.get_channel(channel_id), "guild", None)
            guild_id = guild.id if guild is not None else None
        if not guild_id:
            return None
        return f"https://discord.com/channels/{guild_id}/{channel_id}/{message_id}"
