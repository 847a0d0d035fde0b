"""The Discord `Sink`: posts, edits and threads through discord.py's HTTP client.

discord.py already waits out 429s per bucket (and retries 500/502/504 a few
times); this layer only translates what is left into the worker's error
kinds: transient (retry later, in order), forbidden (a 403: parked until
permissions change) or permanent (record and report).
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import aiohttp
import discord

from bot.notify.models import Embed, Post
from bot.notify.sink import ChannelGone, Forbidden, PermanentError, TransientError

T = TypeVar("T")

THREAD_ALREADY_EXISTS = 160004
UNKNOWN_CHANNEL = 10003
UNKNOWN_MESSAGE = 10008
MISSING_PERMISSIONS = 50013
ARCHIVE_DURATIONS = (60, 1440, 4320, 10080)
# How far back `find_own` reads a channel (100 messages a page): the send it
# looks for was the channel's last one of ours, so it is among the newest.
FIND_PAGES = 2


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


def _footer(message: Any) -> str | None:
    """The first embed's footer text of a raw message payload."""
    embeds = message.get("embeds") or []
    footer = (embeds[0].get("footer") or {}) if embeds else {}
    text = footer.get("text")
    return text if isinstance(text, str) else None


async def _call(what: str, fn: Callable[[], Awaitable[T]]) -> T:
    try:
        return await fn()
    except discord.Forbidden as err:
        raise Forbidden(err.code, f"{what}: {err.text}") from err
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

    def _check_embeds(self, channel_id: int, post: Post) -> None:
        """Refuse, as a 403 that parks the channel, a post whose embeds Discord
        would drop: without Embed Links it posts the content alone (an alert
        without its card) and refuses embeds alone. Known only from the gateway
        cache; where the channel is not cached yet, Discord decides."""
        channel = self.client.get_channel(channel_id)
        guild = getattr(channel, "guild", None)
        if not post.embeds or channel is None or guild is None or guild.me is None:
            return
        perms = channel.permissions_for(guild.me)  # type: ignore[union-attr]
        # Without Send Messages discord.py clears embed_links too (Discord's
        # implicit denial): that refusal is Discord's to give, with its own code.
        if perms.send_messages and not perms.embed_links:
            raise Forbidden(MISSING_PERMISSIONS, f"post in {channel_id}: Missing Permissions (Embed Links)")

    async def send(self, channel_id: int, post: Post, *, nonce: str, reply_to: int | None = None) -> int:
        self._check_embeds(channel_id, post)
        channel = self.client.get_partial_messageable(channel_id)

        def sending(reference: discord.MessageReference | None) -> Awaitable[discord.Message]:
            return channel.send(
                post.content or None,
                embeds=[to_discord_embed(e) for e in post.embeds],
                allowed_mentions=allowed_mentions(post),
                nonce=nonce,
                reference=reference,  # type: ignore[arg-type]
            )

        if reply_to is None:
            return (await _call(f"send to {channel_id}", lambda: sending(None))).id
        # The card may be gone: the reply then stands alone rather than failing.
        ref = discord.MessageReference(message_id=reply_to, channel_id=channel_id, fail_if_not_exists=False)
        try:
            msg = await _call(f"reply in {channel_id}", lambda: sending(ref))
        except Forbidden as err:
            if err.no_access:
                raise
            # A reply needs READ_MESSAGE_HISTORY beyond posting: post it plainly instead.
            msg = await _call(f"send to {channel_id}", lambda: sending(None))
        return msg.id

    async def find_own(self, channel_id: int, footer: str) -> int | None:
        me = self.client.user.id if self.client.user is not None else self.client.application_id
        before: int | None = None
        for _ in range(FIND_PAGES):
            page = await _call(
                f"history of {channel_id}",
                functools.partial(self.client.http.logs_from, channel_id, 100, before=before),
            )
            for m in page:
                if int(m["author"]["id"]) == me and _footer(m) == footer:
                    return int(m["id"])
            if len(page) < 100:
                return None
            before = int(page[-1]["id"])
        return None

    async def edit(self, channel_id: int, message_id: int, post: Post) -> None:
        self._check_embeds(channel_id, post)
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
        # An archived thread can be edited only by unarchiving it in the same
        # request (Modify Channel: "Requires the thread to have archived set to
        # false or be set to false in the request"); a series whose cover comes
        # late is active again, so reopening its thread is right anyway.
        await _call(
            f"rename thread {thread_id}",
            lambda: self.client.http.edit_channel(thread_id, name=name, archived=False),
        )

    async def delete_message(self, channel_id: int, message_id: int) -> bool:
        # Our own message: Delete Message needs no Manage Messages for it
        # (message.mdx). 10008: deleted already (a retry, or a moderator).
        message = self.client.get_partial_messageable(channel_id).get_partial_message(message_id)
        try:
            await _call(f"delete {channel_id}/{message_id}", message.delete)
        except ChannelGone:
            raise
        except PermanentError as err:
            if err.code == UNKNOWN_MESSAGE:
                return False
            raise
        return True

    async def delete_thread(self, thread_id: int) -> bool:
        # Delete/Close Channel on a thread needs Manage Threads (channel.mdx);
        # 10003 here is the thread, not the channel, and means it is gone already.
        try:
            await _call(f"delete thread {thread_id}", lambda: self.client.http.delete_channel(thread_id))
        except ChannelGone:
            return False
        return True

    async def archive_thread(self, thread_id: int) -> None:
        # The thread's creator may set `archived` without Manage Threads (threads.mdx).
        await _call(f"archive thread {thread_id}", lambda: self.client.http.edit_channel(thread_id, archived=True))

    def message_url(self, guild_id: int | None, channel_id: int, message_id: int) -> str | None:
        if not guild_id:
            guild = getattr(self.client.get_channel(channel_id), "guild", None)
            guild_id = guild.id if guild is not None else None
        if not guild_id:
            return None
        return f"https://discord.com/channels/{guild_id}/{channel_id}/{message_id}"
