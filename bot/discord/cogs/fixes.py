"""`/fixes commit:<sha>`: the patches whose Fixes: tag names a commit, with their state."""

from __future__ import annotations

import discord
from discord import app_commands
from discord.ext import commands

from bot.config import CommandSettings
from bot.discord import answers, options
from bot.discord.answers import Answer
from bot.discord.cogs.common import ListSource
from bot.discord.pager import Pager
from bot.notify import pages
from bot.store import Store
from bot.store import queries


class Fixes(commands.Cog):
    def __init__(self, store: Store, pager: Pager, settings: CommandSettings) -> None:
        self.store = store
        self.pager = pager
        self.settings = settings

    @app_commands.command(name="fixes", description="Patches that say they fix a commit (Fixes: tags)")
    @app_commands.guild_only()
    @app_commands.describe(commit="The commit id, 7 to 40 hex digits: 1b03d82ba15e")
    async def fixes(self, interaction: discord.Interaction, commit: app_commands.Range[str, 7, 40]) -> None:
        async def work() -> Answer:
            sha = options.commit(commit)
            entries = await queries.fixes_of(self.store, sha)
            source = ListSource("/fixes", len(entries), pages.PER_PAGE, lambda n: pages.fixes_page(sha, entries, n))
            return await self.pager.first(interaction.user.id, source)

        await answers.respond(interaction, work(), ephemeral=False, defer_after=self.settings.defer_after_seconds)
