"""The discord.py client: guilds intent only, no mentions by default, our API location.

The bot needs no privileged intents: it posts over REST and listens to the
gateway only for guild and channel changes (a deleted channel disables its
subscriptions) and slash commands (the cogs).
"""

from __future__ import annotations

import logging

import discord
import discord.gateway
import discord.http
import yarl
from discord.ext import commands

from bot.config import DiscordSettings
from bot.notify.delivery.status import DeliveryStatus
from bot.notify.sink import DeletedChannels, PermissionChanges

log = logging.getLogger(__name__)

COGS = ("bot.discord.cogs.status", "bot.discord.cogs.permissions")


def point_at(settings: DiscordSettings) -> None:
    """Send discord.py's REST calls and first gateway connection where the settings say."""
    discord.http.Route.BASE = settings.api_base_url.rstrip("/")
    discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(settings.gateway_url)


def intents() -> discord.Intents:
    wanted = discord.Intents.none()
    wanted.guilds = True
    return wanted


class PatchBot(commands.Bot):
    """commands.Bot for the cogs: reports deleted channels to the delivery
    worker, and answers `/kvm status` from the delivery status."""

    def __init__(
        self,
        settings: DiscordSettings,
        *,
        deleted: DeletedChannels | None = None,
        status: DeliveryStatus | None = None,
        permission_changes: PermissionChanges | None = None,
        **kwargs: object,
    ) -> None:
        super().__init__(
            command_prefix=commands.when_mentioned,
            intents=intents(),
            allowed_mentions=discord.AllowedMentions.none(),
            help_command=None,
            **kwargs,  # type: ignore[arg-type]
        )
        self.settings = settings
        self.deleted_channels = deleted
        self.delivery_status = status
        self.permission_changes = permission_changes

    async def setup_hook(self) -> None:
        for name in COGS:
            await self.load_extension(name)
        for guild_id in self.settings.guild_ids:
            guild = discord.Object(id=guild_id)
            self.tree.copy_global_to(guild=guild)
            try:
                await self.tree.sync(guild=guild)
            except discord.HTTPException as exc:
                # A wrong id, or a guild the bot is not in: that guild lacks the
                # commands, everything else (delivery included) carries on.
                log.error("discord.guild_ids: cannot register slash commands in guild %s (%s %s): "
                          "is the id right and the bot in that server?", guild_id, exc.status, exc.text)

    async def on_guild_channel_delete(self, channel: discord.abc.GuildChannel) -> None:
        if self.deleted_channels is not None:
            self.deleted_channels.report(channel.id)


def make_client(settings: DiscordSettings, **kwargs: object) -> PatchBot:
    point_at(settings)
    return PatchBot(settings, **kwargs)  # type: ignore[arg-type]
