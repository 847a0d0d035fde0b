"""Gateway events that may change what the bot may do in a channel.

A channel's overwrites (CHANNEL_UPDATE), a role's permissions (GUILD_ROLE_*)
or the bot's own roles (GUILD_MEMBER_UPDATE, sent for the bot even without
the members intent) are reported to the delivery worker, which retries what
it parked after a 403 and tries threads again.
"""

from __future__ import annotations

import discord
from discord.ext import commands

from bot.notify.sink import PermissionChanges


class PermissionWatch(commands.Cog):
    def __init__(self, bot: commands.Bot, changes: PermissionChanges) -> None:
        self.bot = bot
        self.changes = changes

    @commands.Cog.listener()
    async def on_guild_channel_update(self, before: discord.abc.GuildChannel, after: discord.abc.GuildChannel) -> None:
        self.changes.report(after.id)

    @commands.Cog.listener()
    async def on_guild_role_update(self, before: discord.Role, after: discord.Role) -> None:
        self.changes.report(None)

    @commands.Cog.listener()
    async def on_guild_role_create(self, role: discord.Role) -> None:
        self.changes.report(None)

    @commands.Cog.listener()
    async def on_member_update(self, before: discord.Member, after: discord.Member) -> None:
        if self.bot.user is not None and after.id == self.bot.user.id:
            self.changes.report(None)

    @commands.Cog.listener()
    async def on_guild_join(self, guild: discord.Guild) -> None:
        self.changes.report(None)

