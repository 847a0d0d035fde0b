"""`/stable pending [days]`: patches that asked for stable and are not applied yet, oldest first."""

from __future__ import annotations

from datetime import timedelta

import discord
from discord import app_commands
from discord.ext import commands

from bot.config import CommandSettings
from bot.discord import answers
from bot.discord.answers import Answer
from bot.discord.cogs.common import Clock, ListSource
from bot.discord.pager import Pager
from bot.notify import pages
from bot.store import Store
from bot.store import queries


@app_commands.guild_only()
class Stable(commands.GroupCog, group_name="stable", group_description="The stable backport queue"):
    def __init__(self, store: Store, pager: Pager, settings: CommandSettings, *, clock: Clock) -> None:
        self.store = store
        self.pager = pager
        self.settings = settings
        self.clock = clock
        super().__init__()

    @app_commands.command(name="pending", description="Patches asking for stable, not applied yet, oldest first")
    @app_commands.describe(days="How far back, in days (default 30)")
    async def pending(self, interaction: discord.Interaction, days: app_commands.Range[int, 1, 365] = 30) -> None:
        async def work() -> Answer:
            entries = await queries.stable_pending(self.store, self.clock() - timedelta(days=days))
            source = ListSource("/stable pending", len(entries), pages.PER_PAGE,
                                lambda n: pages.stable_page(entries, days, n))
            return await self.pager.first(interaction.user.id, source)

        await answers.respond(interaction, work(), ephemeral=False, defer_after=self.settings.defer_after_seconds)
