"""What several cogs share: list answers, per-user limits, links to posted cards."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

import discord

from bot.discord.options import UsageError
from bot.discord.ratelimit import UserLimits
from bot.notify.models import Post
from bot.store import Store
from bot.store import queries

Clock = Callable[[], datetime]


@dataclass
class ListSource:
    """Pages of a list read once (the stable queue, fixes): `render(n)` draws page n."""

    command: str
    count: int
    per_page: int
    render: Callable[[int], Post]

    async def page(self, number: int) -> tuple[Post, bool]:
        return self.render(number), (number + 1) * self.per_page < self.count


def check_limit(limits: UserLimits, command: str, interaction: discord.Interaction) -> None:
    wait = limits.hit(command, interaction.user.id)
    if wait:
        raise UsageError(
            f"{command} is limited to {limits.rate} uses per {limits.per:.0f} s for each person; "
            f"try again in {max(int(wait + 0.999), 1)} s."
        )


def guild_of(interaction: discord.Interaction) -> discord.Guild:
    if interaction.guild is None:
        raise UsageError("This command works in a server's channels, not in direct messages.")
    return interaction.guild


def card_url(guild_id: int, channel_id: int, message_id: int) -> str:
    return f"https://discord.com/channels/{guild_id}/{channel_id}/{message_id}"


async def posted_cards(store: Store, guild: discord.Guild, series_ids: list[int]) -> dict[int, list[str]]:
    """Links to the cards these series have in this guild's channels (no other guild's)."""
    channel_ids = [c.id for c in guild.channels]
    out: dict[int, list[str]] = {}
    for post in await queries.posts_of(store, series_ids, channel_ids):
        if post.card_message_id is not None:
            out.setdefault(post.series_id, []).append(card_url(guild.id, post.channel_id, post.card_message_id))
    return out
