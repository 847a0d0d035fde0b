"""`/kvm status`: is the bot alive, and how far behind is delivery."""

from __future__ import annotations

import discord
from discord import app_commands
from discord.ext import commands

from bot.discord.client import PatchBot


class Status(commands.Cog):
    kvm = app_commands.Group(name="kvm", description="kvm-patchbot")

    def __init__(self, bot: PatchBot) -> None:
        self.bot = bot

    @kvm.command(name="status", description="Delivery status of kvm-patchbot")
    async def status(self, interaction: discord.Interaction) -> None:
        # The store may be slow: acknowledge within Discord's 3 s, answer after.
        await interaction.response.defer(ephemeral=True, thinking=True)
        text = "kvm-patchbot is running"
        status = self.bot.delivery_status
        if status is not None:
            text = await status.summary()
        await interaction.followup.send(text, ephemeral=True)


async def setup(bot: commands.Bot) -> None:
    if not isinstance(bot, PatchBot):
        raise TypeError(f"the status cog needs a PatchBot, not {type(bot).__name__}")
    await bot.add_cog(Status(bot))
