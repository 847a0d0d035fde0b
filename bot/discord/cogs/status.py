"""`/kvm status`: is the bot alive, and how far behind is delivery."""

from __future__ import annotations

import discord
from discord import app_commands
from discord.ext import commands

from bot.config import CommandSettings
from bot.discord import answers
from bot.discord.answers import Answer
from bot.notify.models import Post
from bot.notify.delivery.status import DeliveryStatus


@app_commands.guild_only()
class Status(commands.GroupCog, group_name="kvm", group_description="kvm-patchbot itself"):
    def __init__(self, status: DeliveryStatus, settings: CommandSettings) -> None:
        self.delivery = status
        self.settings = settings
        super().__init__()

    @app_commands.command(name="status", description="Is kvm-patchbot running, and how far behind is delivery")
    async def status(self, interaction: discord.Interaction) -> None:
        async def work() -> Answer:
            return Answer(Post(content=await self.delivery.summary()), ephemeral=True)

        # Always deferred: the counts read the whole deliveries table, which a
        # slow or busy store can hold up past Discord's 3 seconds.
        await answers.respond(interaction, work(), ephemeral=True, defer_after=0)
